"""Channels (Telegram, terminal) and the `rattacher` command line."""
