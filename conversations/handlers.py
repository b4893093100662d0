"""What each step does with an answer: small functions that return the next move.

A handler reads what the parent typed or pressed, calls the service if it must, says what happened
and returns a `Move` (the next step and how to get there). It never assigns the step: the engine
does, after checking the move is one the step table declares. Text handlers receive the reading of
conversations.understanding; button and command handlers receive their argument.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from conversations.commands import command_menu
from conversations.i18n import N_, SUPPORTED_LANGUAGES
from conversations.service_port import (
    AccountMerged,
    ActivationNeeded,
    ActivationRequired,
    ActivationSuperseded,
    CredentialLocked,
    IdempotencyConflict,
    InvalidCredentials,
    LoggedIn,
    MergeConflict,
    MergeResult,
    NamesDiffer,
    PasswordPolicy,
    RoleDeclaration,
    SameAccount,
    ServiceUnavailable,
    SessionInvalid,
    Throttled,
    TicketInvalid,
)
from conversations.service_replies import reply_to
from conversations.state import CompletedMerge, Flow, FoundChild, PendingMerge, SeenChild, Step
from conversations.text_input import (
    IdentifierProblem,
    fold,
    identifier_in,
    password_is_readable,
    read_identifier,
    without_control_characters,
)
from conversations.turn import Move, Turn
from conversations.typed_password import broken_rules, digest_password, matches_digest
from conversations.understanding import Expectation, Meaning, Reading, understand
from conversations.wording import (
    LEGAL_GUARDIAN_DEFINITION,
    NOT_SURE_OF_THE_ROLE,
    credential_identifier,
    greet,
    password_rules_list,
    pending_merge,
    remaining_wait,
    role_line,
)

logger = logging.getLogger(__name__)

TextHandler = Callable[[Turn, str, Reading], Awaitable[Move]]
ActionHandler = Callable[[Turn, str], Awaitable[Move]]

IDENTIFIER_PROBLEMS: dict[IdentifierProblem, str] = {
    IdentifierProblem.EMPTY: N_("Your message is empty."),
    IdentifierProblem.TOO_LONG: N_("This is too long for an identifier."),
    IdentifierProblem.SPACES: N_("An identifier has no spaces."),
    IdentifierProblem.CHARACTERS: N_("An identifier has only letters, digits, dots and dashes."),
}


# --- small shared moves ---------------------------------------------------------------------------


def not_understood(turn: Turn) -> Move:
    """Ask the same question again, with more help."""
    return Move.retry(turn._("Sorry, I did not understand."))


def resting_step(turn: Turn) -> Step:
    """The menu that fits: « Mes enfants » when logged in, the welcome menu otherwise."""
    return Step.MY_CHILDREN if turn.logged_in else Step.WELCOME


def drop_flow(turn: Turn) -> None:
    """Forget everything collected for the step in progress (never the login or the language)."""
    state, credentials = turn.state, turn.credentials
    state.wants_merge = False
    state.typed_identifier = state.source_identifier = None
    state.pending = None
    credentials.activation_ticket = credentials.new_password_digest = None


def say_flow_left(turn: Turn) -> None:
    """Say what became of the flow in progress when the parent leaves it (a command, « Annuler »)."""
    _ = turn._
    if turn.flow is None:
        return
    if turn.flow == Flow.LOGIN:
        turn.say(_("Login cancelled."))
    elif turn.flow == Flow.ACTIVATION:
        turn.say(
            _("The activation of the account {identifier} is cancelled: it is not activated.").format(
                identifier=turn.state.typed_identifier
            )
        )
    elif turn.state.pending is not None:
        turn.say(
            _("Adding the children of the account {source} is cancelled. Nothing has changed on your accounts.").format(
                source=turn.state.pending.source_identifier
            )
        )
    else:
        turn.say(_("Adding students from another account is cancelled. Nothing has changed on your accounts."))


def session_token(turn: Turn) -> str:
    """The parent's session token (the steps that need it are only reachable when logged in)."""
    if turn.credentials.session_token is None:
        raise SessionInvalid("no session in this chat")
    return turn.credentials.session_token


def forget_login(turn: Turn) -> None:
    """Forget the parent's session."""
    turn.credentials.session_token = None
    turn.state.account_identifier = None


def end_merge_flow(turn: Turn) -> Move:
    """Leave the merge flow and rest on « Mes enfants » (the identifier typed stays, for an agent)."""
    source = turn.state.source_identifier
    drop_flow(turn)
    turn.state.source_identifier = source
    return Move.enter(Step.MY_CHILDREN)


def still_throttled(turn: Turn) -> Move | None:
    """While the service asked to wait for this identifier, say how long is left and send nothing (nothing counted)."""
    wait = remaining_wait(turn)
    if wait is None:
        return None
    turn.say(
        turn._("Please wait {wait} more before typing the password again: I did not send it to the portal.").format(
            wait=wait
        )
    )
    return Move.quiet()


def throttle(turn: Turn, error: Throttled) -> Move:
    """Remember until when to wait (for this identifier), say it, and stay on the password step."""
    state = turn.state
    state.throttled_until = turn.now + timedelta(seconds=max(int(error.retry_after or 60), 1))
    state.throttled_identifier = credential_identifier(turn)
    reply_to(turn, error)
    return Move.quiet()


async def list_children(turn: Turn, *, tolerant: bool = False) -> None:
    """Say « Mes enfants »: the children on the logged-in account with their role."""
    _ = turn._
    try:
        listing = await turn.service.children(turn.requester, session_token(turn))
    except ServiceUnavailable:
        if not tolerant:
            raise
        turn.say(_("I could not load the list of your children just now. Try “My children” again in a moment."))
        return
    turn.state.note_children(
        [SeenChild(initial=child.initial, birth_date=child.birth_date) for child in listing.children]
    )
    if not listing.children:
        turn.say(
            _("“My children”: there is no child on the account {identifier} yet.").format(
                identifier=listing.account.identifier
            )
        )
        return
    lines = [_("“My children” on the account {identifier}:").format(identifier=listing.account.identifier)]
    lines += [role_line(turn, child.label, child.legal_guardian) for child in listing.children]
    turn.say("\n".join(lines))


# --- menus ----------------------------------------------------------------------------------------


async def start_linking(turn: Turn, _argument: str) -> Move:
    """« Rattacher un enfant »: log in first if needed, then « Recherchez le compte »."""
    drop_flow(turn)
    turn.state.wants_merge = True
    return Move.enter(Step.SOURCE_IDENTIFIER if turn.logged_in else Step.LOGIN_IDENTIFIER)


async def show_children(turn: Turn, _argument: str) -> Move:
    """« Mes enfants »: list the children (after logging in if needed); a flow in progress is left, and said so."""
    say_flow_left(turn)
    drop_flow(turn)
    if not turn.logged_in:
        turn.say(turn._("To see your children, please log in first."))
        return Move.enter(Step.LOGIN_IDENTIFIER)
    await list_children(turn)
    return Move.enter(Step.MY_CHILDREN)


async def read_welcome_text(turn: Turn, text: str, reading: Reading) -> Move:
    """The welcome asks the identifier of the account to keep: an identifier logs in to link a child.

    A sentence is read as at a menu (« je veux ajouter mon fils », « voir mes enfants »). Logged in,
    the welcome is the menu: no identifier is read there.
    """
    if reading.meaning == Meaning.DATA and not turn.logged_in:
        turn.state.wants_merge = True
        return await read_login_identifier(turn, text, reading)
    if reading.meaning in {Meaning.DATA, Meaning.UNKNOWN}:
        reading = understand(text, Expectation.MENU)
    return await read_menu_text(turn, text, reading)


async def read_menu_text(turn: Turn, _text: str, reading: Reading) -> Move:
    """Menus: « je veux ajouter mon fils », « voir la liste de mes fils »."""
    if reading.meaning == Meaning.LINK_CHILD:
        return await start_linking(turn, "")
    if reading.meaning == Meaning.MY_CHILDREN:
        return await show_children(turn, "")
    return not_understood(turn)


# --- logging in -----------------------------------------------------------------------------------


def accept_identifier(turn: Turn, text: str) -> tuple[str | None, Move]:
    """The identifier typed (with the move to make), or None and a retry saying why it cannot be one.

    A message with labels or a (removed) password beside the identifier, « Identifiant : c.martin7
    Mot de passe : … », gives its identifier, and the parent is told which one was taken.
    """
    _ = turn._
    identifier, problem = read_identifier(text)
    if problem is None:
        return identifier, Move.quiet()
    mask = _("[password hidden]")
    found = identifier_in(text, mask)
    if found is not None:
        turn.say(_("I take {identifier} as the identifier.").format(identifier=found))
        return found, Move.quiet()
    if mask in text:
        return None, Move.retry(_("Type the identifier first, alone: I ask for the password right after."))
    return None, Move.retry(_(IDENTIFIER_PROBLEMS[problem]))


async def read_login_identifier(turn: Turn, text: str, _reading: Reading) -> Move:
    """« Identifiant » of the account to keep."""
    identifier, refusal = accept_identifier(turn, text)
    if identifier is None:
        return refusal
    turn.state.typed_identifier = identifier
    return Move.advance(Step.LOGIN_PASSWORD)


def readable_password(turn: Turn, text: str) -> Move | None:
    """None when the typed password can be sent; else the retry."""
    if password_is_readable(text):
        return None
    return Move.retry(turn._("This cannot be a password: it is empty or too long."))


async def read_login_password(turn: Turn, text: str, _reading: Reading) -> Move:
    """« Mot de passe » of the account to keep: log in right away (unless the service asked to wait)."""
    if (move := still_throttled(turn) or readable_password(turn, text)) is not None:
        return move
    try:
        answer = await turn.service.log_in(turn.requester, turn.state.typed_identifier or "", text)
    except InvalidCredentials as error:
        reply_to(turn, error)
        return Move.retry("")
    except Throttled as error:
        return throttle(turn, error)
    except CredentialLocked as error:
        reply_to(turn, error)
        drop_flow(turn)
        return Move.enter(resting_step(turn))
    except AccountMerged as error:
        reply_to(turn, error)
        return Move.retry("", Step.LOGIN_IDENTIFIER)
    if isinstance(answer, ActivationNeeded):
        return start_activation(turn, answer)
    return await logged_in(turn, answer)


def start_activation(turn: Turn, answer: ActivationNeeded) -> Move:
    """The account is not activated yet: first ask whether the parent already uses another one."""
    state = turn.state
    turn.credentials.activation_ticket = answer.activation_ticket
    policy = answer.password_policy
    state.password_min_length = int(policy.get("min_length", state.password_min_length))
    state.password_max_length = int(policy.get("max_length", state.password_max_length))
    rules = policy.get("rules")
    state.password_rules = [str(rule) for rule in rules] if isinstance(rules, list) else []
    turn.say(
        turn._("The temporary password is right: the account {identifier} is not activated yet.").format(
            identifier=state.typed_identifier
        )
    )
    return Move.enter(Step.OTHER_ACTIVE_ACCOUNT)


async def logged_in(turn: Turn, answer: LoggedIn) -> Move:
    """Remember the session, show « Mes enfants », and go on with the merge if that was the wish."""
    turn.credentials.session_token = answer.session_token
    turn.state.account_identifier = answer.account.identifier
    turn.state.typed_identifier = None
    turn.say(turn._("Login successful with the account {identifier}.").format(identifier=answer.account.identifier))
    await list_children(turn, tolerant=True)
    return Move.enter(Step.SOURCE_IDENTIFIER if turn.state.wants_merge else Step.MY_CHILDREN)


# --- activating a pending account -----------------------------------------------------------------


async def read_other_active_account(turn: Turn, _text: str, reading: Reading) -> Move:
    """« Oui » / « Non » to: do you already use another activated account with the same names?"""
    if reading.meaning == Meaning.YES:
        return await use_the_other_account(turn, "")
    if reading.meaning == Meaning.NO:
        return await activate_this_account(turn, "")
    if reading.meaning == Meaning.DONT_KNOW:
        turn.say(
            turn._(
                "If you have ever logged in to the portal with your own password, you have an activated account. "
                "If you are not sure, answer “No”: you can gather the accounts later."
            )
        )
        return Move.stay()
    return not_understood(turn)


async def use_the_other_account(turn: Turn, _argument: str) -> Move:
    """Yes: log in with the activated account (the one to keep), then add this one's children."""
    pending = turn.state.typed_identifier
    drop_flow(turn)
    turn.state.wants_merge = True
    turn.say(
        turn._(
            "Then keep that account: with two accounts, the portal asks you to log in with the one you keep. "
            "Log in with it now; then I ask for the identifier {identifier} and its temporary password "
            "to add its children. Nothing is activated."
        ).format(identifier=pending)
    )
    return Move.enter(Step.LOGIN_IDENTIFIER)


async def activate_this_account(turn: Turn, _argument: str) -> Move:
    """No: activate this account with a password the parent chooses."""
    turn.say(turn._("Let's activate it now: you will choose your own password."))
    return Move.enter(Step.NEW_PASSWORD)


async def read_new_password(turn: Turn, text: str, _reading: Reading) -> Move:
    """First typing of the new password: check every rule now, keep only a salted digest."""
    state = turn.state
    broken = broken_rules(
        text,
        min_length=state.password_min_length,
        max_length=state.password_max_length,
        identifier=state.typed_identifier or "",
    )
    if broken:
        lines = turn._("This password does not follow these rules:") + "\n" + password_rules_list(turn, broken)
        return Move.retry(lines)
    turn.credentials.new_password_digest = digest_password(text)
    return Move.advance(Step.NEW_PASSWORD_AGAIN)


async def read_new_password_again(turn: Turn, text: str, _reading: Reading) -> Move:
    """Second typing of the new password: compare, then activate the account."""
    _ = turn._
    digest, turn.credentials.new_password_digest = turn.credentials.new_password_digest, None
    if digest is None or not matches_digest(text, digest):
        return Move.retry(
            _("The two passwords are different. Please choose your new password again."), Step.NEW_PASSWORD
        )
    try:
        answer = await turn.service.activate(turn.requester, turn.credentials.activation_ticket or "", text)
    except PasswordPolicy as error:
        reply_to(turn, error)
        return Move.retry("", Step.NEW_PASSWORD)
    except (TicketInvalid, AccountMerged, ActivationSuperseded) as error:
        reply_to(turn, TicketInvalid() if isinstance(error, AccountMerged) else error)
        turn.credentials.activation_ticket = None
        return Move.enter(Step.LOGIN_IDENTIFIER)
    turn.credentials.activation_ticket = None
    turn.say(_("Your account is activated. Keep your password for yourself."))
    return await logged_in(turn, answer)


# --- the other account ----------------------------------------------------------------------------


async def read_source_identifier(turn: Turn, text: str, _reading: Reading) -> Move:
    """« Recherchez le compte » / « Identifiant » of the other account."""
    identifier, refusal = accept_identifier(turn, text)
    if identifier is None:
        return refusal
    turn.state.source_identifier = identifier
    return Move.advance(Step.SOURCE_PASSWORD)


async def read_source_password(turn: Turn, text: str, _reading: Reading) -> Move:
    """« Mot de passe » of the other account: verify it with the service at once."""
    if (move := still_throttled(turn) or readable_password(turn, text)) is not None:
        return move
    try:
        preview = await turn.service.preview_merge(
            turn.requester, session_token(turn), turn.state.source_identifier or "", text
        )
    except InvalidCredentials as error:
        reply_to(turn, error)
        return Move.retry("")
    except SameAccount as error:
        reply_to(turn, error)
        return Move.retry("", Step.SOURCE_IDENTIFIER)
    except Throttled as error:
        return throttle(turn, error)
    except (CredentialLocked, NamesDiffer, AccountMerged, ActivationRequired) as error:
        reply_to(turn, error)
        return end_merge_flow(turn)
    turn.state.note_children(
        [SeenChild(initial=child.initial, birth_date=child.birth_date) for child in preview.children]
    )
    if not preview.children:
        turn.say(turn._("The account {identifier} has no child to add.").format(identifier=preview.source.identifier))
        return end_merge_flow(turn)
    turn.state.pending = PendingMerge(
        ticket=preview.ticket,
        source_identifier=preview.source.identifier,
        source_status=preview.source.status,
        children=[
            FoundChild(
                ref=child.ref,
                label=child.label,
                already_linked=child.already_linked,
                current_legal_guardian=child.current_legal_guardian,
            )
            for child in preview.children
        ],
        idempotency_key=uuid.uuid4().hex,
    )
    return Move.enter(Step.CHOOSE_ROLES)


# --- the portal's form: the account found, its children, the checkbox of each -----------------------


async def show_form(turn: Turn, _argument: str) -> Move:
    """Show the portal's form again (a button of an older version's question, « Continuer » or « Oui »)."""
    pending = pending_merge(turn)
    pending.idempotency_key = pending.idempotency_key or uuid.uuid4().hex
    return Move.stay()


async def explain_legal_guardian(turn: Turn, _argument: str) -> Move:
    """« Qu'est-ce qu'un représentant légal ? »: the definition in a pop-up, the form stays as it is."""
    turn.notice = turn._(LEGAL_GUARDIAN_DEFINITION) + "\n" + turn._(NOT_SURE_OF_THE_ROLE)
    turn.notice_alert = True
    return Move.quiet()


async def read_roles_text(turn: Turn, _text: str, reading: Reading) -> Move:
    """The portal's form: only its button adds the students; a typed « oui » says which button, « non » never
    cancels (press « Annuler » for that).

    A dialog stored at an older version's question (« Est-ce le bon compte ? ») sees the form first.
    """
    if "apply" not in turn.state.offered:
        return await show_form(turn, "")
    if reading.meaning == Meaning.YES:
        turn.say(turn._("To add these students, press “Add these students to my account”."))
        return Move.stay()
    if reading.meaning == Meaning.NO:
        return Move.retry(
            turn._("To change a child's role, press their line. To stop without changing anything, press “Cancel”.")
        )
    if reading.meaning in {Meaning.DONT_KNOW, Meaning.ASK_LEGAL_GUARDIAN}:
        turn.say(turn._(LEGAL_GUARDIAN_DEFINITION))
        turn.say(turn._(NOT_SURE_OF_THE_ROLE))
        turn.offer_agent_for("asked")
        return Move.stay()
    return not_understood(turn)


async def toggle_guardian(turn: Turn, ref: str) -> Move:
    """« Je ne suis pas le représentant légal de cet élève »: flip the checkbox of one child."""
    pending = pending_merge(turn)
    child = next(child for child in pending.children if child.ref == ref)
    pending.legal_guardian[ref] = not pending.is_guardian(child)
    turn.edit_previous = True
    turn.notice = turn._("Noted.")
    return Move.stay()


async def apply_merge(turn: Turn, _argument: str) -> Move:
    """Final button: gather the accounts and say what was done."""
    pending = pending_merge(turn)
    pending.idempotency_key = pending.idempotency_key or uuid.uuid4().hex
    roles = [
        RoleDeclaration(
            ref=child.ref, legal_guardian=pending.is_guardian(child), change_role=pending.changes_role(child)
        )
        for child in pending.children
    ]
    try:
        result = await turn.service.merge(
            turn.requester, session_token(turn), pending.ticket, pending.idempotency_key, roles
        )
    except TicketInvalid as error:
        source = pending.source_identifier
        drop_flow(turn)
        turn.state.wants_merge, turn.state.source_identifier = True, source
        reply_to(turn, error)
        return Move.enter(Step.SOURCE_PASSWORD)
    except (MergeConflict, IdempotencyConflict) as error:
        reply_to(turn, error)
        await list_children(turn, tolerant=True)
        return end_merge_flow(turn)
    except (Throttled, CredentialLocked, NamesDiffer, AccountMerged, SameAccount, ActivationRequired) as error:
        reply_to(turn, error)
        return end_merge_flow(turn)
    say_merge_result(turn, result)
    turn.state.completed = CompletedMerge(
        source_identifier=result.source_identifier, added=[child.label for child in result.added]
    )
    await list_children(turn, tolerant=True)
    return end_merge_flow(turn)


def say_merge_result(turn: Turn, result: MergeResult) -> None:
    """Say which children were added, which were already there, whose role changed, and what happens next."""
    _ = turn._
    if result.added:
        title = turn.ngettext(
            "Done! This child was added to your account:",
            "Done! These children were added to your account:",
            len(result.added),
        )
        turn.say("\n".join([title, *(role_line(turn, child.label, child.legal_guardian) for child in result.added)]))
    if result.already_linked:
        title = turn.ngettext(
            "This child was already on your account:",
            "These children were already on your account:",
            len(result.already_linked),
        )
        lines = (role_line(turn, child.label, child.legal_guardian) for child in result.already_linked)
        turn.say("\n".join([title, *lines]))
    if result.roles_changed:
        title = turn.ngettext(
            "As you asked, the role of this child changed:",
            "As you asked, the role of these children changed:",
            len(result.roles_changed),
        )
        lines = (role_line(turn, child.label, child.legal_guardian) for child in result.roles_changed)
        turn.say("\n".join([title, *lines]))
    turn.say(
        _(
            "They now appear in “My children” and in the portals, and the schools' services are informed. "
            "The account {source} is now closed."
        ).format(source=result.source_identifier)
    )


# --- anywhere: commands and the meanings every step understands -----------------------------------


async def cancel_step(turn: Turn, _argument: str) -> Move:
    """/annuler, « Annuler », « annuler » typed: say what is cancelled; the login stays."""
    if turn.flow is None:
        turn.say(turn._("There is nothing to cancel."))
    else:
        say_flow_left(turn)
    drop_flow(turn)
    return Move.enter(resting_step(turn))


async def restart(turn: Turn, _argument: str) -> Move:
    """/start: start over (the login and the language stay, and the parent is told so)."""
    say_flow_left(turn)
    drop_flow(turn)
    greet(turn)
    return Move.enter(Step.WELCOME)


async def show_help(turn: Turn, _argument: str) -> Move:
    """/aide, « aide »: the commands, and the question again (the step's help is added by the engine)."""
    _ = turn._
    commands = "\n".join(f"/{name} — {description}" for name, description in command_menu(turn.state.language))
    turn.say(_("Commands:") + "\n" + commands)
    return Move.help()


LANGUAGE_WORDS = {"en": "en", "english": "en", "anglais": "en", "fr": "fr", "francais": "fr", "french": "fr"}


async def switch_language(turn: Turn, argument: str) -> Move:
    """/langue [fr|en]: switch to the language asked, or to the other one."""
    asked = LANGUAGE_WORDS.get(fold(argument.strip()))
    current = turn.state.language
    turn.state.language = asked or next(language for language in SUPPORTED_LANGUAGES if language != current)
    turn.say(turn._("From now on, I speak English."))
    return Move.stay()


async def speak_english(turn: Turn, _argument: str) -> Move:
    """« Do you speak English? »: yes."""
    return await switch_language(turn, "en")


async def log_out(turn: Turn, _argument: str) -> Move:
    """/deconnexion: close the session and forget it here."""
    _ = turn._
    if not turn.logged_in:
        turn.say(_("You are not logged in."))
        return Move.stay()
    try:
        await turn.service.log_out(turn.requester, session_token(turn))
    except (SessionInvalid, ServiceUnavailable) as error:
        logger.info("logout of %s: %s, forgotten here anyway", turn.requester, error.code)
    say_flow_left(turn)
    forget_login(turn)
    drop_flow(turn)
    turn.say(_("You are logged out. See you soon!"))
    return Move.enter(Step.WELCOME)


async def read_unknown_command(turn: Turn, command: str) -> Move:
    """An unknown command: list the known ones."""
    shown = without_control_characters(command)[:32]
    commands = "\n".join(f"/{name} — {description}" for name, description in command_menu(turn.state.language))
    turn.say(
        turn._("I do not know the command /{command}. Here are the ones I know:").format(command=shown)
        + "\n"
        + commands
    )
    return Move.stay()


TOPIC_ANSWERS: dict[Meaning, str] = {
    Meaning.ASK_TEMPORARY_PASSWORD: N_(
        "The temporary password is on the letter the school gave you for the other account, "
        "next to its “Identifier”: 12 letters and digits, like XXXX-XXXX-XXXX. "
        "It works once, to add its children or to activate the account."
    ),
    Meaning.ASK_IDENTIFIER: N_(
        "The identifier is the name of an account on the portal, without spaces, often like “c.martin7”. "
        "It is on the school's letter, or it is the one you type to log in to the portal."
    ),
    Meaning.ASK_LEGAL_GUARDIAN: LEGAL_GUARDIAN_DEFINITION,
    Meaning.NO_LETTER_RECEIVED: N_(
        "Without the letter, ask the school where the child is enrolled: it gives the identifier and a new "
        "temporary password of the other account. An agent can also help you."
    ),
    Meaning.THANKS: N_("You're welcome!"),
    Meaning.GREETING: N_("Hello!"),
}


async def answer_topic(turn: Turn, meaning: Meaning) -> Move:
    """Answer a common question where it is asked, then ask the step's question again (not counted)."""
    turn.say(turn._(TOPIC_ANSWERS[meaning]))
    if meaning == Meaning.NO_LETTER_RECEIVED:
        turn.offer_agent_for("asked")
    return Move.stay()
