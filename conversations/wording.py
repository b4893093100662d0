"""What the dialog says: the question of each step and the sentences several steps share.

Nothing here decides where the dialog goes: prompts only ask (`turn.ask`) and helpers only say
(`turn.say`). The step table (conversations/steps.py) names the prompt of each step.
"""

from __future__ import annotations

import math

from conversations.i18n import N_
from conversations.state import FoundChild, PendingMerge, Step
from conversations.turn import AGENT_ACTION, Turn

TOGGLE = "t"  # button action "t:<ref>": flip the portal's checkbox of one child
LEGAL_GUARDIAN_HELP = "legal"  # button action: what « représentant légal » means (a pop-up)
# Button actions of an older version's questions (« Continuer », « Oui » per child): they show the form.
OLDER_FORM_ACTIONS = ("continue", "g")

LEGAL_GUARDIAN_DEFINITION = N_(
    "The legal guardian is the parent or the person who exercises parental authority over the child."
)
NOT_SURE_OF_THE_ROLE = N_("Not sure? Ask the school, or type /agent to talk to an agent.")
WELCOME_QUESTION = N_(  # also what the bench's parents wait for, and its yardstick bot asks
    "To link a child, first log in with the account you already use. It is the one you keep.\n"
    "“Identifier”: type the identifier of this account. Not the one on the school's letter: "
    "I ask for it just after."
)
PORTAL_CHECKBOX = N_("{child} · {mark} I am not this student's legal guardian")

# The service's password rules, in plain words (one short list, no example to copy); the two
# rules with a number are in `rule_in_words` (their wording agrees with the count).
PASSWORD_RULES: dict[str, str] = {
    "single_character_kind": N_("not only letters, and not only digits"),
    "contains_identifier": N_("without your identifier"),
    "contains_name": N_("without your last name or first name"),
    "temporary_password_shape": N_("not shaped like a temporary password (XXXX-XXXX-XXXX)"),
}
SHOWN_RULES = ("too_short", "single_character_kind", "contains_identifier", "contains_name", "temporary_password_shape")


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


# --- the question of each step ------------------------------------------------------------------


def ask_menu(turn: Turn) -> None:
    """The welcome: the identifier of the account to keep (linking a child is why parents come), other ways as buttons.

    Logged in (a /start during a session), the three ways in, saying with which account.
    """
    _ = turn._
    if turn.logged_in:
        say_connected(turn)
        turn.ask(
            _("What would you like to do?"),
            [[(_("Link a child"), "link")], [(_("My children"), "kids")], [(_("Talk to an agent"), AGENT_ACTION)]],
        )
        return
    turn.ask(_(WELCOME_QUESTION), [[(_("My children"), "kids")], [(_("Talk to an agent"), AGENT_ACTION)]])


def say_connected(turn: Turn) -> None:
    """« Vous êtes connecté avec le compte … » (not a new login: the one in progress)."""
    turn.say(
        turn._("You are logged in with the account {identifier}.").format(identifier=turn.state.account_identifier)
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


def credential_identifier(turn: Turn) -> str | None:
    """The identifier whose password the current step reads (the other account's, or the one to keep)."""
    state = turn.state
    return state.source_identifier if state.step == Step.SOURCE_PASSWORD else state.typed_identifier


def remaining_wait(turn: Turn) -> str | None:
    """How long the service asked to wait before a password of this identifier is tried again (None: no wait)."""
    state = turn.state
    if state.throttled_until is None or turn.now >= state.throttled_until:
        state.throttled_until = state.throttled_identifier = None
        return None
    if credential_identifier(turn) != state.throttled_identifier:
        return None
    return human_wait(turn, (state.throttled_until - turn.now).total_seconds())


def say_wait_first(turn: Turn) -> None:
    """Before asking a password the service would refuse now: say when it can be typed."""
    wait = remaining_wait(turn)
    if wait is not None:
        turn.say(turn._("Too many tries for this account: wait {wait} before typing its password.").format(wait=wait))


def ask_login_password(turn: Turn) -> None:
    """Ask the password of the account to keep (saying first how long to wait, if the service asked to)."""
    _ = turn._
    say_wait_first(turn)
    turn.ask(
        _(
            "“Password”: type the password of the account {identifier}.\n"
            "I do not keep it: I only pass it on to the portal to check it."
        ).format(identifier=turn.state.typed_identifier)
    )


def ask_other_active_account(turn: Turn) -> None:
    """Before activating: does the parent already use another, activated account with the same names?"""
    _ = turn._
    turn.ask(
        _(
            "Before activating the account {identifier}: do you already use another account of the portal, "
            "already activated, with the same last name and first name?"
        ).format(identifier=turn.state.typed_identifier),
        [[(_("Yes"), "yes"), (_("No"), "no")]],
    )


def rule_in_words(turn: Turn, rule: str) -> str | None:
    """One password rule in plain words (None for a rule this dialog does not know)."""
    state = turn.state
    if rule == "too_short":
        count = state.password_min_length
        return turn.ngettext("at least {count} character", "at least {count} characters", count).format(count=count)
    if rule == "too_long":
        count = state.password_max_length
        return turn.ngettext("at most {count} character", "at most {count} characters", count).format(count=count)
    return turn._(PASSWORD_RULES[rule]) if rule in PASSWORD_RULES else None


def password_rules_list(turn: Turn, rules: tuple[str, ...] | list[str]) -> str:
    """The rules, one per line, in plain words."""
    return "\n".join(f"• {words}" for rule in rules if (words := rule_in_words(turn, rule)) is not None)


def ask_new_password(turn: Turn) -> None:
    """Ask for the new password of an account being activated, with the rules in one short list."""
    _ = turn._
    rules = [rule for rule in SHOWN_RULES if not turn.state.password_rules or rule in turn.state.password_rules]
    turn.ask(
        _("Choose your new password. The portal's rules:")
        + "\n"
        + password_rules_list(turn, rules)
        + "\n"
        + _("I do not keep it: I only pass it on to the portal to check it.")
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
    """Ask the password of the other account (saying first how long to wait, if the service asked to)."""
    _ = turn._
    say_wait_first(turn)
    turn.ask(
        _(
            "“Password”: type the password of the account {identifier}: the temporary password from the school, "
            "or its current password if it is already active.\n"
            "I do not keep it: I only pass it on to the portal to check it."
        ).format(identifier=turn.state.source_identifier)
    )


def ask_roles(turn: Turn) -> None:
    """The portal's form after « Identifiant » + « Mot de passe »: the account found, each child with its checkbox.

    One message: the account found and its children (with the role each checkbox sets), the warning
    that an active account will be closed, and the form. Pressing a child's line edits it in place;
    nothing changes until « Ajouter ces élèves à mon compte ».
    """
    _ = turn._
    pending = pending_merge(turn)
    count = len(pending.children)
    found = turn.ngettext(
        "I found the account {identifier}. It holds {count} child:",
        "I found the account {identifier}. It holds {count} children:",
        count,
    ).format(identifier=pending.source_identifier, count=count)
    turn.say("\n".join([found, *(form_line(turn, child, pending) for child in pending.children)]))
    if pending.source_status == "active":
        turn.say(
            _(
                "This account is active. After the merge it will be closed, and you will use only the account {target}."
            ).format(target=turn.state.account_identifier)
        )
    text = _(
        "“Add students from another account”\n"
        "If you are not the legal guardian of a student, press their line to tick the box.\n"
        "Then press “Add these students to my account”: the account {source} will be closed "
        "and its children will join your account {target}."
    ).format(source=pending.source_identifier, target=turn.state.account_identifier)
    if any(child.already_linked for child in pending.children):
        text += "\n" + _("Children already on your account keep their role unless you change their line.")
    rows = [[(portal_checkbox(turn, child, pending), f"{TOGGLE}:{child.ref}")] for child in pending.children]
    rows += [
        [(_("What is a legal guardian?"), LEGAL_GUARDIAN_HELP)],
        [(_("Add these students to my account"), "apply")],
        [(_("Cancel"), "cancel")],
    ]
    turn.ask(text, rows)


def form_line(turn: Turn, child: FoundChild, pending: PendingMerge) -> str:
    """« • C 11/04/2007 — représentant légal », as the child's checkbox sets it now; a child already linked says so."""
    role = role_name(turn, pending.is_guardian(child))
    if not child.already_linked:
        return turn._("• {child} — {role}").format(child=child.label, role=role)
    return "• " + turn._("{child} (already on your account: {role})").format(child=child.label, role=role)


def portal_checkbox(turn: Turn, child: FoundChild, pending: PendingMerge) -> str:
    """The portal's checkbox « Je ne suis pas le représentant légal de cet élève », ticked or not."""
    mark = "☐" if pending.is_guardian(child) else "☑"
    return turn._(PORTAL_CHECKBOX).format(child=child.label, mark=mark)


# --- sentences several steps share ---------------------------------------------------------------


def pending_merge(turn: Turn) -> PendingMerge:
    """The verified other account (the steps that show it are only reached with one)."""
    if turn.state.pending is None:
        raise LookupError("no verified account in this dialog step")
    return turn.state.pending


def role_name(turn: Turn, legal_guardian: bool) -> str:
    """« représentant légal » or « pas représentant légal »."""
    return turn._("legal guardian") if legal_guardian else turn._("not the legal guardian")


def role_line(turn: Turn, label: str, legal_guardian: bool) -> str:
    """« • C 11/04/2007 — représentant légal »."""
    return turn._("• {child} — {role}").format(child=label, role=role_name(turn, legal_guardian))


def human_wait(turn: Turn, seconds: float) -> str:
    """A wait in the units people use: « 45 secondes », « 2 minutes », « 1 heure » (rounded up)."""
    seconds = max(math.ceil(seconds), 1)
    if seconds < 60:
        return turn.ngettext("{count} second", "{count} seconds", seconds).format(count=seconds)
    if seconds < 3600:
        minutes = math.ceil(seconds / 60)
        return turn.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)
    hours = math.ceil(seconds / 3600)
    return turn.ngettext("{count} hour", "{count} hours", hours).format(count=hours)
