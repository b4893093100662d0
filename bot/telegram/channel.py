"""Telegram ↔ dialog engine: updates become `Inbound`s, `Outcome`s become Bot API calls.

Nothing here knows the dialog: the engine decides, this module only translates. Private chats
reach the engine; in groups the bot only points to a private chat, so no credential is ever
asked for where other people can read it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.telegram import metrics
from conversations.engine import Button, Inbound, InboundKind, Outcome, Reply
from conversations.i18n import N_, normalise_language, translator
from conversations.request_ids import bound_request_id

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
CHAT_KEY_PREFIX = f"{CHANNEL_NAME}:"
ALLOWED_UPDATES = ("message", "callback_query")  # what process() handles; given to Telegram
NOT_MODIFIED = "message is not modified"
CALLBACK_ANSWER_LIMIT = 200  # characters of answerCallbackQuery's text
PRIVATE_CHAT_POINTER = N_(
    "To protect your personal data, I only help in a private chat. "
    "Open a private conversation with me: https://t.me/{username}"
)
SECRET_DELETED = N_("🔒 I deleted your message so that your password does not stay in this chat.")

Result = TypeVar("Result")


class Dialog(Protocol):
    """What the channel needs from conversations.engine.DialogEngine."""

    async def handle(self, inbound: Inbound) -> Outcome: ...


class DeliveryFailed(Exception):
    """A Bot API call still failed after every attempt: the update should be delivered again."""


def chat_key(chat_id: int) -> str:
    """The engine's identity of a Telegram chat."""
    return f"{CHAT_KEY_PREFIX}{chat_id}"


def inbound_from_update(update: Update) -> Inbound | None:
    """The engine's view of a private-chat update, or None for what the bot does not handle."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return None
    language = user.language_code if user is not None else None

    def inbound(kind: InboundKind, **fields: str) -> Inbound:
        return Inbound(chat_key=chat_key(chat.id), kind=kind, language=language, update_id=update.update_id, **fields)

    if update.callback_query is not None:
        return inbound("button", button=update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    command = _command_of(message)
    if command is not None:
        name, argument = command
        return inbound("command", command=name, text=argument)
    if message.text is not None:
        return inbound("text", text=message.text)
    return inbound("unsupported")


def _command_of(message: Message) -> tuple[str, str] | None:
    """(name, argument) of a message that starts with a bot command ("/start@bot payload")."""
    if not _starts_with_command(message):
        return None
    head, _, argument = (message.text or "").partition(" ")
    name = head.removeprefix("/").split("@", 1)[0].lower()
    return name, argument.strip()


def _starts_with_command(message: Message) -> bool:
    return any(entity.type == "bot_command" and entity.offset == 0 for entity in message.entities)


def _command_for(message: Message, username: str) -> bool:
    """A command for this bot: "/start", or "/start@<this bot>" in a group with several bots."""
    if not _starts_with_command(message):
        return False
    head = (message.text or "").split(maxsplit=1)[0]
    _, at, addressee = head.partition("@")
    return not at or addressee.lower() == username.lower()


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` in chunks of at most `limit` characters, cut at a paragraph, line or word end."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cuts = (window.rfind(separator) for separator in ("\n\n", "\n", " "))
        cut = next((position for position in cuts if position > limit // 2), limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def keyboard(buttons: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard whose callback_data are the engine's opaque button data."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])


def user_translator(update: Update) -> Callable[[str], str]:
    """gettext in the language of the user's Telegram client (French when unknown)."""
    user = update.effective_user
    return translator(normalise_language(user.language_code if user else None))


def _with_deletion_note(replies: tuple[Reply, ...], update: Update) -> tuple[Reply, ...]:
    """The replies, the first one opening with a note that the secret message was deleted."""
    note = user_translator(update)(SECRET_DELETED)
    if not replies:
        return (Reply(note),)
    first, *others = replies
    return (dataclasses.replace(first, text=f"{note}\n\n{first.text}"), *others)


class TelegramChannel:
    """Applies one Telegram update: asks the engine, then renders the outcome on Telegram."""

    def __init__(self, engine: Dialog, *, send_attempts: int = 3, retry_delay_seconds: float = 0.5) -> None:
        self._engine = engine
        self._send_attempts = send_attempts
        self._retry_delay_seconds = retry_delay_seconds

    async def process(self, update: Update, bot: Bot) -> None:
        """Handle one update under its own request id; raises DeliveryFailed when Telegram could not be reached."""
        with bound_request_id("tg", update.update_id, update_id=update.update_id):
            started = time.perf_counter()
            try:
                outcome = await self._applied(update, bot)
            except Exception as error:
                metrics.UPDATE_ERRORS.labels(error=type(error).__name__).inc()
                raise
            metrics.update_handled(outcome, time.perf_counter() - started)

    async def _applied(self, update: Update, bot: Bot) -> Outcome | None:
        """The dialog's outcome once rendered; None when no dialog saw the update (a group, nothing to read)."""
        chat = update.effective_chat
        if chat is None:
            return None
        if chat.type != Chat.PRIVATE:
            await self._point_to_private_chat(update, bot)
            return None
        inbound = inbound_from_update(update)
        if inbound is None:
            return None
        outcome = await self._engine.handle(inbound)
        try:
            await self._render(update, chat.id, outcome, bot)
        except Forbidden:
            logger.info("Chat %s blocked the bot: replies dropped", chat.id)
        return outcome

    async def send_outcome(self, bot: Bot, key: str, outcome: Outcome) -> None:
        """Show in a chat what the helpdesk sent (the deliveries poller); raises DeliveryFailed to try again later.

        A chat that blocked the bot, or that Telegram no longer knows, drops it: trying again would not help.
        """
        chat_id = int(key.removeprefix(CHAT_KEY_PREFIX))
        try:
            for reply in outcome.replies:
                await self._send(bot, chat_id, reply)
        except (Forbidden, BadRequest) as error:
            logger.info("Helpdesk message not shown in chat %s (%s): dropped", chat_id, type(error).__name__)

    async def _render(self, update: Update, chat_id: int, outcome: Outcome, bot: Bot) -> None:
        """Delete a secret first, answer the button press, then show the replies in order."""
        message, query = update.message, update.callback_query
        replies = outcome.replies
        if outcome.delete_inbound and message is not None and await self._tolerating_stale(message.delete):
            replies = _with_deletion_note(replies, update)
        if query is not None:
            notice = outcome.notice[:CALLBACK_ANSWER_LIMIT] or None
            await self._tolerating_stale(lambda: query.answer(text=notice, show_alert=outcome.notice_alert))
        for reply in replies:
            if reply.edit_previous and await self._edited_in_place(query, reply):
                continue
            await self._send(bot, chat_id, reply)

    async def _edited_in_place(self, query: CallbackQuery | None, reply: Reply) -> bool:
        """Edit the keyboard message the button was pressed on; False if there is none."""
        message = query.message if query is not None else None
        if not isinstance(message, Message) or len(reply.text) > MessageLimit.MAX_TEXT_LENGTH:
            return False
        try:
            await self._with_retries(lambda: message.edit_text(reply.text, reply_markup=keyboard(reply.buttons)))
        except BadRequest as error:
            if NOT_MODIFIED in error.message:
                return True
            logger.info("Cannot edit the message (%s): sending a new one", error.message)
            return False
        return True

    async def _send(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        chunks = split_text(reply.text)
        for position, chunk in enumerate(chunks, start=1):
            markup = keyboard(reply.buttons) if position == len(chunks) else None
            await self._with_retries(functools.partial(bot.send_message, chat_id, chunk, reply_markup=markup))

    async def _point_to_private_chat(self, update: Update, bot: Bot) -> None:
        """In a group: a short pointer to a private chat, for commands and button presses only."""
        pointer = user_translator(update)(PRIVATE_CHAT_POINTER).format(username=bot.username)
        if update.callback_query is not None:
            query = update.callback_query
            await self._tolerating_stale(lambda: query.answer(text=pointer[:200]))
            return
        message = update.message
        if message is not None and _command_for(message, bot.username):
            await self._with_retries(lambda: message.reply_text(pointer))

    async def _tolerating_stale(self, call: Callable[[], Awaitable[object]]) -> bool:
        """Delete / answer calls that may already have happened on a redelivered update."""
        try:
            await self._with_retries(call)
        except BadRequest as error:
            logger.info("Telegram refused a repeated call: %s", error.message)
            return False
        return True

    async def _with_retries(self, call: Callable[[], Awaitable[Result]]) -> Result:
        """Run one Bot API call, again after a network error (not after a refusal)."""
        last_error: NetworkError | None = None
        for attempt in range(1, self._send_attempts + 1):
            if last_error is not None:
                await asyncio.sleep(self._retry_delay_seconds * (attempt - 1))
            try:
                return await call()
            except BadRequest:
                raise
            except NetworkError as error:
                logger.warning("Telegram call failed (%s), attempt %d", error.message, attempt)
                last_error = error
        raise DeliveryFailed(f"Telegram unreachable: {last_error}") from last_error
