"""The Telegram channel: python-telegram-bot in long polling or webhook mode, and its commands."""

from bot.telegram.cli import register

__all__ = ["register"]
