"""What the parent is told when the service refuses: one table from each error to its reply.

A reply only speaks (and offers an agent when one can help); the handler that called the service
decides where the dialog goes next, and the engine recovers from the errors no step expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conversations.service_port import (
    AccountMerged,
    ActivationRequired,
    ActivationSuperseded,
    CredentialLocked,
    IdempotencyConflict,
    InvalidCredentials,
    MergeConflict,
    NamesDiffer,
    PasswordPolicy,
    SameAccount,
    ServiceError,
    ServiceUnavailable,
    SessionInvalid,
    Throttled,
    TicketInvalid,
)
from conversations.state import Step
from conversations.turn import Turn
from conversations.wording import human_wait, password_rules_list


@dataclass(frozen=True)
class ErrorReply:
    """How to answer one kind of refusal: what to say, and why an agent is offered (if one is)."""

    say: Callable[[Turn, ServiceError], None]
    agent_reason: str | None = None


def say_wrong_credentials(turn: Turn, _error: ServiceError) -> None:
    """The password does not open that identifier (never which part is wrong)."""
    source = turn.state.step in {Step.SOURCE_PASSWORD, Step.SOURCE_IDENTIFIER}
    identifier = turn.state.source_identifier if source else turn.state.typed_identifier
    turn.say(
        turn._(
            "This password does not work with the identifier {identifier} (or this identifier does not exist). "
            "Type the password again: I kept the identifier."
        ).format(identifier=identifier)
    )


def say_throttled(turn: Turn, error: ServiceError) -> None:
    """Too many tries: when to try again, in human units."""
    wait = human_wait(turn, error.retry_after or 60)
    turn.say(
        turn._(
            "Too many tries. For your security, please wait {wait} before trying again. "
            "Then type the password again: I kept the identifier."
        ).format(wait=wait)
    )


def say_locked(turn: Turn, _error: ServiceError) -> None:
    """The account is locked; the school must issue a new temporary password."""
    turn.say(
        turn._(
            "This account is locked after too many wrong passwords. "
            "Ask the school for a new temporary password: it unlocks the account. An agent can also help you."
        )
    )


def say_names_differ(turn: Turn, error: ServiceError) -> None:
    """Which names differ (both spellings), which account to correct, and who can correct it."""
    _ = turn._
    lines = [_("The two accounts do not have exactly the same last name and first name, so I cannot gather them.")]
    differences = error.differences if isinstance(error, NamesDiffer) else []
    for difference in differences:
        field = _("Last name") if difference.field == "last_name" else _("First name")
        lines.append(
            _(
                "{field}: “{target}” on your account {target_account}, “{source}” on the account {source_account}."
            ).format(
                field=field,
                target=difference.target,
                source=difference.source,
                target_account=turn.state.account_identifier,
                source_account=turn.state.source_identifier,
            )
        )
    schools = error.schools if isinstance(error, NamesDiffer) else []
    if schools:
        names = ", ".join(school.name for school in schools)
        lines.append(
            turn.ngettext(
                "Ask the school of the children of the account {source_account} to correct the name on that "
                "account: {schools}. Then try again.",
                "Ask one of the schools of the children of the account {source_account} to correct the name on "
                "that account: {schools}. Then try again.",
                len(schools),
            ).format(source_account=turn.state.source_identifier, schools=names)
        )
    else:
        lines.append(
            _("This is a rule of the portal. The school can correct the name on an account: ask it, then try again.")
        )
    turn.say("\n".join(lines))


def say_account_merged(turn: Turn, error: ServiceError) -> None:
    """An account already merged: at login, log in with the one kept; at a preview, into which account."""
    _ = turn._
    if turn.state.step == Step.LOGIN_PASSWORD:
        turn.say(_("This account was gathered into another account and is closed. Log in with the account you kept."))
    elif isinstance(error, AccountMerged) and error.merged_into_current:
        turn.say(
            _(
                "The account {source} was already gathered into your account {target}: its children are already "
                "in “My children”."
            ).format(source=turn.state.source_identifier, target=turn.state.account_identifier)
        )
    else:
        turn.say(
            _(
                "The account {source} was already gathered into another account, not the one you are logged in with. "
                "Log in with that other account to see its children, or talk to an agent."
            ).format(source=turn.state.source_identifier)
        )


def say_same_account(turn: Turn, _error: ServiceError) -> None:
    """The other account is the one logged in with."""
    turn.say(turn._("This is the account you are logged in with. Type the identifier of the other account."))


def say_activation_required(turn: Turn, _error: ServiceError) -> None:
    """The account kept must be activated first."""
    turn.say(turn._("Your account must be activated before you can add students to it. Log in again to activate it."))


def say_ticket_invalid(turn: Turn, _error: ServiceError) -> None:
    """The check of an account (or the activation) has expired."""
    if turn.state.step in {Step.NEW_PASSWORD, Step.NEW_PASSWORD_AGAIN}:
        turn.say(turn._("The activation has expired. Please log in again with the temporary password."))
    else:
        turn.say(
            turn._("The check of the account {identifier} has expired. Please type its password again.").format(
                identifier=turn.state.source_identifier
            )
        )


def say_activation_superseded(turn: Turn, _error: ServiceError) -> None:
    """The account was activated from elsewhere, or the school gave a new temporary password, meanwhile."""
    turn.say(
        turn._(
            "This account was activated meanwhile, or the school gave a new temporary password: "
            "your new password was not saved. Please log in again."
        )
    )


def say_merged_meanwhile(turn: Turn, _error: ServiceError) -> None:
    """Another request gathered the account meanwhile."""
    turn.say(turn._("This account has just been gathered by another request. Here are your children now."))


def say_password_refused(turn: Turn, error: ServiceError) -> None:
    """The rules the refused password broke, in plain words."""
    rules = [str(detail.get("rule", "")) for detail in error.details if isinstance(detail, dict)]
    turn.say(
        turn._("The portal refused this password. Please choose another one:") + "\n" + password_rules_list(turn, rules)
    )


def say_session_expired(turn: Turn, _error: ServiceError) -> None:
    """The parent's login expired."""
    turn.say(turn._("Your login has expired. Please log in again."))


def say_unavailable(turn: Turn, _error: ServiceError) -> None:
    """The service did not answer; nothing changed."""
    turn.say(
        turn._(
            "Sorry, the service is not answering right now. I kept where you are: please try again in a few minutes."
        )
    )


def say_refused(turn: Turn, _error: ServiceError) -> None:
    """Any other refusal."""
    turn.say(turn._("Sorry, I could not do that. Please try again, or talk to an agent."))


ERROR_REPLIES: dict[type[ServiceError], ErrorReply] = {
    InvalidCredentials: ErrorReply(say_wrong_credentials),
    Throttled: ErrorReply(say_throttled),
    CredentialLocked: ErrorReply(say_locked, "locked"),
    NamesDiffer: ErrorReply(say_names_differ, "names_differ"),
    AccountMerged: ErrorReply(say_account_merged),
    SameAccount: ErrorReply(say_same_account),
    ActivationRequired: ErrorReply(say_activation_required),
    TicketInvalid: ErrorReply(say_ticket_invalid),
    ActivationSuperseded: ErrorReply(say_activation_superseded),
    MergeConflict: ErrorReply(say_merged_meanwhile),
    IdempotencyConflict: ErrorReply(say_merged_meanwhile),
    PasswordPolicy: ErrorReply(say_password_refused),
    SessionInvalid: ErrorReply(say_session_expired),
    ServiceUnavailable: ErrorReply(say_unavailable),
    ServiceError: ErrorReply(say_refused, "service_error"),
}


def reply_to(turn: Turn, error: ServiceError) -> None:
    """Say what the table says for this error (its closest kind), offering an agent where it helps."""
    turn.state.note_error(error.code)
    for kind in type(error).__mro__:
        reply = ERROR_REPLIES.get(kind)
        if reply is not None:
            reply.say(turn, error)
            if reply.agent_reason:
                turn.offer_agent_for(reply.agent_reason)
            return
