"""The guided conversation: one small function per step, and the tables that route to them.

Reading order: prompts (the question of each step), hints (more help on each retry), then the
handlers of typed text, buttons and commands, and at the bottom the transition tables.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable

from conversations.commands import command_menu, find_command
from conversations.i18n import N_, SUPPORTED_LANGUAGES
from conversations.messages import Inbound
from conversations.service_port import (
    AccountMerged,
    ActivationNeeded,
    ActivationRequired,
    ActivationSuperseded,
    CredentialLocked,
    EscalationRequest,
    IdempotencyConflict,
    InvalidCredentials,
    LoggedIn,
    MergeConflict,
    MergeResult,
    NamesDiffer,
    PasswordPolicy,
    RoleDeclaration,
    SameAccount,
    ServiceError,
    ServiceUnavailable,
    SessionInvalid,
    Throttled,
    TicketInvalid,
    TranscriptLine,
)
from conversations.state import CompletedMerge, FoundChild, PendingMerge, Step
from conversations.text_input import (
    IdentifierProblem,
    Intent,
    detect_intent,
    fold,
    password_is_readable,
    read_identifier,
    without_control_characters,
)
from conversations.turn import AGENT_ACTION, Turn, decode_button
from conversations.typed_password import digest_password, matches_digest

logger = logging.getLogger(__name__)

Handler = Callable[[Turn, str], Awaitable[None]]
TOGGLE_PREFIX = "t:"


# --- prompts: the question each step asks ---------------------------------------------------


def greet(turn: Turn) -> None:
    """Say in a few sentences what the bot does and what the parent needs."""
    _ = turn._
    turn.say(
        _(
            "Hello! I help you gather all your children under one account of the parents' portal.\n"
            "You need the identifier and the temporary password of the other account: the school gives them to you.\n"
            "Both accounts must have exactly the same last name and first name."
        )
    )


def ask_menu(turn: Turn) -> None:
    """Offer the three ways in."""
    _ = turn._
    if turn.logged_in:
        turn.say(_("You are logged in as {identifier}.").format(identifier=turn.state.account_identifier))
    turn.ask(
        _("What would you like to do?"),
        [[(_("Link a child"), "link")], [(_("My children"), "kids")], [(_("Talk to an agent"), AGENT_ACTION)]],
    )


def ask_children_menu(turn: Turn) -> None:
    """Offer to add students from another account, as the portal's « Mes enfants » tab does."""
    _ = turn._
    turn.ask(
        _("What would you like to do now?"),
        [
            [(_("Add students from another account"), "add")],
            [(_("My children"), "kids")],
            [(_("Talk to an agent"), AGENT_ACTION)],
        ],
    )


def ask_login_identifier(turn: Turn) -> None:
    """Ask the identifier of the account to keep."""
    _ = turn._
    turn.ask(
        _(
            "Log in with the account you want to keep. If you have two active accounts, use the one you want to keep.\n"
            "“Identifier”: type the identifier of this account."
        )
    )


def ask_login_password(turn: Turn) -> None:
    """Ask the password of the account to keep."""
    _ = turn._
    turn.ask(
        _(
            "“Password”: type the password of the account {identifier}.\n"
            "I do not keep it: I only pass it on to the portal to check it."
        ).format(identifier=turn.state.typed_identifier)
    )


def ask_new_password(turn: Turn) -> None:
    """Ask for the new password of an account being activated, with the rules in plain words."""
    _ = turn._
    turn.ask(
        _(
            "Choose your new password. It must have at least {min_length} characters, "
            "with letters and also digits or signs, and without your name or your identifier. "
            "A short sentence with a digit is easy to remember and hard to guess.\n"
            "I do not keep it: I only pass it on to the portal to check it."
        ).format(min_length=turn.state.password_min_length)
    )


def ask_new_password_again(turn: Turn) -> None:
    """Ask for the new password a second time."""
    _ = turn._
    turn.ask(_("Type the same new password again, to make sure there is no typo."))


def ask_source_identifier(turn: Turn) -> None:
    """Ask the identifier of the other account (« Recherchez le compte »)."""
    _ = turn._
    turn.ask(
        _("“Find the account”\n“Identifier”: type the identifier of the other account, the one the school gave you.")
    )


def ask_source_password(turn: Turn) -> None:
    """Ask the password of the other account."""
    _ = turn._
    turn.ask(
        _(
            "“Password”: type the password of the account {identifier}: the temporary password from the school, "
            "or its current password if it is already active.\n"
            "I do not keep it: I only pass it on to the portal to check it."
        ).format(identifier=turn.state.source_identifier)
    )


def ask_confirm_source(turn: Turn) -> None:
    """Show the account found and ask to confirm it (« Annuler » / « Continuer »)."""
    _ = turn._
    pending = _pending(turn)
    count = len(pending.children)
    found = turn.ngettext(
        "I found the account {identifier}. It holds {count} child:",
        "I found the account {identifier}. It holds {count} children:",
        count,
    ).format(identifier=pending.source_identifier, count=count)
    turn.say("\n".join([found, *(child.label for child in pending.children)]))
    if pending.source_status == "active":
        turn.say(
            _(
                "This account is active. After the merge it will be closed, and you will use only the account {target}."
            ).format(target=turn.state.account_identifier)
        )
    turn.ask(_("Is this the right account?"), [[(_("Cancel"), "cancel"), (_("Continue"), "continue")]])


def ask_roles(turn: Turn) -> None:
    """List the children with their « pas représentant légal » toggles and the final button."""
    _ = turn._
    pending = _pending(turn)
    rows = [[(_guardian_toggle_label(turn, child, pending), TOGGLE_PREFIX + child.ref)] for child in pending.children]
    rows += [[(_("Add these students to my account"), "apply")], [(_("Cancel"), "cancel")]]
    turn.ask(
        _(
            "“Add students from another account”\n"
            "For each child, press their line if you are not their legal guardian.\n"
            "Then press “Add these students to my account”: the account {source} will be closed "
            "and its children will join your account {target}."
        ).format(source=pending.source_identifier, target=turn.state.account_identifier),
        rows,
    )


def _guardian_toggle_label(turn: Turn, child: FoundChild, pending: PendingMerge) -> str:
    mark = "☑" if child.ref in pending.not_guardian else "☐"
    return turn._("{child} · {mark} I am not this student's legal guardian").format(child=child.label, mark=mark)


PROMPTS: dict[Step, Callable[[Turn], None]] = {
    Step.WELCOME: ask_menu,
    Step.LOGIN_IDENTIFIER: ask_login_identifier,
    Step.LOGIN_PASSWORD: ask_login_password,
    Step.NEW_PASSWORD: ask_new_password,
    Step.NEW_PASSWORD_AGAIN: ask_new_password_again,
    Step.MY_CHILDREN: ask_children_menu,
    Step.SOURCE_IDENTIFIER: ask_source_identifier,
    Step.SOURCE_PASSWORD: ask_source_password,
    Step.CONFIRM_SOURCE: ask_confirm_source,
    Step.CHOOSE_ROLES: ask_roles,
}

# More help each time a step is asked again: (first retry, second retry and after).
HINTS: dict[Step, tuple[str, str]] = {
    Step.WELCOME: (
        N_("Choose a button below, or tell me in a few words what you want, for example “add my son”."),
        N_(
            "To add a child who is on another account, press “Link a child”. "
            "To talk to a person, press “Talk to an agent”."
        ),
    ),
    Step.LOGIN_IDENTIFIER: (
        N_("An identifier has no spaces. It is on the letter from the school, or it is the one you use on the portal."),
        N_(
            "Type only the identifier, for example c.martin. If you cannot find it, ask the school or talk to an agent."
        ),
    ),
    Step.LOGIN_PASSWORD: (
        N_(
            "Type the password exactly, with its capital letters and signs. "
            "If the account is not activated yet, type the temporary password from the school."
        ),
        N_("If you forgot your password, ask the school for a new temporary password, or talk to an agent."),
    ),
    Step.NEW_PASSWORD: (
        N_("Make it long: a short sentence with a digit is a good choice, for example “My cat sleeps in the sun 7”."),
        N_(
            "The password must mix letters with digits or signs, must not contain your name or your identifier, "
            "and must not look like a temporary password."
        ),
    ),
    Step.NEW_PASSWORD_AGAIN: (
        N_("Type exactly the same password as just before."),
        N_("If you are not sure any more, type /cancel and start again."),
    ),
    Step.MY_CHILDREN: (
        N_("Press “Add students from another account” to add children who are on another account."),
        N_("Type /help to see everything I can do."),
    ),
    Step.SOURCE_IDENTIFIER: (
        N_("The identifier of the other account is on the letter from the school. It has no spaces."),
        N_("If you do not have it, ask the school where the missing child is enrolled, or talk to an agent."),
    ),
    Step.SOURCE_PASSWORD: (
        N_("Type the temporary password exactly as it is written on the letter, with its dashes."),
        N_("If the temporary password has expired, ask the school for a new one, or talk to an agent."),
    ),
    Step.CONFIRM_SOURCE: (
        N_("Press “Continue” if this is the right account, or “Cancel”."),
        N_("You can also type “continue” or “cancel”."),
    ),
    Step.CHOOSE_ROLES: (
        N_("Press a child's line if you are not their legal guardian, then press “Add these students to my account”."),
        N_("To stop without changing anything, press “Cancel”."),
    ),
}

IDENTIFIER_PROBLEMS: dict[IdentifierProblem, str] = {
    IdentifierProblem.EMPTY: N_("Your message is empty."),
    IdentifierProblem.TOO_LONG: N_("This is too long for an identifier."),
    IdentifierProblem.SPACES: N_("An identifier has no spaces."),
    IdentifierProblem.CHARACTERS: N_("An identifier has only letters, digits, dots and dashes."),
}

PASSWORD_RULES: dict[str, str] = {
    "too_short": N_("at least {min_length} characters"),
    "too_long": N_("at most {max_length} characters"),
    "single_character_kind": N_("not only letters, and not only digits"),
    "contains_identifier": N_("without your identifier"),
    "contains_name": N_("without your last name or first name"),
    "temporary_password_shape": N_("not shaped like a temporary password (XXXX-XXXX-XXXX)"),
}


# --- shared moves ------------------------------------------------------------------------------


def retry(turn: Turn, problem: str, step: Step | None = None) -> None:
    """Ask the current (or given) step again with more help; after the last try, offer an agent."""
    state = turn.state
    state.attempts += 1
    state.step = step or state.step
    turn.say(problem)
    turn.say(turn._(HINTS[state.step][min(state.attempts, 2) - 1]))
    if state.attempts >= turn.max_attempts:
        offer_agent(turn, "repeated_invalid_input")
        turn.say(turn._("This seems difficult. An agent can help you: press “Talk to an agent”."))
    PROMPTS[state.step](turn)


def offer_agent(turn: Turn, reason: str) -> None:
    """Add « Parler à un conseiller » to the next buttons, remembering why."""
    turn.offer_agent = True
    turn.state.escalation_reason = reason


def resting_step(turn: Turn) -> Step:
    """The menu that fits: « Mes enfants » when logged in, the welcome menu otherwise."""
    return Step.MY_CHILDREN if turn.logged_in else Step.WELCOME


def enter(turn: Turn, step: Step) -> None:
    """Move to a step and ask its question."""
    turn.enter(step, PROMPTS[step])


def advance(turn: Turn, step: Step) -> None:
    """Move to the next half of the same question (identifier, then password): attempts add up."""
    turn.state.step = step
    PROMPTS[step](turn)


def drop_flow(turn: Turn) -> None:
    """Forget everything collected for the step in progress (never the login or the language)."""
    state, credentials = turn.state, turn.credentials
    state.wants_merge = False
    state.typed_identifier = state.source_identifier = None
    state.pending = None
    credentials.activation_ticket = credentials.new_password_digest = None


def forget_login(turn: Turn) -> None:
    """Forget the parent's session."""
    turn.credentials.session_token = None
    turn.state.account_identifier = None


def session_token(turn: Turn) -> str:
    """The parent's session token (the step is only reachable when logged in)."""
    if turn.credentials.session_token is None:
        raise SessionInvalid("no session in this chat")
    return turn.credentials.session_token


def _pending(turn: Turn) -> PendingMerge:
    if turn.state.pending is None:
        raise LookupError("no verified account in this dialog step")
    return turn.state.pending


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
    if not listing.children:
        turn.say(
            _("“My children”: there is no child on the account {identifier} yet.").format(
                identifier=listing.account.identifier
            )
        )
        return
    lines = [_("“My children” on the account {identifier}:").format(identifier=listing.account.identifier)]
    lines += [_role_line(turn, child.label, child.legal_guardian) for child in listing.children]
    turn.say("\n".join(lines))


def _role_line(turn: Turn, label: str, legal_guardian: bool) -> str:
    role = turn._("legal guardian") if legal_guardian else turn._("not the legal guardian")
    return turn._("• {child} — {role}").format(child=label, role=role)


def say_throttled(turn: Turn, error: ServiceError) -> None:
    """Say that there were too many tries, and when to try again."""
    seconds = max(int(error.retry_after or 60), 1)
    if seconds < 120:
        wait = turn.ngettext("{count} second", "{count} seconds", seconds).format(count=seconds)
    else:
        minutes = math.ceil(seconds / 60)
        wait = turn.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)
    turn.say(turn._("Too many tries. For your security, please wait {wait} before trying again.").format(wait=wait))


def say_locked(turn: Turn) -> None:
    """Say that the account is locked and the school must issue a new temporary password."""
    turn.say(
        turn._(
            "This account is locked after too many wrong passwords. "
            "Ask the school for a new temporary password: it unlocks the account."
        )
    )
    offer_agent(turn, "credential_locked")


def say_names_differ(turn: Turn) -> None:
    """Explain the identical-names rule and what the parent can do."""
    turn.say(
        turn._(
            "The two accounts do not have exactly the same last name and first name, so I cannot gather them. "
            "This is a rule of the portal. The school can correct the name on an account: ask it, then try again."
        )
    )
    offer_agent(turn, "names_differ")


def say_source_merged(turn: Turn) -> None:
    """Explain that the other account was already gathered into an account."""
    turn.say(
        turn._(
            "This account was already gathered into another account: its children are on that account. "
            "Look at “My children”."
        )
    )


def end_merge_flow(turn: Turn) -> None:
    """Leave the merge flow and rest on « Mes enfants » (the identifier typed stays, for an agent)."""
    source = turn.state.source_identifier
    drop_flow(turn)
    turn.state.source_identifier = source
    enter(turn, Step.MY_CHILDREN)


# --- typed text, step by step ------------------------------------------------------------------


async def read_menu_choice(turn: Turn, text: str) -> None:
    """Menus: understand free text such as "je veux ajouter mon fils"."""
    await _follow_intent(
        turn, text, {Intent.LINK_CHILD: start_linking, Intent.MY_CHILDREN: show_children, Intent.AGENT: talk_to_agent}
    )


async def read_confirmation(turn: Turn, text: str) -> None:
    """Account found: accept "continuer" / "annuler" typed instead of pressed."""
    await _follow_intent(
        turn, text, {Intent.CONTINUE: continue_to_roles, Intent.CANCEL: cancel_step, Intent.AGENT: talk_to_agent}
    )


async def read_roles_text(turn: Turn, text: str) -> None:
    """Roles: only buttons here, but "annuler" is understood."""
    await _follow_intent(turn, text, {Intent.CANCEL: cancel_step, Intent.AGENT: talk_to_agent})


async def _follow_intent(turn: Turn, text: str, handlers: dict[Intent, Handler]) -> None:
    intent = detect_intent(text, frozenset(handlers))
    if intent is None:
        retry(turn, turn._("Sorry, I did not understand."))
        return
    await handlers[intent](turn, "")


def accept_identifier(turn: Turn, text: str) -> str | None:
    """The identifier typed, or None after saying why it cannot be one and asking again."""
    identifier, problem = read_identifier(text)
    if problem is None:
        return identifier
    retry(turn, turn._(IDENTIFIER_PROBLEMS[problem]))
    return None


def accept_password(turn: Turn, text: str) -> bool:
    """Whether the typed password can be sent; if not, ask again."""
    if password_is_readable(text):
        return True
    retry(turn, turn._("This cannot be a password: it is empty or too long."))
    return False


async def read_login_identifier(turn: Turn, text: str) -> None:
    """« Identifiant » of the account to keep."""
    if (identifier := accept_identifier(turn, text)) is not None:
        turn.state.typed_identifier = identifier
        advance(turn, Step.LOGIN_PASSWORD)


async def read_login_password(turn: Turn, text: str) -> None:
    """« Mot de passe » of the account to keep: log in right away."""
    _ = turn._
    if not accept_password(turn, text):
        return
    try:
        answer = await turn.service.log_in(turn.requester, turn.state.typed_identifier or "", text)
    except InvalidCredentials:
        retry(
            turn,
            _("The identifier or the password is not correct. Let's start again with the identifier."),
            Step.LOGIN_IDENTIFIER,
        )
        return
    except Throttled as error:
        say_throttled(turn, error)
        enter(turn, Step.WELCOME)
        return
    except CredentialLocked:
        say_locked(turn)
        enter(turn, Step.WELCOME)
        return
    except AccountMerged:
        retry(
            turn,
            _("This account was gathered into another account and is closed. Log in with the account you kept."),
            Step.LOGIN_IDENTIFIER,
        )
        return
    if isinstance(answer, ActivationNeeded):
        await start_activation(turn, answer)
    else:
        await logged_in(turn, answer)


async def start_activation(turn: Turn, answer: ActivationNeeded) -> None:
    """The account is not activated yet: guide the choice of a password."""
    turn.credentials.activation_ticket = answer.activation_ticket
    turn.state.password_min_length = int(answer.password_policy.get("min_length", turn.state.password_min_length))
    turn.state.password_max_length = int(answer.password_policy.get("max_length", turn.state.password_max_length))
    turn.say(turn._("This account is not activated yet. Let's activate it now: you will choose your own password."))
    enter(turn, Step.NEW_PASSWORD)


async def logged_in(turn: Turn, answer: LoggedIn) -> None:
    """Remember the session, show « Mes enfants », and go on with the merge if that was the wish."""
    turn.credentials.session_token = answer.session_token
    turn.state.account_identifier = answer.account.identifier
    turn.state.typed_identifier = None
    turn.say(turn._("You are logged in as {identifier}.").format(identifier=answer.account.identifier))
    await list_children(turn, tolerant=True)
    enter(turn, Step.SOURCE_IDENTIFIER if turn.state.wants_merge else Step.MY_CHILDREN)


async def read_new_password(turn: Turn, text: str) -> None:
    """First typing of the new password: check the length, keep only a salted digest."""
    _ = turn._
    state = turn.state
    if len(text) < state.password_min_length:
        retry(
            turn,
            _("This password is too short: it needs at least {min_length} characters.").format(
                min_length=state.password_min_length
            ),
        )
    elif len(text) > state.password_max_length:
        retry(
            turn,
            _("This password is too long: at most {max_length} characters.").format(
                max_length=state.password_max_length
            ),
        )
    else:
        turn.credentials.new_password_digest = digest_password(text)
        advance(turn, Step.NEW_PASSWORD_AGAIN)


async def read_new_password_again(turn: Turn, text: str) -> None:
    """Second typing of the new password: compare, then activate the account."""
    _ = turn._
    digest, turn.credentials.new_password_digest = turn.credentials.new_password_digest, None
    if digest is None or not matches_digest(text, digest):
        retry(turn, _("The two passwords are different. Please choose your new password again."), Step.NEW_PASSWORD)
        return
    try:
        answer = await turn.service.activate(turn.requester, turn.credentials.activation_ticket or "", text)
    except PasswordPolicy as error:
        retry(turn, explain_password_refusal(turn, error), Step.NEW_PASSWORD)
        return
    except (TicketInvalid, AccountMerged):
        turn.credentials.activation_ticket = None
        turn.say(_("The activation has expired. Please log in again with the temporary password."))
        enter(turn, Step.LOGIN_IDENTIFIER)
        return
    except ActivationSuperseded:
        turn.credentials.activation_ticket = None
        turn.say(
            _(
                "This account was activated meanwhile, or the school gave a new temporary password: "
                "your new password was not saved. Please log in again."
            )
        )
        enter(turn, Step.LOGIN_IDENTIFIER)
        return
    turn.credentials.activation_ticket = None
    turn.say(_("Your account is activated. Keep your password for yourself."))
    await logged_in(turn, answer)


def explain_password_refusal(turn: Turn, error: ServiceError) -> str:
    """The rules the refused password broke, in plain words."""
    _ = turn._
    rules = [str(detail.get("rule", "")) for detail in error.details if isinstance(detail, dict)]
    broken = [
        _(PASSWORD_RULES[rule]).format(
            min_length=turn.state.password_min_length, max_length=turn.state.password_max_length
        )
        for rule in rules
        if rule in PASSWORD_RULES
    ]
    lines = [_("The portal refused this password. Please choose another one:"), *(f"• {rule}" for rule in broken)]
    return "\n".join(lines)


async def read_source_identifier(turn: Turn, text: str) -> None:
    """« Recherchez le compte » / « Identifiant » of the other account."""
    if (identifier := accept_identifier(turn, text)) is not None:
        turn.state.source_identifier = identifier
        advance(turn, Step.SOURCE_PASSWORD)


async def read_source_password(turn: Turn, text: str) -> None:
    """« Mot de passe » of the other account: verify it with the service at once."""
    _ = turn._
    if not accept_password(turn, text):
        return
    try:
        preview = await turn.service.preview_merge(
            turn.requester, session_token(turn), turn.state.source_identifier or "", text
        )
    except InvalidCredentials:
        retry(
            turn,
            _("The identifier or the password is not correct. Let's start again with the identifier."),
            Step.SOURCE_IDENTIFIER,
        )
        return
    except SameAccount:
        retry(
            turn,
            _("This is the account you are logged in with. Type the identifier of the other account."),
            Step.SOURCE_IDENTIFIER,
        )
        return
    except (Throttled, CredentialLocked, NamesDiffer, AccountMerged, ActivationRequired) as error:
        say_merge_refusal(turn, error)
        end_merge_flow(turn)
        return
    if not preview.children:
        turn.say(_("The account {identifier} has no child to add.").format(identifier=preview.source.identifier))
        end_merge_flow(turn)
        return
    turn.state.pending = PendingMerge(
        ticket=preview.ticket,
        source_identifier=preview.source.identifier,
        source_status=preview.source.status,
        children=[FoundChild(ref=child.ref, label=child.label) for child in preview.children],
    )
    enter(turn, Step.CONFIRM_SOURCE)


def say_merge_refusal(turn: Turn, error: ServiceError) -> None:
    """Explain why the service refused to gather these two accounts."""
    if isinstance(error, Throttled):
        say_throttled(turn, error)
    elif isinstance(error, CredentialLocked):
        say_locked(turn)
    elif isinstance(error, NamesDiffer):
        say_names_differ(turn)
    elif isinstance(error, AccountMerged):
        say_source_merged(turn)
    elif isinstance(error, SameAccount):
        turn.say(turn._("This is the account you are logged in with: there is nothing to gather."))
    else:
        turn.say(
            turn._("Your account must be activated before you can add students to it. Log in again to activate it.")
        )


# --- buttons and commands ----------------------------------------------------------------------


async def start_linking(turn: Turn, _argument: str) -> None:
    """« Rattacher un enfant »: log in first if needed, then « Recherchez le compte »."""
    drop_flow(turn)
    turn.state.wants_merge = True
    enter(turn, Step.SOURCE_IDENTIFIER if turn.logged_in else Step.LOGIN_IDENTIFIER)


async def show_children(turn: Turn, _argument: str) -> None:
    """« Mes enfants »: list the children (after logging in if needed)."""
    drop_flow(turn)
    if not turn.logged_in:
        turn.say(turn._("To see your children, please log in first."))
        enter(turn, Step.LOGIN_IDENTIFIER)
        return
    await list_children(turn)
    enter(turn, Step.MY_CHILDREN)


async def continue_to_roles(turn: Turn, _argument: str) -> None:
    """« Continuer »: show the children with their toggles; the merge key is fixed here, once."""
    pending = _pending(turn)
    pending.idempotency_key = pending.idempotency_key or uuid.uuid4().hex
    enter(turn, Step.CHOOSE_ROLES)


async def toggle_guardian(turn: Turn, ref: str) -> None:
    """« Je ne suis pas le représentant légal de cet élève »: flip the toggle of one child."""
    pending = _pending(turn)
    if ref in pending.not_guardian:
        pending.not_guardian.remove(ref)
    else:
        pending.not_guardian.append(ref)
    turn.edit_previous = True
    turn.notice = turn._("Noted.")
    ask_roles(turn)


async def apply_merge(turn: Turn, _argument: str) -> None:
    """Final button: gather the accounts and say what was done."""
    _ = turn._
    pending = _pending(turn)
    roles = [
        RoleDeclaration(ref=child.ref, legal_guardian=child.ref not in pending.not_guardian)
        for child in pending.children
    ]
    try:
        result = await turn.service.merge(
            turn.requester, session_token(turn), pending.ticket, pending.idempotency_key or "", roles
        )
    except TicketInvalid:
        source = pending.source_identifier
        drop_flow(turn)
        turn.state.wants_merge, turn.state.source_identifier = True, source
        turn.say(
            _("The check of the account {identifier} has expired. Please type its password again.").format(
                identifier=source
            )
        )
        enter(turn, Step.SOURCE_PASSWORD)
        return
    except (MergeConflict, IdempotencyConflict):
        turn.say(_("This account has just been gathered by another request. Here are your children now."))
        await list_children(turn, tolerant=True)
        end_merge_flow(turn)
        return
    except (Throttled, CredentialLocked, NamesDiffer, AccountMerged, SameAccount, ActivationRequired) as error:
        say_merge_refusal(turn, error)
        end_merge_flow(turn)
        return
    say_merge_result(turn, result)
    turn.state.completed = CompletedMerge(
        source_identifier=result.source_identifier, added=[child.label for child in result.added]
    )
    await list_children(turn, tolerant=True)
    end_merge_flow(turn)


def say_merge_result(turn: Turn, result: MergeResult) -> None:
    """Say which children were added and what happens next."""
    _ = turn._
    if result.added:
        title = turn.ngettext(
            "Done! This child was added to your account:",
            "Done! These children were added to your account:",
            len(result.added),
        )
        turn.say("\n".join([title, *(_role_line(turn, child.label, child.legal_guardian) for child in result.added)]))
    if result.already_linked:
        turn.say(
            "\n".join(
                [
                    _("These children were already on your account:"),
                    *(_role_line(turn, child.label, child.legal_guardian) for child in result.already_linked),
                ]
            )
        )
    turn.say(
        _(
            "They now appear in “My children” and in the portals, and the schools' services are informed. "
            "The account {source} is now closed."
        ).format(source=result.source_identifier)
    )


async def cancel_step(turn: Turn, _argument: str) -> None:
    """/annuler or « Annuler »: say what is cancelled; the login stays."""
    _ = turn._
    step = turn.state.step
    if step in {Step.WELCOME, Step.MY_CHILDREN}:
        turn.say(_("There is nothing to cancel."))
    elif step in {Step.LOGIN_IDENTIFIER, Step.LOGIN_PASSWORD, Step.NEW_PASSWORD, Step.NEW_PASSWORD_AGAIN}:
        turn.say(_("Login cancelled."))
    else:
        turn.say(_("Adding students from another account is cancelled. Nothing has changed on your accounts."))
    drop_flow(turn)
    enter(turn, resting_step(turn))


async def restart(turn: Turn, _argument: str) -> None:
    """/start: start over (the login and the language stay)."""
    drop_flow(turn)
    greet(turn)
    enter(turn, Step.WELCOME)


async def show_help(turn: Turn, _argument: str) -> None:
    """/aide: the commands, and help for the current step."""
    _ = turn._
    commands = "\n".join(f"/{name} — {description}" for name, description in command_menu(turn.state.language))
    turn.say(_("Commands:") + "\n" + commands)
    turn.say(_(HINTS[turn.state.step][0]))
    PROMPTS[turn.state.step](turn)


async def talk_to_agent(turn: Turn, _argument: str) -> None:
    """/conseiller or « Parler à un conseiller »: record an escalation without any password."""
    _ = turn._
    state = turn.state
    channel, _separator, chat_ref = turn.requester.partition(":")
    collected = {
        key: value
        for key, value in (
            ("identifier", state.account_identifier or state.typed_identifier),
            ("source_identifier", state.source_identifier),
        )
        if value
    }
    request = EscalationRequest(
        channel=channel,
        chat_ref=chat_ref or channel,
        reason=state.escalation_reason,
        step=state.step.value,
        language=state.language,
        collected=collected,
        transcript=[
            TranscriptLine.model_validate({"at": line.at.isoformat(), "sender": line.sender, "text": line.text})
            for line in state.transcript
        ],
    )
    receipt = await turn.service.escalate(turn.requester, request)
    turn.say(
        _(
            "I have passed your request to the helpdesk (reference {reference}). "
            "An agent will read our conversation and answer you here. Your passwords are never passed on."
        ).format(reference=receipt.reference)
    )
    PROMPTS[state.step](turn)


LANGUAGE_WORDS = {"en": "en", "english": "en", "anglais": "en", "fr": "fr", "francais": "fr", "french": "fr"}


async def switch_language(turn: Turn, argument: str) -> None:
    """/langue [fr|en]: switch to the language asked, or to the other one."""
    asked = LANGUAGE_WORDS.get(fold(argument.strip()))
    current = turn.state.language
    turn.state.language = asked or next(language for language in SUPPORTED_LANGUAGES if language != current)
    turn.say(turn._("From now on, I speak English."))
    PROMPTS[turn.state.step](turn)


async def log_out(turn: Turn, _argument: str) -> None:
    """/deconnexion: close the session and forget it here."""
    _ = turn._
    if not turn.logged_in:
        turn.say(_("You are not logged in."))
        PROMPTS[turn.state.step](turn)
        return
    try:
        await turn.service.log_out(turn.requester, session_token(turn))
    except (SessionInvalid, ServiceUnavailable) as error:
        logger.info("logout of %s: %s, forgotten here anyway", turn.requester, error.code)
    forget_login(turn)
    drop_flow(turn)
    turn.say(_("You are logged out. See you soon!"))
    enter(turn, Step.WELCOME)


async def read_unknown_command(turn: Turn, command: str) -> None:
    """An unknown command: list the known ones."""
    _ = turn._
    shown = without_control_characters(command)[:32]
    commands = "\n".join(f"/{name} — {description}" for name, description in command_menu(turn.state.language))
    turn.say(
        _("I do not know the command /{command}. Here are the ones I know:").format(command=shown) + "\n" + commands
    )
    PROMPTS[turn.state.step](turn)


# --- the transition tables -------------------------------------------------------------------

TEXT_STEPS: dict[Step, Handler] = {
    Step.WELCOME: read_menu_choice,
    Step.LOGIN_IDENTIFIER: read_login_identifier,
    Step.LOGIN_PASSWORD: read_login_password,
    Step.NEW_PASSWORD: read_new_password,
    Step.NEW_PASSWORD_AGAIN: read_new_password_again,
    Step.MY_CHILDREN: read_menu_choice,
    Step.SOURCE_IDENTIFIER: read_source_identifier,
    Step.SOURCE_PASSWORD: read_source_password,
    Step.CONFIRM_SOURCE: read_confirmation,
    Step.CHOOSE_ROLES: read_roles_text,
}

BUTTONS: dict[str, Handler] = {
    "link": start_linking,
    "kids": show_children,
    AGENT_ACTION: talk_to_agent,
    "add": start_linking,
    "cancel": cancel_step,
    "continue": continue_to_roles,
    "apply": apply_merge,
}

COMMANDS: dict[str, Handler] = {
    "start": restart,
    "aide": show_help,
    "annuler": cancel_step,
    "enfants": show_children,
    "conseiller": talk_to_agent,
    "langue": switch_language,
    "deconnexion": log_out,
}


# --- routing one inbound message -------------------------------------------------------------


async def route(turn: Turn, inbound: Inbound) -> bool:
    """Apply the inbound message to the dialog; False when it changed nothing (stale button)."""
    if inbound.kind == "command":
        command = find_command(inbound.command)
        if command is None:
            await read_unknown_command(turn, inbound.command)
        else:
            await COMMANDS[command.name](turn, inbound.text)
        return True
    if inbound.kind == "button":
        return await press_button(turn, inbound.button)
    if inbound.kind == "unsupported":
        retry(turn, turn._("I can only read text messages."))
        return True
    await TEXT_STEPS[turn.state.step](turn, inbound.text)
    return True


async def press_button(turn: Turn, data: str) -> bool:
    """Run a button's action if it belongs to the current rendering; else only a notice."""
    action = decode_button(data, turn.state)
    if action is None:
        turn.notice = stale_notice(turn, data.partition(".")[2])
        return False
    if action.startswith(TOGGLE_PREFIX):
        await toggle_guardian(turn, action.removeprefix(TOGGLE_PREFIX))
    else:
        await BUTTONS[action](turn, "")
    return True


def stale_notice(turn: Turn, action: str) -> str:
    """What to say about a button that is no longer valid."""
    _ = turn._
    if action == "apply" and turn.state.completed is not None:
        return _("This is already done: the children were added to your account.")
    if action == "continue" and turn.state.step == Step.CHOOSE_ROLES:
        return _("Already taken into account.")
    return _("This button is no longer valid. Please use the buttons of the last message.")


async def apply_safely(turn: Turn, inbound: Inbound) -> bool:
    """Route the message; on a service failure keep the state as it was and say what to do."""
    _ = turn._
    state, credentials = turn.state.model_copy(deep=True), turn.credentials.model_copy()
    checkpoint = turn.checkpoint()
    try:
        return await route(turn, inbound)
    except ServiceUnavailable:
        turn.restore(state, credentials, checkpoint)
        turn.say(
            _("Sorry, the service is not answering right now. I kept where you are: please try again in a few minutes.")
        )
    except SessionInvalid:
        turn.restore(state, credentials, checkpoint)
        forget_login(turn)
        turn.state.pending = None
        turn.say(_("Your login has expired. Please log in again."))
        turn.state.step = Step.LOGIN_IDENTIFIER
    except ServiceError as error:
        logger.warning("service refused a step of %s: %s", turn.requester, error.code)
        turn.restore(state, credentials, checkpoint)
        offer_agent(turn, "service_error")
        turn.say(_("Sorry, I could not do that. Please try again, or talk to an agent."))
    PROMPTS[turn.state.step](turn)
    return True


def expire_step(turn: Turn, minutes: int) -> None:
    """The pending step waited too long: drop it and say so."""
    drop_flow(turn)
    turn.say(
        turn.ngettext(
            "You did not answer for {count} minute, so I stopped the step in progress. Nothing was changed.",
            "You did not answer for {count} minutes, so I stopped the step in progress. Nothing was changed.",
            minutes,
        ).format(count=minutes)
    )
    turn.state.step = resting_step(turn)
    turn.state.attempts = 0
