"""The demo story on Telegram, step by step: c.martin gathers Chloé and Mathis from c.martin7.

Expected texts are the dialog's message ids, translated into the parent's language by
TelegramParent, so these steps hold whatever the wording of the catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.fake_bot_api import Message
from conversations.wording import WELCOME_QUESTION
from tests.telegram.telegram_parent import TelegramParent


@dataclass(frozen=True)
class Family:
    """A parent of the demo fixture: the account kept, the other account and its children."""

    kept: str
    kept_password: str
    other: str
    other_password: str
    other_children: tuple[str, ...]
    already_linked: tuple[str, ...] = ()  # children of the other account the kept account already has


CHLOE, MATHIS = "C 11/04/2007", "M 04/01/2010"
CAMILLE = Family("c.martin", "Soleil-Bleu-2026", "c.martin7", "K7QX-M2PA-9TZC", (CHLOE, MATHIS))
NADIA = Family(
    "n.bernard",
    "Lune-Verte-2026",
    "nadia.bernard",
    "H8JN-4WQS-7KDF",
    ("Y 08/02/2013", "L 30/11/2016"),
    already_linked=("Y 08/02/2013",),
)
NAMES_DIFFER_ACCOUNT, NAMES_DIFFER_PASSWORD = "c.martinez", "R4TW-9HKP-3MXE"

LOGGED_IN = "Login successful with the account {identifier}."
WRONG_CREDENTIALS = (
    "This password does not work with the identifier {identifier} (or this identifier does not exist). "
    "Type the password again: I kept the identifier."
)
WELCOME = WELCOME_QUESTION
FOUND = "I found the account {identifier}. It holds {count} children:"
APPLY = "Add these students to my account"
LEGAL_GUARDIAN_HELP = "What is a legal guardian?"
DEFINITION = "The legal guardian is the parent or the person who exercises parental authority over the child."
NOT_GUARDIAN_TOGGLE = "{child} · {mark} I am not this student's legal guardian"
MY_CHILDREN_TITLE = "“My children” on the account {identifier}:"
ROLE_LINE = "• {child} — {role}"


async def start_linking(parent: TelegramParent) -> Message:
    """/start: the welcome, which asks the identifier of the account to keep (linking a child is why parents come)."""
    return await parent.says("/start", expect=WELCOME)


async def ask_password_of(parent: TelegramParent, identifier: str) -> Message:
    """Type an identifier; the question for its password, which names the account."""
    return await parent.send_and_wait(identifier, identifier)


async def log_in(parent: TelegramParent, family: Family = CAMILLE) -> None:
    """From the welcome to « Recherchez le compte », logged in on the account to keep."""
    await start_linking(parent)
    await ask_password_of(parent, family.kept)
    await parent.says(family.kept_password, expect=LOGGED_IN, identifier=family.kept)


async def find_other_account(parent: TelegramParent, family: Family = CAMILLE) -> Message:
    """Identify the other account with its temporary password; the one message with its children and the form."""
    await ask_password_of(parent, family.other)
    found = await parent.says(family.other_password, expect=APPLY)
    count = len(family.other_children)
    assert (
        parent.n_("I found the account {identifier}. It holds {count} child:", FOUND, count, identifier=family.other)
        in found.text
    )
    assert all(child in found.text for child in family.other_children)
    labels = [button["text"] for button in found.buttons]
    assert parent._(LEGAL_GUARDIAN_HELP) in labels and parent._("Cancel") in labels
    return found


async def add_children_not_guardian_of_mathis(parent: TelegramParent) -> Message:
    """At the portal's form: tick Mathis's box (edited in place), untick, tick again, then apply."""
    form = parent.message_with_button(parent._(APPLY))
    assert parent._(NOT_GUARDIAN_TOGGLE, child=MATHIS, mark="☐") in [b["text"] for b in form.buttons]
    assert parent._(NOT_GUARDIAN_TOGGLE, child=CHLOE, mark="☐") in [b["text"] for b in form.buttons]
    definition = await parent.press_answered_without_change(form, form.button_data(parent._(LEGAL_GUARDIAN_HELP)))
    assert parent._(DEFINITION) in definition, "a pop-up: no message sent, nothing changed"
    [answer] = [
        call for call in parent.fake.calls_of("answerCallbackQuery") if call.parameters.get("text") == definition
    ]
    assert answer.parameters.get("show_alert") is True and len(definition) <= 200
    toggled = await parent.presses(MATHIS, expect=MATHIS)
    assert toggled.message_id == form.message_id, "the toggle edits the message in place"
    assert parent._(NOT_GUARDIAN_TOGGLE, child=MATHIS, mark="☑") in [b["text"] for b in toggled.buttons]
    toggled = await parent.presses(MATHIS, expect=MATHIS)
    assert parent._(NOT_GUARDIAN_TOGGLE, child=MATHIS, mark="☐") in [b["text"] for b in toggled.buttons]
    toggled = await parent.presses(MATHIS, expect=MATHIS)
    assert parent._(NOT_GUARDIAN_TOGGLE, child=MATHIS, mark="☑") in [b["text"] for b in toggled.buttons]
    assert parent._(ROLE_LINE, child=MATHIS, role=parent._("not the legal guardian")) in toggled.text
    done = parent.n_(
        "Done! This child was added to your account:", "Done! These children were added to your account:", 2
    )
    return await parent.press_and_wait(parent._(APPLY), done)


async def show_my_children(
    parent: TelegramParent, family: Family = CAMILLE, not_guardian: tuple[str, ...] = (MATHIS,)
) -> Message:
    """« Mes enfants » lists every child of the other account, with the role declared."""
    listing = await parent.presses("My children", expect=MY_CHILDREN_TITLE, identifier=family.kept)
    for child in family.other_children:
        role = parent._("not the legal guardian" if child in not_guardian else "legal guardian")
        assert parent._(ROLE_LINE, child=child, role=role) in listing.text
    return listing


async def gather_camilles_children(parent: TelegramParent) -> None:
    """The help page's story from /start to « Mes enfants »."""
    await log_in(parent)
    await find_other_account(parent)
    await add_children_not_guardian_of_mathis(parent)
    await show_my_children(parent)


def assert_passwords_deleted(parent: TelegramParent, *passwords: str) -> None:
    """Every message that carried a password is deleted, and no bot message repeats one."""
    password_messages = [
        message for message in parent.chat.messages.values() if not message.from_bot and message.text in passwords
    ]
    assert password_messages and all(message.deleted for message in password_messages)
    deleted = {
        call.parameters["message_id"]
        for call in parent.fake.calls_of("deleteMessage")
        if call.parameters["chat_id"] == parent.chat.id
    }
    assert deleted == {message.message_id for message in password_messages}
    for message in parent.chat.bot_messages:
        assert not any(password in message.text for password in passwords)
