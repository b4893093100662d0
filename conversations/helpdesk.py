"""The helpdesk in the dialog: escalating, helpdesk mode, what agents send, and hand-off links.

Once a parent asked for an agent, the chat's state holds the open escalation (`DialogState.helpdesk`):
the dialog stops running there. While the escalation waits and while an agent holds it, the
parent's (screened) messages go to the escalation, so the agent reads them with the request; the
first one is acknowledged once, the others silently; /annuler withdraws the request and the bot
takes over again. What agents send comes back through the deliveries poller
(conversations.deliveries) and `apply_delivery`: a reply with the agent's first name, a notice
for claimed / released / closed, and for a hand-back the agent's note then the dialog resumed at
the chosen point with a one-line summary.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from datetime import datetime

from conversations import handlers as h
from conversations import metrics
from conversations.commands import find_command
from conversations.i18n import N_, normalise_language
from conversations.messages import Inbound
from conversations.service_port import (
    ChildSeen,
    Delivery,
    EscalationEnded,
    EscalationReceipt,
    EscalationRequest,
    Handoff,
    ServiceError,
    ServiceUnavailable,
    ThrottleState,
    TranscriptLine,
    ValidationFailed,
)
from conversations.state import HelpdeskLink, Step
from conversations.steps import HANDOFF_TARGETS, HELPDESK_TARGETS, STEPS, Target
from conversations.turn import AGENT_ACTION, Move, Turn, decode_button

logger = logging.getLogger(__name__)

HANDOFF_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{20,64}")  # "h" + 43 characters; never a temporary password's shape
AGENT_LINE = N_("💬 {name}, helpdesk:\n{text}")
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))
MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)


class UndeclaredResume(RuntimeError):
    """The helpdesk resumed the dialog at a step the step table does not declare for it."""


# --- bot → agent: the escalation -------------------------------------------------------------------


def escalation_request(turn: Turn) -> EscalationRequest:
    """What an agent needs, and nothing secret: reason, language, step, identifiers, children, errors, throttle."""
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
    return EscalationRequest(
        channel=channel,
        chat_ref=chat_ref or channel,
        reason=state.escalation_reason,
        step=state.step.value,
        language=state.language,
        collected=collected,
        transcript=[
            TranscriptLine(at=line.at.isoformat(), sender=line.sender, text=line.text) for line in state.transcript
        ],
        children_seen=[ChildSeen(initial=child.initial, birth_date=child.birth_date) for child in state.children_seen],
        error_codes=list(state.error_codes),
        throttle=throttle_state(turn),
    )


def throttle_state(turn: Turn) -> ThrottleState | None:
    """Locked, or still asked to wait (how long), or None."""
    state = turn.state
    waiting = state.throttled_until is not None and state.throttled_until > turn.now
    if not (waiting or state.credential_locked):
        return None
    seconds = (
        math.ceil((state.throttled_until - turn.now).total_seconds()) if state.throttled_until and waiting else None
    )
    return ThrottleState(locked=state.credential_locked, retry_after_seconds=seconds)


async def talk_to_agent(turn: Turn, _argument: str) -> Move:
    """/conseiller, « Parler à un conseiller »: one open escalation per chat; asking again says where it stands."""
    request = escalation_request(turn)
    receipt = await turn.service.escalate(turn.requester, request)
    if receipt.created:
        metrics.escalation_opened(request.reason)
    follow(turn, receipt)
    _ = turn._
    if receipt.created:
        turn.say(
            _(
                "I have passed your request to the helpdesk (reference {reference}). "
                "An agent will read our conversation and answer you here. Your passwords are never passed on."
            ).format(reference=receipt.reference)
        )
    else:
        turn.say(
            _("Your request has already been passed on (reference {reference}).").format(reference=receipt.reference)
        )
    say_standing(turn, receipt)
    if receipt.created:
        turn.say(
            _(
                "Meanwhile, you can write here: your messages are added to your request. "
                "To withdraw it and come back to me, type /cancel."
            )
        )
    return Move.quiet()


def follow(turn: Turn, receipt: EscalationReceipt) -> None:
    """Remember the chat's open escalation (helpdesk mode), keeping what the chat already knew of it."""
    known = turn.state.helpdesk
    same = known is not None and str(known.escalation_id) == str(receipt.escalation_id)
    turn.state.helpdesk = HelpdeskLink(
        escalation_id=receipt.escalation_id,
        reference=receipt.reference,
        state="claimed" if receipt.state == "claimed" else "waiting",
        agent_first_name=receipt.agent_first_name,
        forwarding_said=known.forwarding_said if known is not None and same else False,
    )


def say_standing(turn: Turn, receipt: EscalationReceipt) -> None:
    """Who holds the request, or its place in the queue and the expected wait; out of hours, when agents are back."""
    _ = turn._
    if receipt.state == "claimed":
        name = receipt.agent_first_name or _("An agent")
        turn.say(
            _("{name}, from the helpdesk, is handling it: write here, your messages go to them.").format(name=name)
        )
        return
    if receipt.position is not None:
        if receipt.position == 1:
            turn.say(_("You are next in the queue."))
        else:
            turn.say(_("You are number {position} in the queue.").format(position=receipt.position))
    if not receipt.open_now and receipt.agents_back_at is not None:
        turn.say(
            _("The helpdesk is closed right now: agents are back on {when}.").format(
                when=spoken_time(turn, receipt.agents_back_at)
            )
        )
    elif receipt.expected_wait_seconds is not None:
        minutes = max(1, math.ceil(receipt.expected_wait_seconds / 60))
        turn.say(
            turn.ngettext(
                "Expected wait: about {count} minute.", "Expected wait: about {count} minutes.", minutes
            ).format(count=minutes)
        )


def spoken_time(turn: Turn, when: datetime) -> str:
    """« lundi 30 novembre à 9 h 00 » (in the time zone the service gave)."""
    _ = turn._
    return _("{weekday} {day} {month} at {hour}:{minute}").format(
        weekday=_(WEEKDAYS[when.weekday()]),
        day=when.day,
        month=_(MONTHS[when.month - 1]),
        hour=when.hour,
        minute=f"{when.minute:02d}",
    )


# --- helpdesk mode: the parent's messages while an escalation is open -----------------------------


async def refresh(turn: Turn) -> None:
    """Ask the service where the chat's escalation stands (it may have ended, or been claimed, meanwhile)."""
    try:
        receipt = await turn.service.chat_escalation(turn.requester)
    except ServiceError as error:
        logger.info("helpdesk status of %s unknown (%s): kept as it was", turn.requester, error.code)
        return
    if receipt is None:
        turn.state.helpdesk = None
    else:
        follow(turn, receipt)


async def in_helpdesk(turn: Turn, inbound: Inbound, *, pasted_secret: bool) -> bool:
    """Apply a message of a chat in helpdesk mode; False when the escalation has ended (the dialog runs it)."""
    await refresh(turn)
    if turn.state.helpdesk is None:
        return False
    if inbound.kind == "command":
        await helpdesk_command(turn, inbound)
    elif inbound.kind == "button":
        await helpdesk_button(turn, inbound.button)
    elif inbound.kind == "unsupported":
        turn.say(turn._("I can only pass text messages on to the helpdesk."))
    elif pasted_secret:
        say_no_password_to_agents(turn)
    else:
        await forward(turn, inbound.text)
    return True


async def helpdesk_command(turn: Turn, inbound: Inbound) -> None:
    """/annuler withdraws the request, /conseiller says where it stands; the others: how to come back to the bot."""
    command = find_command(inbound.command)
    name = command.name if command is not None else ""
    if name == "annuler":
        await withdraw(turn)
    elif name == "conseiller":
        await talk_to_agent(turn, "")
    elif name == "langue":
        await h.switch_language(turn, inbound.text)
    else:
        say_in_helpdesk(turn)


async def helpdesk_button(turn: Turn, data: str) -> None:
    """« Parler à un conseiller » says where the request stands; other buttons wait for the end of the helpdesk."""
    if decode_button(data, turn.state) == AGENT_ACTION:
        await talk_to_agent(turn, "")
        return
    turn.notice = turn._("The helpdesk has your request. To come back to me, type /cancel.")


def say_in_helpdesk(turn: Turn) -> None:
    """Where the parent is while an escalation is open, and how to leave it."""
    turn.say(
        turn._(
            "You are in contact with the helpdesk: your messages go to the agent. "
            "To withdraw your request and come back to me, type /cancel."
        )
    )


def say_no_password_to_agents(turn: Turn) -> None:
    """A password-looking message was removed and not passed on."""
    turn.say(
        turn._(
            "Your message looked like a password: I removed it and did not pass it on. "
            "Never send a password here, not even to an agent: agents never need it."
        )
    )


async def forward(turn: Turn, text: str) -> None:
    """Post the parent's (screened) message to the escalation; acknowledged once."""
    link = turn.state.helpdesk
    assert link is not None
    try:
        await turn.service.post_parent_message(turn.requester, link.escalation_id, text)
    except ValidationFailed:
        say_no_password_to_agents(turn)
        return
    except EscalationEnded:
        turn.state.helpdesk = None
        turn.say(turn._("The conversation with the helpdesk has ended."))
        resume(turn, h.resting_step(turn))
        return
    except ServiceUnavailable:
        turn.say(turn._("I could not pass your message on just now. Please send it again in a moment."))
        return
    if not link.forwarding_said:
        link.forwarding_said = True
        turn.say(
            turn._("Passed on to the helpdesk (reference {reference}).").format(reference=link.reference)
            + " "
            + turn._("To come back to me, type /cancel.")
        )


async def withdraw(turn: Turn) -> None:
    """/annuler while an escalation is open: withdraw it, and the bot takes over again."""
    link = turn.state.helpdesk
    assert link is not None
    try:
        await turn.service.withdraw(turn.requester, link.escalation_id)
    except EscalationEnded:
        logger.info("escalation of %s had already ended", turn.requester)
    turn.state.helpdesk = None
    turn.say(
        turn._("I withdrew your request {reference}: nobody will answer it. I am here to help you again.").format(
            reference=link.reference
        )
    )
    resume(turn, h.resting_step(turn))


def resume(turn: Turn, step: Step, targets: frozenset[Target] = HELPDESK_TARGETS) -> None:
    """Run the dialog again at `step` (declared in the step table's helpdesk targets), asking its question."""
    if step not in targets:
        raise UndeclaredResume(f"the helpdesk cannot resume at {step.value}")
    turn.state.step, turn.state.attempts = step, 0
    STEPS[step].prompt(turn)


# --- agent → parent: what the deliveries poller brings ------------------------------------------


def apply_delivery(turn: Turn, delivery: Delivery) -> None:
    """Say what the helpdesk sent, and follow the escalation's state (closed, handed back: the dialog resumes)."""
    link = turn.state.helpdesk
    ours = link is None or str(link.escalation_id) == str(delivery.escalation_id)
    name = delivery.agent_first_name or turn._("An agent")
    if delivery.kind == "text":
        turn.say(turn._(AGENT_LINE).format(name=name, text=delivery.text))
        if ours:
            held_by(turn, delivery, "claimed")
    elif delivery.kind == "claimed":
        turn.say(
            turn._(
                "{name}, from the helpdesk, has taken your request. Write here: your messages go to them. "
                "To end the conversation and come back to me, type /cancel."
            ).format(name=name)
        )
        if ours:
            held_by(turn, delivery, "claimed")
    elif delivery.kind == "released":
        turn.say(turn._("Your request is back in the queue: another agent will answer you here."))
        if ours:
            held_by(turn, delivery, "waiting")
    elif delivery.kind == "closed":
        turn.say(turn._("The helpdesk has ended the conversation. I am here to help you again."))
        if ours:
            turn.state.helpdesk = None
            h.drop_flow(turn)
            resume(turn, h.resting_step(turn))
    else:
        if delivery.text:
            turn.say(turn._(AGENT_LINE).format(name=name, text=delivery.text))
        if ours:
            turn.state.helpdesk = None
            hand_back(turn, delivery.resume_point or "start_merge")


def held_by(turn: Turn, delivery: Delivery, state: str) -> None:
    """The escalation is waiting again, or held by the delivery's agent."""
    turn.state.helpdesk = HelpdeskLink(
        escalation_id=delivery.escalation_id,
        reference=delivery.reference,
        state="claimed" if state == "claimed" else "waiting",
        agent_first_name=delivery.agent_first_name if state == "claimed" else None,
        forwarding_said=turn.state.helpdesk.forwarding_said if turn.state.helpdesk is not None else False,
    )


def hand_back(turn: Turn, resume_point: str) -> None:
    """The agent handed the parent back: a one-line summary of where they are, then the step's question."""
    _ = turn._
    h.drop_flow(turn)
    identifier = turn.state.account_identifier
    if resume_point == "log_in":
        h.forget_login(turn)
        turn.say(_("Back with me: let's log in again."))
        resume(turn, Step.LOGIN_IDENTIFIER)
    elif resume_point == "activate_account":
        turn.say(_("Back with me: let's activate your account with the temporary password from the school's letter."))
        resume(turn, Step.LOGIN_IDENTIFIER)
    elif turn.logged_in:
        turn.state.wants_merge = True
        turn.say(
            _(
                "Back with me: you are logged in with the account {identifier}; "
                "let's add the children of your other account."
            ).format(identifier=identifier)
        )
        resume(turn, Step.SOURCE_IDENTIFIER)
    else:
        turn.state.wants_merge = True
        turn.say(_("Back with me: let's add your children. First, log in with the account you want to keep."))
        resume(turn, Step.LOGIN_IDENTIFIER)


# --- hand-off links: /start <payload> ---------------------------------------------------------------


def take_handoff_payload(inbound: Inbound) -> tuple[Inbound, str]:
    """/start with a hand-off payload: the message without it (for screening and the transcript), and the payload."""
    command = find_command(inbound.command) if inbound.kind == "command" else None
    argument = inbound.text.strip()
    if command is None or command.name != "start" or not HANDOFF_PAYLOAD.fullmatch(argument):
        return inbound, ""
    return dataclasses.replace(inbound, text=""), argument


async def start(turn: Turn, argument: str) -> Move:
    """/start: with a hand-off payload, start where the agent said; otherwise (or if it is not valid) start over."""
    if not (turn.handoff_payload or argument.strip()):
        return await h.restart(turn, argument)
    try:
        handoff = await redeemed(turn, turn.handoff_payload) if turn.handoff_payload else None
    except ServiceUnavailable:
        turn.say(turn._("I cannot open this link right now. Please open it again in a few minutes. Let's start here."))
        return await h.restart(turn, "")
    if handoff is None:
        turn.say(turn._("This link is no longer valid (it was already used, or it has expired). Let's start here."))
        return await h.restart(turn, "")
    open_handoff(turn, handoff)
    return Move.quiet()


async def redeemed(turn: Turn, payload: str) -> Handoff | None:
    """The hand-off behind the payload, or None: used, expired or forged (ServiceUnavailable: the service is down)."""
    try:
        handoff = await turn.service.redeem_handoff(turn.requester, payload)
    except ServiceUnavailable:
        raise
    except ServiceError as error:
        logger.info("hand-off link refused for %s: %s", turn.requester, error.code)
        return None
    turn.state.journey_started_at = turn.now  # the service started the journey with the redeem
    return handoff


def open_handoff(turn: Turn, handoff: Handoff) -> None:
    """Greet with the hand-off's context: its language, the agent and note, then the step it starts at."""
    h.say_flow_left(turn)
    h.drop_flow(turn)
    state = turn.state
    state.language, state.language_chosen = normalise_language(handoff.language), True
    _ = turn._
    name = handoff.agent_first_name or _("An agent")
    turn.say(_("Hello! {name}, from the helpdesk, sent you this link: let's continue together.").format(name=name))
    if handoff.note:
        turn.say(_(AGENT_LINE).format(name=name, text=handoff.note))
    keep = handoff.keep_identifier
    state.wants_merge = handoff.start_at == "start_merge"
    if keep and turn.logged_in and keep == state.account_identifier:
        resume(turn, Step.SOURCE_IDENTIFIER if state.wants_merge else Step.MY_CHILDREN, HANDOFF_TARGETS)
        return
    if keep:
        h.forget_login(turn)
        state.typed_identifier = keep
        resume(turn, Step.LOGIN_PASSWORD, HANDOFF_TARGETS)
        return
    if handoff.start_at == "log_in":
        h.forget_login(turn)
    if state.wants_merge and turn.logged_in:
        resume(turn, Step.SOURCE_IDENTIFIER, HANDOFF_TARGETS)
    else:
        resume(turn, Step.LOGIN_IDENTIFIER, HANDOFF_TARGETS)
