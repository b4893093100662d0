"""A fake Telegram Bot API server (aiohttp) that tests and the benchmark start on a loopback port.

It serves `/bot<token>/<method>` the way Telegram does. Given a schema (the tests pass the vendored
one, tests/telegram/bot_api_schema.py), it validates every call and records each violation so that a
test fails on any invalid call; without one (the benchmark) it only decodes the parameters. It
keeps what a test needs to look at: chats and their messages (sent, edited, deleted), answered
callback queries, registered commands per language and the webhook settings. Updates the simulated
parents produce are queued for getUpdates (long polling) or POSTed to the webhook
with its secret token, one chat at a time and in order, retried until the bot answers 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from aiohttp import web

BOT_USER_ID = 7_000_000_001
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
JsonDict = dict[str, Any]
# Form-encoded parameters that are not strings (python-telegram-bot JSON-encodes them), for schema-less decoding.
JSON_PARAMETERS = frozenset(
    {
        "chat_id",
        "message_id",
        "reply_markup",
        "commands",
        "allowed_updates",
        "max_connections",
        "drop_pending_updates",
        "offset",
        "limit",
        "timeout",
        "show_alert",
        "cache_time",
        "disable_notification",
        "link_preview_options",
        "entities",
        "scope",
    }
)


class CallSchema(Protocol):
    """What the fake needs from a Bot API schema: decode form parameters, list a call's problems."""

    def decode_form_parameters(self, method: str, raw: Mapping[str, str]) -> dict[str, object]: ...

    def check_call(self, method: str, parameters: Mapping[str, object]) -> list[str]: ...


class LenientSchema:
    """No schema: decode the known non-string parameters as JSON, accept every call."""

    def decode_form_parameters(self, method: str, raw: Mapping[str, str]) -> dict[str, object]:
        """JSON-decode the parameters python-telegram-bot encodes; keep the others as strings."""
        decoded: dict[str, object] = {}
        for name, value in raw.items():
            try:
                decoded[name] = json.loads(value) if name in JSON_PARAMETERS else value
            except ValueError:
                decoded[name] = value
        return decoded

    def check_call(self, method: str, parameters: Mapping[str, object]) -> list[str]:
        """Every call is accepted."""
        return []


class BotApiError(Exception):
    """An error answer of the Bot API: status, description and optional retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


@dataclass
class Message:
    """One message of a chat, from a parent or from the bot."""

    message_id: int
    chat: Chat
    from_bot: bool
    text: str
    reply_markup: JsonDict | None = None
    deleted: bool = False
    edits: list[JsonDict] = field(default_factory=list)
    kind: str = "text"

    @property
    def buttons(self) -> list[JsonDict]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button_data(self, label: str) -> str:
        """The callback_data of the button whose label contains `label`."""
        for button in self.buttons:
            if label in button["text"]:
                return str(button["callback_data"])
        raise LookupError(f"no button {label!r} in {[b['text'] for b in self.buttons]}")

    def as_json(self, bot_user: JsonDict) -> JsonDict:
        body: JsonDict = {
            "message_id": self.message_id,
            "date": int(time.time()),
            "chat": self.chat.as_json(),
            "from": bot_user if self.from_bot else self.chat.user_json(),
        }
        if self.kind == "text":
            body["text"] = self.text
            if self.text.startswith("/"):
                command_length = len(self.text.split(maxsplit=1)[0])
                body["entities"] = [{"type": "bot_command", "offset": 0, "length": command_length}]
        elif self.kind == "sticker":
            body["sticker"] = STICKER
        if self.reply_markup:
            body["reply_markup"] = self.reply_markup
        return body


STICKER: JsonDict = {
    "file_id": "CAACAgIAAxkBAAEBsticker",
    "file_unique_id": "AgADsticker",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}


@dataclass
class Chat:
    """A chat with the bot: a parent's private chat, or a group the bot is in."""

    id: int
    type: str
    user_id: int
    language_code: str | None
    messages: dict[int, Message] = field(default_factory=dict)
    _next_message_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def as_json(self) -> JsonDict:
        if self.type == "private":
            return {"id": self.id, "type": "private", "first_name": "Camille"}
        return {"id": self.id, "type": self.type, "title": "Parents de la 6e B"}

    def user_json(self) -> JsonDict:
        user: JsonDict = {"id": self.user_id, "is_bot": False, "first_name": "Camille"}
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def add_message(self, *, from_bot: bool, text: str, kind: str = "text") -> Message:
        message = Message(next(self._next_message_id), self, from_bot, text, kind=kind)
        self.messages[message.message_id] = message
        return message

    @property
    def bot_messages(self) -> list[Message]:
        return [message for message in self.messages.values() if message.from_bot]

    @property
    def deleted_message_ids(self) -> list[int]:
        return [message.message_id for message in self.messages.values() if message.deleted]


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made, as decoded by the fake."""

    method: str
    parameters: Mapping[str, object]
    at: float


@dataclass(frozen=True)
class InjectedFailure:
    """Make the next call of one method fail: an error answer, or (None) a dropped connection."""

    method: str
    error: BotApiError | None


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int | None


class FakeBotApi:
    """The fake server: start() it, point python-telegram-bot's base_url at `base_url`."""

    def __init__(
        self,
        token: str,
        schema: CallSchema | None = None,
        *,
        webhook_retry_delay: float = 0.05,
        webhook_max_attempts: int = 20,
    ) -> None:
        self.token = token
        self.schema: CallSchema = schema or LenientSchema()
        self.calls: list[ApiCall] = []  # every request, stamped with time.monotonic() on arrival
        self.throttled: list[ApiCall] = []  # the requests answered 429 with retry_after (fail_next)
        self.violations: list[str] = []
        self.chats: dict[int, Chat] = {}
        self.answered_callbacks: dict[str, str] = {}
        self.commands: dict[str | None, list[JsonDict]] = {}
        self.webhook: Webhook | None = None
        self.webhook_deliveries: list[tuple[int, int | str]] = []
        self._pending_updates: list[JsonDict] = []
        self._update_ids = itertools.count(10_000)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._failures: list[InjectedFailure] = []
        self._changed = asyncio.Condition()
        self._chat_deliveries: dict[int, list[asyncio.Task[None]]] = {}
        self._deliveries: set[asyncio.Task[None]] = set()
        self._webhook_retry_delay = webhook_retry_delay
        self._webhook_max_attempts = webhook_max_attempts
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port = 0
        self.bot_user: JsonDict = {
            "id": BOT_USER_ID,
            "is_bot": True,
            "first_name": "Rattacher",
            "username": "rattacher_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)  # its paths hold the bot token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._stopping = True
        deliveries = list(self._deliveries)
        for task in deliveries:
            task.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        async with self._changed:
            self._changed.notify_all()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what the simulated parents do -----------------------------------------------------

    def private_chat(self, user_id: int, language_code: str | None = "fr") -> Chat:
        return self.chats.setdefault(user_id, Chat(user_id, "private", user_id, language_code))

    def group_chat(self, chat_id: int, user_id: int) -> Chat:
        return self.chats.setdefault(chat_id, Chat(chat_id, "supergroup", user_id, "fr"))

    def user_sends(self, chat: Chat, text: str) -> Message:
        """The parent types `text` (a command when it starts with "/")."""
        message = chat.add_message(from_bot=False, text=text)
        self._push_update({"message": message.as_json(self.bot_user)}, chat.id)
        return message

    def user_sends_sticker(self, chat: Chat) -> Message:
        message = chat.add_message(from_bot=False, text="", kind="sticker")
        self._push_update({"message": message.as_json(self.bot_user)}, chat.id)
        return message

    def user_presses(self, message: Message, data: str, *, concurrently: bool = False) -> str:
        """The parent presses a button carrying `data` under a bot message; the query id.

        `concurrently`: a webhook delivers it without waiting for the chat's previous update
        (Telegram may, with several connections), e.g. a double tap reaching two processes.
        """
        query_id = f"cb{next(self._callback_ids)}"
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": message.chat.user_json(),
            "message": message.as_json(self.bot_user),
            "chat_instance": f"instance{message.chat.id}",
            "data": data,
        }
        self._push_update({"callback_query": query}, message.chat.id, ordered=not concurrently)
        return query_id

    def fail_next(self, method: str, *, times: int = 1, retry_after: int | None = None) -> None:
        """The next `times` calls of `method` get a 429 (retry_after) or a dropped connection."""
        error = BotApiError(429, "Too Many Requests", retry_after) if retry_after else None
        self._failures.extend(InjectedFailure(method, error) for _ in range(times))

    def refuse_next(self, method: str, status: int, description: str) -> None:
        """The next call of `method` gets this error, as Telegram words it."""
        self._failures.append(InjectedFailure(method, BotApiError(status, description)))

    # --- waiting on the bot ----------------------------------------------------------------

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until condition() is truthy (re-checked on every call the bot makes)."""
        async with self._changed:
            try:
                return await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for the bot") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def unanswered_callbacks(self) -> set[str]:
        """Callback queries the bot never answered (the parent's button keeps spinning)."""
        return set(self._open_callbacks)

    def calls_of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def budget_calls(self) -> list[ApiCall]:
        """The calls Telegram's per-bot budget counts: those naming a chat (send, edit, delete)."""
        return [call for call in self.calls if call.parameters.get("chat_id") is not None]

    # --- updates ---------------------------------------------------------------------------

    def _push_update(self, payload: JsonDict, chat_id: int, *, ordered: bool = True) -> None:
        update = {"update_id": next(self._update_ids), **payload}
        if self.webhook is None:
            self._pending_updates.append(update)
            asyncio.get_running_loop().create_task(self._notify())
            return
        self._deliver_to_webhook(update, chat_id, ordered=ordered)

    def _deliver_to_webhook(self, update: JsonDict, chat_id: int, *, ordered: bool = True) -> None:
        in_flight = [task for task in self._chat_deliveries.get(chat_id, []) if not task.done()]
        previous = in_flight if ordered else []
        delivery = asyncio.get_running_loop().create_task(self._post_after(previous, update))
        self._deliveries.add(delivery)
        delivery.add_done_callback(self._deliveries.discard)
        self._chat_deliveries[chat_id] = [*in_flight, delivery]

    async def _post_after(self, previous: list[asyncio.Task[None]], update: JsonDict) -> None:
        if previous:
            await asyncio.wait(previous)
        assert self._http is not None
        for _ in range(self._webhook_max_attempts):
            webhook = self.webhook
            if webhook is None:
                self._pending_updates.append(update)
                return
            headers = {SECRET_TOKEN_HEADER: webhook.secret_token} if webhook.secret_token else {}
            try:
                async with self._http.post(webhook.url, json=update, headers=headers) as response:
                    self.webhook_deliveries.append((update["update_id"], response.status))
                    if 200 <= response.status < 300:
                        return
            except aiohttp.ClientError as error:
                self.webhook_deliveries.append((update["update_id"], type(error).__name__))
            finally:
                await self._notify()
            await asyncio.sleep(self._webhook_retry_delay)
        self.violations.append(f"webhook never accepted update {update['update_id']}")

    # --- the HTTP side ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return BotApiError(401, "Unauthorized").response()
        try:
            parameters = await self._read_parameters(request, method)
        except ValueError as error:
            self.violations.append(f"{method}: unreadable body ({error})")
            return BotApiError(400, "Bad Request: unreadable body").response()
        call = ApiCall(method, parameters, time.monotonic())
        self.calls.append(call)
        try:
            problems = self.schema.check_call(method, parameters)
            if problems:
                self.violations.extend(problems)
                raise BotApiError(400, "Bad Request: " + "; ".join(problems))
            failure = self._take_failure(method)
            if failure is not None and failure.error is None:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=502)
            if failure is not None and failure.error is not None:
                if failure.error.retry_after is not None:
                    self.throttled.append(call)
                raise failure.error
            handler = self._methods().get(method)
            if handler is None:
                self.violations.append(f"{method}: valid, but the fake does not implement it")
                raise BotApiError(400, f"Bad Request: {method} is not implemented by the fake")
            result = await handler(parameters)
        except BotApiError as error:
            return error.response()
        finally:
            await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _read_parameters(self, request: web.Request, method: str) -> dict[str, object]:
        raw: dict[str, str] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            return {**self.schema.decode_form_parameters(method, raw), **body}
        if request.can_read_body:
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, str):
                    raw[name] = value
                elif isinstance(value, bytes | bytearray):
                    raw[name] = bytes(value).decode()
                else:
                    raw[name] = value.file.read().decode()
        return self.schema.decode_form_parameters(method, raw)

    def _take_failure(self, method: str) -> InjectedFailure | None:
        for failure in self._failures:
            if failure.method == method:
                self._failures.remove(failure)
                return failure
        return None

    def _methods(self) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
        }

    async def _get_me(self, _: Mapping[str, Any]) -> JsonDict:
        return self.bot_user

    async def _get_updates(self, parameters: Mapping[str, Any]) -> list[JsonDict]:
        if self.webhook is not None:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = parameters.get("offset")
        if offset is not None:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        timeout = parameters.get("timeout", 0)
        if timeout and not self._pending_updates:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._pending_updates or self.webhook or self._stopping),
                        timeout,
                    )
        return self._pending_updates[: parameters.get("limit", 100)]

    async def _set_webhook(self, parameters: Mapping[str, Any]) -> bool:
        self.webhook = Webhook(
            parameters["url"],
            parameters.get("secret_token"),
            parameters.get("allowed_updates"),
            parameters.get("max_connections"),
        )
        if parameters.get("drop_pending_updates"):
            self._pending_updates.clear()
        pending, self._pending_updates = self._pending_updates, []
        for update in pending:
            self._deliver_to_webhook(update, _chat_id_of(update))
        return True

    async def _delete_webhook(self, parameters: Mapping[str, Any]) -> bool:
        self.webhook = None
        if parameters.get("drop_pending_updates"):
            self._pending_updates.clear()
        return True

    async def _get_webhook_info(self, _: Mapping[str, Any]) -> JsonDict:
        webhook = self.webhook
        info: JsonDict = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending_updates),
        }
        if webhook and webhook.allowed_updates is not None:
            info["allowed_updates"] = webhook.allowed_updates
        return info

    async def _set_my_commands(self, parameters: Mapping[str, Any]) -> bool:
        self.commands[parameters.get("language_code") or None] = list(parameters["commands"])
        return True

    async def _get_my_commands(self, parameters: Mapping[str, Any]) -> list[JsonDict]:
        return self.commands.get(parameters.get("language_code") or None, [])

    async def _send_message(self, parameters: Mapping[str, Any]) -> JsonDict:
        chat = self._chat(parameters["chat_id"])
        message = chat.add_message(from_bot=True, text=parameters["text"])
        message.reply_markup = parameters.get("reply_markup")
        return message.as_json(self.bot_user)

    async def _edit_message_text(self, parameters: Mapping[str, Any]) -> JsonDict:
        message = self._bot_message(parameters)
        new_markup = parameters.get("reply_markup")
        if message.text == parameters.get("text", message.text) and message.reply_markup == new_markup:
            raise BotApiError(400, "Bad Request: message is not modified")
        message.edits.append({"text": message.text, "reply_markup": message.reply_markup})
        message.text = parameters.get("text", message.text)
        message.reply_markup = new_markup
        return message.as_json(self.bot_user)

    async def _edit_message_reply_markup(self, parameters: Mapping[str, Any]) -> JsonDict:
        message = self._bot_message(parameters)
        message.edits.append({"text": message.text, "reply_markup": message.reply_markup})
        message.reply_markup = parameters.get("reply_markup")
        return message.as_json(self.bot_user)

    async def _delete_message(self, parameters: Mapping[str, Any]) -> bool:
        message = self._chat(parameters["chat_id"]).messages.get(parameters["message_id"])
        if message is None or message.deleted:
            raise BotApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    async def _answer_callback_query(self, parameters: Mapping[str, Any]) -> bool:
        query_id = parameters["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise BotApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        self.answered_callbacks[query_id] = parameters.get("text", "")
        return True

    def _chat(self, chat_id: object) -> Chat:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise BotApiError(400, "Bad Request: chat not found")
        return chat

    def _bot_message(self, parameters: Mapping[str, Any]) -> Message:
        message_id = parameters.get("message_id")
        message = (
            self._chat(parameters.get("chat_id")).messages.get(message_id) if isinstance(message_id, int) else None
        )
        if message is None or message.deleted or not message.from_bot:
            raise BotApiError(400, "Bad Request: message to edit not found")
        return message


def _chat_id_of(update: Mapping[str, Any]) -> int:
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    return int(update["message"]["chat"]["id"])


def most_calls_in_a_window(calls: list[ApiCall], seconds: float = 1.0) -> int:
    """The largest number of calls that arrived within any `seconds`-long window [t, t + seconds)."""
    times = sorted(call.at for call in calls)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most
