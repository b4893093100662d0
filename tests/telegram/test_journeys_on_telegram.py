"""Issue 8's journeys on Telegram, end to end (fake Bot API ↔ bot ↔ engine ↔ real service), in French and English.

Parents type what people really type; expected texts are message ids translated by TelegramParent.
"""

from __future__ import annotations

import pytest

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import DemoService, demo_bot_polling
from tests.telegram.merge_flow import CAMILLE, CHLOE, MATHIS, NADIA
from tests.telegram.telegram_parent import TelegramParent

LANGUAGES = ["fr", "en"]
TYPED = {
    "fr": {
        "cancel": "annuler",
        "help": "aide",
        "stop": "stop",
        "disagree": "je ne suis pas d'accord",
        "my_sons": "voir la liste de mes fils",
        "yes": "oui",
        "no": "non",
        "dont_know": "je ne sais pas",
        "children_command": "/enfants",
        "what_identifier": "c'est quoi l'identifiant ?",
        "what_temporary": "c'est quoi le mot de passe provisoire ?",
        "no_letter": "je n'ai pas reçu le courrier",
        "thanks": "merci",
        "someone": "je veux parler à quelqu'un",
    },
    "en": {
        "cancel": "cancel",
        "help": "help",
        "stop": "stop",
        "disagree": "I don't agree",
        "my_sons": "show the list of my sons",
        "yes": "yes",
        "no": "no",
        "dont_know": "I don't know",
        "children_command": "/children",
        "what_identifier": "what is the identifier?",
        "what_temporary": "what is the temporary password?",
        "no_letter": "I did not receive the letter",
        "thanks": "thank you",
        "someone": "I want to talk to someone",
    },
}

LOGIN_CANCELLED = "Login cancelled."
PASSWORD_HELP = (
    "Type the password exactly, with its capital letters and signs. "
    "If the account is not activated yet, type the temporary password from the school."
)
ADDITION_CANCELLED = "Adding the children of the account {source} is cancelled. Nothing has changed on your accounts."
ROLES_NOT_CANCELLED = "To change a child's role, press their line. To stop without changing anything, press “Cancel”."
DEFINITION = "The legal guardian is the parent or the person who exercises parental authority over the child."
CONNECTED = "You are logged in with the account {identifier}."
PRESS_TO_ADD = "To add these students, press “Add these students to my account”."
OTHER_ACTIVE_ACCOUNT = (
    "Before activating the account {identifier}: do you already use another account of the portal, "
    "already activated, with the same last name and first name?"
)
KEEP_THE_OTHER = (
    "Then keep that account: with two accounts, the portal asks you to log in with the one you keep. "
    "Log in with it now; then I ask for the identifier {identifier} and its temporary password "
    "to add its children. Nothing is activated."
)
RULES_BROKEN = "This password does not follow these rules:"
ACTIVATED = "Your account is activated. Keep your password for yourself."
ALREADY_ON_ACCOUNT = "{child} (already on your account: {role})"
NAME_LINE = "{field}: “{target}” on your account {target_account}, “{source}” on the account {source_account}."
MERGED_INTO_YOURS = (
    "The account {source} was already gathered into your account {target}: its children are already in “My children”."
)
ESCALATED = (
    "I have passed your request to the helpdesk (reference {reference}). "
    "An agent will read our conversation and answer you here. Your passwords are never passed on."
)
WITHDRAWN = "I withdrew your request {reference}: nobody will answer it. I am here to help you again."
LOGIN_IDENTIFIER = (
    "Log in with the account you want to keep. If you have two active accounts, use the one you want to keep.\n"
    "“Identifier”: type the identifier of this account."
)
FIND_THE_ACCOUNT = (
    "“Find the account”\n“Identifier”: type the identifier of the other account, the one the school gave you."
)
IDENTIFIER_ANSWER = (
    "The identifier is the name of an account on the portal, without spaces, often like “c.martin7”. "
    "It is on the school's letter, or it is the one you type to log in to the portal."
)
TEMPORARY_PASSWORD_ANSWER = (
    "The temporary password is on the letter the school gave you for the other account, "
    "next to its “Identifier”: 12 letters and digits, like XXXX-XXXX-XXXX. "
    "It works once, to add its children or to activate the account."
)
NO_LETTER_ANSWER = (
    "Without the letter, ask the school where the child is enrolled: it gives the identifier and a new "
    "temporary password of the other account. An agent can also help you."
)


def parent_for(fake: FakeBotApi, user_id: int, language: str) -> TelegramParent:
    return TelegramParent(fake, user_id=user_id + (0 if language == "fr" else 50), language_code=language)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_what_parents_type_is_never_misread(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent, typed = parent_for(fake_bot_api, 6001, language), TYPED[language]
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.start_linking(parent)
        await parent.presses("My children", expect=LOGIN_IDENTIFIER)
        cancelled = await parent.says(typed["cancel"], expect=LOGIN_CANCELLED)
        assert "annuler" not in cancelled.text.replace(parent._(LOGIN_CANCELLED), ""), "never an identifier"
        assert parent._(merge_flow.WELCOME) in cancelled.text, "the welcome asks the identifier again"
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        await parent.says(typed["help"], expect=PASSWORD_HELP)
        await parent.says(typed["stop"], expect=LOGIN_CANCELLED)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        await parent.says(CAMILLE.kept_password, expect=merge_flow.LOGGED_IN, identifier=CAMILLE.kept)

        await merge_flow.find_other_account(parent)
        await parent.says(typed["disagree"], expect=ROLES_NOT_CANCELLED)  # « non » at the form never cancels
        await parent.says(typed["my_sons"], expect=ADDITION_CANCELLED, source=CAMILLE.other)

        await parent.presses("Add students from another account", expect=FIND_THE_ACCOUNT)
        await merge_flow.find_other_account(parent)
        unsure = await parent.says(typed["dont_know"], expect=DEFINITION)
        assert parent._("Talk to an agent") in [button["text"] for button in unsure.buttons], "an agent, if unsure"
        await parent.says(typed["no"], expect=ROLES_NOT_CANCELLED)
        form = await parent.presses(CHLOE, expect=CHLOE)
        labels = [button["text"] for button in form.buttons]
        assert parent._(merge_flow.NOT_GUARDIAN_TOGGLE, child=CHLOE, mark="☑") in labels, "ticked for Chloé only"
        assert parent._(merge_flow.NOT_GUARDIAN_TOGGLE, child=MATHIS, mark="☐") in labels
        await parent.says(typed["yes"], expect=PRESS_TO_ADD)  # a typed yes never adds: the button does
        await parent.presses(merge_flow.APPLY, expect="My children")
        await merge_flow.show_my_children(parent, not_guardian=(CHLOE,))

    # whatever is typed at a password step is deleted, even a help word (it is never sent to the service)
    typed_at_password_steps = {CAMILLE.kept_password, CAMILLE.other_password, typed["help"], typed["stop"]}
    for message in parent.chat.messages.values():
        if not message.from_bot and message.text in typed_at_password_steps:
            assert message.deleted, message.text
    for message in parent.chat.bot_messages:
        assert CAMILLE.kept_password not in message.text and CAMILLE.other_password not in message.text
    assert not any(
        parent._(merge_flow.WRONG_CREDENTIALS, identifier=CAMILLE.kept) in message.text
        for message in parent.chat.bot_messages
    ), "no word was sent to the service as a password"


@pytest.mark.parametrize("language", LANGUAGES)
async def test_commands_in_the_middle_of_a_flow_say_what_became_of_it(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent, typed = parent_for(fake_bot_api, 6002, language), TYPED[language]
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await merge_flow.find_other_account(parent)
        listing = await parent.says(typed["children_command"], expect=ADDITION_CANCELLED, source=CAMILLE.other)
        assert parent._(merge_flow.MY_CHILDREN_TITLE, identifier=CAMILLE.kept) in listing.text
        again = await parent.says("/start", expect=CONNECTED, identifier=CAMILLE.kept)
        assert parent._(merge_flow.LOGGED_IN, identifier=CAMILLE.kept) not in again.text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_pending_account_first_asks_about_another_activated_account(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent = parent_for(fake_bot_api, 6003, language)
    pending, temporary = "s.petit", "P3LM-6VXA-2RGE"
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.start_linking(parent)
        await merge_flow.ask_password_of(parent, pending)
        await parent.says(temporary, expect=OTHER_ACTIVE_ACCOUNT, identifier=pending)
        await parent.presses("Yes", expect=KEEP_THE_OTHER, identifier=pending)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        await parent.says(CAMILLE.kept_password, expect=FIND_THE_ACCOUNT)
        await parent.says("/deconnexion" if language == "fr" else "/logout", expect=merge_flow.WELCOME)

        await merge_flow.ask_password_of(parent, pending)
        await parent.says(temporary, expect=OTHER_ACTIVE_ACCOUNT, identifier=pending)
        await parent.presses("No", expect="Choose your new password. The portal's rules:")
        await parent.says("s.petit-2027-Lune", expect=RULES_BROKEN)
        await parent.says("Lune-Rouge-2027!", expect="Type the same new password again, to make sure there is no typo.")
        await parent.says("Lune-Rouge-2027!", expect=ACTIVATED)

    merge_flow.assert_passwords_deleted(
        parent, temporary, CAMILLE.kept_password, "s.petit-2027-Lune", "Lune-Rouge-2027!"
    )


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_child_already_linked_shows_its_role_and_keeps_it(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent = parent_for(fake_bot_api, 6004, language)
    [already] = NADIA.already_linked
    [new] = [child for child in NADIA.other_children if child not in NADIA.already_linked]
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent, NADIA)
        found = await merge_flow.find_other_account(parent, NADIA)
        assert parent._(ALREADY_ON_ACCOUNT, child=already, role=parent._("legal guardian")) in found.text
        form = await parent.presses(new, expect=new)
        labels = [button["text"] for button in form.buttons]
        assert parent._(merge_flow.NOT_GUARDIAN_TOGGLE, child=already, mark="☐") in labels, "current role pre-selected"
        assert parent._(merge_flow.NOT_GUARDIAN_TOGGLE, child=new, mark="☑") in labels
        done = parent.n_("This child was already on your account:", "These children were already on your account:", 1)
        result = await parent.presses("Add these students to my account", expect=done)
        assert parent._(merge_flow.ROLE_LINE, child=already, role=parent._("legal guardian")) in result.text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_refusals_say_what_to_do(fake_bot_api: FakeBotApi, demo_service: DemoService, language: str) -> None:
    parent = parent_for(fake_bot_api, 6005, language)
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await merge_flow.ask_password_of(parent, merge_flow.NAMES_DIFFER_ACCOUNT)
        refusal = await parent.send_and_wait(
            merge_flow.NAMES_DIFFER_PASSWORD,
            parent._(
                NAME_LINE,
                field=parent._("Last name"),
                target="MARTIN",
                source="MARTINEZ",
                target_account=CAMILLE.kept,
                source_account=merge_flow.NAMES_DIFFER_ACCOUNT,
            ),
        )
        assert "Collège Victor Hugo" in refusal.text, "the school that can correct the name"
        assert parent._("Talk to an agent") in [button["text"] for button in refusal.buttons]
        await parent.presses("Add students from another account", expect=FIND_THE_ACCOUNT)
        await merge_flow.ask_password_of(parent, "c.martin.ancien")
        await parent.says("Ancien-Compte-2020", expect=MERGED_INTO_YOURS, source="c.martin.ancien", target=CAMILLE.kept)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_common_questions_are_answered_where_they_are_asked(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent, typed = parent_for(fake_bot_api, 6006, language), TYPED[language]
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await parent.says(typed["what_identifier"], expect=IDENTIFIER_ANSWER)
        await merge_flow.ask_password_of(parent, CAMILLE.other)
        await parent.says(typed["what_temporary"], expect=TEMPORARY_PASSWORD_ANSWER)
        await parent.says(typed["thanks"], expect="You're welcome!")
        no_letter = await parent.says(typed["no_letter"], expect=NO_LETTER_ANSWER)
        assert parent._("Talk to an agent") in [button["text"] for button in no_letter.buttons]
        await parent.send_and_wait(typed["someone"], parent._(ESCALATED).split("{reference}")[0])
        withdrawn = parent._(WITHDRAWN).split("{reference}")[0]
        await parent.send_and_wait("/annuler", withdrawn)  # helpdesk mode until then: messages go to the request
        if language == "fr":
            await parent.send_and_wait("Do you speak English?", "From now on, I speak English.")
