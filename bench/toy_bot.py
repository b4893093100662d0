"""The benchmark's yardstick: a minimal in-memory python-telegram-bot `ConversationHandler` bot.

Same merge flow and texts as Rattacher (the welcome asks the identifier kept, its password, the other
account, its temporary password, the account found with the portal's form, apply), the same argon2id
verification (hashes made at the service's parameters) and the same `AIORateLimiter`, but everything
in memory, in one process, with no service behind it.
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
from conversations.wording import WELCOME_QUESTION

SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
IDENTIFIER, PASSWORD, OTHER_IDENTIFIER, OTHER_PASSWORD, ROLES = range(5)
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


def role_line(child: str, legal_guardian: bool) -> str:
    role = _("legal guardian") if legal_guardian else _("not the legal guardian")
    return _("• {child} — {role}").format(child=child, role=role)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/start: the welcome, which asks the identifier of the account to keep."""
    assert update.effective_message is not None
    user_data(context).clear()
    greeting = _(
        "Hello! I help you gather all your children under one account of the parents' portal.\n"
        "You need the identifier and the temporary password of the other account: the school gives them to you.\n"
        "Both accounts must have exactly the same last name and first name."
    )
    question = _(WELCOME_QUESTION)
    markup = keyboard([(_("My children"), "kids")], [(_("Talk to an agent"), "agent")])
    await update.effective_message.reply_text(f"{greeting}\n\n{question}", reply_markup=markup)
    return IDENTIFIER


async def identifier(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The identifier of the account to keep: ask its password."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kept = user_data(context)["kept"] = message.text.strip()
    question = _(
        "“Password”: type the password of the account {identifier}.\n"
        "I do not keep it: I only pass it on to the portal to check it."
    )
    await message.reply_text(question.format(identifier=kept))
    return PASSWORD


async def other_identifier(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The identifier of the other account: ask its temporary password."""
    message = update.effective_message
    assert message is not None and message.text is not None
    other = user_data(context)["other"] = message.text.strip()
    question = _(
        "“Password”: type the password of the account {identifier}: the temporary password from the school, "
        "or its current password if it is already active.\n"
        "I do not keep it: I only pass it on to the portal to check it."
    )
    await message.reply_text(question.format(identifier=other))
    return OTHER_PASSWORD


async def password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Verify the kept account's password, delete the message that carried it; « Mes enfants », the other account."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kept = user_data(context)["kept"]
    account = await state_of(context).verify(kept, message.text)
    await message.delete()
    if account is None:
        await message.reply_text("Ce mot de passe ne fonctionne pas. Tapez-le à nouveau.")
        return PASSWORD
    logged_in = _("Login successful with the account {identifier}.").format(identifier=kept)
    listing = _("“My children” on the account {identifier}:").format(identifier=kept)
    lines = "\n".join(role_line(child, True) for child in account.children)
    question = _(
        "“Find the account”\n“Identifier”: type the identifier of the other account, the one the school gave you."
    )
    await message.reply_text(f"{logged_in}\n\n{listing}\n{lines}\n\n{question}")
    return OTHER_IDENTIFIER


def form(context: ContextTypes.DEFAULT_TYPE) -> tuple[str, InlineKeyboardMarkup]:
    """The account found, its children and the portal's form, as the checkboxes stand."""
    data = user_data(context)
    children = state_of(context).accounts[data["other"]].children
    roles: dict[str, bool] = data["roles"]
    found = n_(
        "I found the account {identifier}. It holds {count} child:",
        "I found the account {identifier}. It holds {count} children:",
        len(children),
    ).format(identifier=data["other"], count=len(children))
    lines = "\n".join(role_line(child, roles[child]) for child in children)
    text = _(
        "“Add students from another account”\n"
        "If you are not the legal guardian of a student, press their line to tick the box.\n"
        "Then press “Add these students to my account”: the account {source} will be closed "
        "and its children will join your account {target}."
    ).format(source=data["other"], target=data["kept"])
    checkbox = _("{child} · {mark} I am not this student's legal guardian")
    rows = [
        [(checkbox.format(child=child, mark="☐" if roles[child] else "☑"), f"t:{number}")]
        for number, child in enumerate(children)
    ]
    rows += [
        [(_("What is a legal guardian?"), "legal")],
        [(_("Add these students to my account"), "apply")],
        [(_("Cancel"), "cancel")],
    ]
    return f"{found}\n{lines}\n\n{text}", keyboard(*rows)


async def other_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Verify the other account's temporary password; the account found and the portal's form, in one message."""
    message = update.effective_message
    assert message is not None and message.text is not None
    data = user_data(context)
    account = await state_of(context).verify(data["other"], message.text)
    await message.delete()
    if account is None:
        await message.reply_text("Ce mot de passe ne fonctionne pas. Tapez-le à nouveau.")
        return OTHER_PASSWORD
    data["roles"] = dict.fromkeys(account.children, True)
    text, markup = form(context)
    await message.reply_text(text, reply_markup=markup)
    return ROLES


async def toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A child's checkbox: flip it, the form edited in place."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    await query.answer(_("Noted."))
    data = user_data(context)
    child = state_of(context).accounts[data["other"]].children[int(query.data.partition(":")[2])]
    data["roles"][child] = not data["roles"][child]
    text, markup = form(context)
    await query.edit_message_text(text, reply_markup=markup)
    return ROLES


async def legal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """« Qu'est-ce qu'un représentant légal ? »: a pop-up."""
    assert update.callback_query is not None
    definition = _("The legal guardian is the parent or the person who exercises parental authority over the child.")
    not_sure = _("Not sure? Ask the school, or type /agent to talk to an agent.")
    await update.callback_query.answer(f"{definition}\n{not_sure}", show_alert=True)
    return ROLES


async def apply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Move the children to the kept account, in memory; say so in a new message."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    data = user_data(context)
    accounts = state_of(context).accounts
    moved = accounts[data["other"]].children
    accounts[data["kept"]].children.extend(moved)
    accounts[data["other"]].children = []
    done = n_("Done! This child was added to your account:", "Done! These children were added to your account:", 2)
    lines = "\n".join(role_line(child, data["roles"][child]) for child in moved)
    markup = keyboard([(_("Add students from another account"), "add")], [(_("My children"), "kids")])
    await context.bot.send_message(query.message.chat.id, f"{done}\n{lines}", reply_markup=markup)
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
                IDENTIFIER: [MessageHandler(text, identifier)],
                PASSWORD: [MessageHandler(text, password)],
                OTHER_IDENTIFIER: [MessageHandler(text, other_identifier)],
                OTHER_PASSWORD: [MessageHandler(text, other_password)],
                ROLES: [
                    CallbackQueryHandler(toggle, pattern="^t:"),
                    CallbackQueryHandler(legal, pattern="^legal$"),
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
