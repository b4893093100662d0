"""The benchmark's yardstick: a minimal in-memory python-telegram-bot `ConversationHandler` bot.

Same merge flow as Rattacher (identifier, password, other account, temporary password, one role
question per child, apply), the same argon2id verification (hashes made at the service's parameters)
and the same `AIORateLimiter`, but everything in memory, in one process, with no service behind it.
Run by `rattacher bench` as `python -m bench.toy_bot FAMILIES.json`; it serves a webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from conversations.i18n import plural_translator, translator

SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MENU, IDENTIFIER, PASSWORD, OTHER_IDENTIFIER, OTHER_PASSWORD, CONFIRM, ROLES = range(7)
_ = translator("fr")
n_ = plural_translator("fr")


@dataclass
class Account:
    """An account of the toy's memory: its argon2id hash and the children it holds."""

    identifier: str
    hash: str
    temporary: bool
    children: list[str] = field(default_factory=list)


@dataclass
class ToyState:
    """Every account, the hasher and a thread pool sized to the cores for argon2 work."""

    accounts: dict[str, Account]
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(os.cpu_count() or 1))

    async def verify(self, identifier: str, password: str) -> Account | None:
        """The account when the password matches its hash (argon2id, off the event loop)."""
        account = self.accounts.get(identifier)
        if account is None:
            return None
        secret = re.sub(r"[\s\-]+", "", password).upper() if account.temporary else password
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.pool, self.hasher.verify, account.hash, secret)
        except (VerificationError, InvalidHashError):
            return None
        return account


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def state_of(context: ContextTypes.DEFAULT_TYPE) -> ToyState:
    state: ToyState = context.bot_data["state"]
    return state


def user_data(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    assert context.user_data is not None
    return context.user_data


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/start: the menu."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        _("What would you like to do?"), reply_markup=keyboard([(_("Link a child"), "link")])
    )
    return MENU


async def link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """« Link a child »: ask for the identifier of the account to keep (the menu edited in place)."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    await update.callback_query.edit_message_text("Quel est l'identifiant du compte que vous gardez ?")
    return IDENTIFIER


async def ask_password(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str, next_state: int) -> int:
    assert update.effective_message is not None and update.effective_message.text is not None
    identifier = update.effective_message.text.strip()
    user_data(context)[key] = identifier
    await update.effective_message.reply_text(f"Tapez le mot de passe du compte {identifier}.")
    return next_state


async def identifier(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await ask_password(update, context, "kept", PASSWORD)


async def other_identifier(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await ask_password(update, context, "other", OTHER_PASSWORD)


async def password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Verify the kept account's password, delete the message that carried it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kept = user_data(context)["kept"]
    account = await state_of(context).verify(kept, message.text)
    await message.delete()
    if account is None:
        await message.reply_text("Ce mot de passe ne fonctionne pas. Tapez-le à nouveau.")
        return PASSWORD
    logged_in = _("Login successful with the account {identifier}.").format(identifier=kept)
    await message.reply_text(f"{logged_in}\nQuel est l'identifiant de l'autre compte ?")
    return OTHER_IDENTIFIER


async def other_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Verify the other account's temporary password; show its children."""
    message = update.effective_message
    assert message is not None and message.text is not None
    data = user_data(context)
    account = await state_of(context).verify(data["other"], message.text)
    await message.delete()
    if account is None:
        await message.reply_text("Ce mot de passe ne fonctionne pas. Tapez-le à nouveau.")
        return OTHER_PASSWORD
    data["roles"] = {}
    children = "\n".join(f"• {child}" for child in account.children)
    await message.reply_text(
        f"{children}\n{_('Is this the right account?')}", reply_markup=keyboard([(_("Continue"), "continue")])
    )
    return CONFIRM


async def ask_role(query_message: Any, context: ContextTypes.DEFAULT_TYPE, *, edit: bool) -> int:
    """The next child's role question, or the summary with « Add these students »."""
    data = user_data(context)
    children = state_of(context).accounts[data["other"]].children
    pending = [child for child in children if child not in data["roles"]]
    if pending:
        text = _("Are you the legal guardian of {child}?").format(child=pending[0])
        markup = keyboard([(_("Yes"), "role:yes"), (_("No"), "role:no")])
    else:
        text = "\n".join(f"• {child}" for child in children)
        markup = keyboard([(_("Add these students to my account"), "apply")])
    if edit:
        await query_message.edit_text(text, reply_markup=markup)
    else:
        await query_message.reply_text(text, reply_markup=markup)
    return ROLES


async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.callback_query is not None
    await update.callback_query.answer()
    return await ask_role(update.callback_query.message, context, edit=False)


async def role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    data = user_data(context)
    children = state_of(context).accounts[data["other"]].children
    pending = [child for child in children if child not in data["roles"]]
    if pending:
        data["roles"][pending[0]] = query.data == "role:yes"
    return await ask_role(query.message, context, edit=True)


async def apply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Move the children to the kept account, in memory."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    data = user_data(context)
    accounts = state_of(context).accounts
    moved = accounts[data["other"]].children
    accounts[data["kept"]].children.extend(moved)
    accounts[data["other"]].children = []
    done = n_("Done! This child was added to your account:", "Done! These children were added to your account:", 2)
    await query.edit_message_text(done + "\n" + "\n".join(f"• {child}" for child in moved))
    data.clear()
    return ConversationHandler.END


def build(token: str, base_url: str, accounts: dict[str, Account]) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application: rate-limited like Rattacher's, one ConversationHandler."""
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(64)
        .updater(None)
        .build()
    )
    application.bot_data["state"] = ToyState(accounts)
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                MENU: [CallbackQueryHandler(link, pattern="^link$")],
                IDENTIFIER: [MessageHandler(text, identifier)],
                PASSWORD: [MessageHandler(text, password)],
                OTHER_IDENTIFIER: [MessageHandler(text, other_identifier)],
                OTHER_PASSWORD: [MessageHandler(text, other_password)],
                CONFIRM: [CallbackQueryHandler(confirm, pattern="^continue$")],
                ROLES: [
                    CallbackQueryHandler(role, pattern="^role:"),
                    CallbackQueryHandler(apply, pattern="^apply$"),
                ],
            },
            fallbacks=[CommandHandler("start", start)],
        )
    application.add_handler(conversation)
    return application


def load_accounts(path: Path) -> dict[str, Account]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {identifier: Account(identifier, **values) for identifier, values in raw.items()}


async def serve(arguments: argparse.Namespace) -> None:
    """Serve the webhook until SIGTERM."""
    application = build(arguments.token, arguments.base_url, load_accounts(arguments.accounts))
    secret = os.environ.get("BENCH_WEBHOOK_SECRET", "")

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_TOKEN_HEADER) != secret:
            return web.json_response({"error": "forbidden"}, status=403)
        update = Update.de_json(await request.json(), application.bot)
        await application.update_processor.process_update(update, application.process_update(update))
        return web.json_response({"ok": True})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    async with application:
        app = web.Application()
        app.router.add_post("/telegram/webhook", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", arguments.port).start()
        await application.bot.set_webhook(f"http://127.0.0.1:{arguments.port}/telegram/webhook", secret_token=secret)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accounts", type=Path, help="JSON: identifier → hash, temporary, children")
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
