"""An in-memory account service implementing the dialog's AccountService interface (a fake, not a mock).

Every password it is given is registered as a secret no log line may hold (tests/log_leaks.py).
It follows the real service's rules closely enough for the dialog's unit and property tests:
credentials, activation, throttling, name identity (with the differing names and the schools to ask),
already merged accounts (and whether into the current one), single-use tickets bound to a session,
existing roles kept unless a change is declared, and idempotent merges. `unavailable` makes every call
fail as if the service were down.
"""

from __future__ import annotations

import itertools
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from conversations.service_port import (
    AccountMerged,
    AccountSummary,
    ActivationNeeded,
    ActivationSuperseded,
    Child,
    ChildrenList,
    Delivery,
    DeliveryBatch,
    EscalationEnded,
    EscalationReceipt,
    EscalationRequest,
    Handoff,
    HandoffNotFound,
    IdempotencyConflict,
    InvalidCredentials,
    LinkedChild,
    LoggedIn,
    MergePreview,
    MergeResult,
    NamesDiffer,
    PasswordPolicy,
    PreviewChild,
    RoleChange,
    RoleDeclaration,
    SameAccount,
    ServiceUnavailable,
    SessionInvalid,
    SourceAccount,
    Throttled,
    TicketInvalid,
)
from tests.log_leaks import SESSION_SECRETS

FREE_FAILURES = 5
MIN_PASSWORD_LENGTH = 10


@dataclass
class FakeAccount:
    identifier: str
    last_name: str
    first_name: str
    status: str  # pending, active, merged
    password: str | None = None
    temporary_password: str | None = None
    failures: int = 0
    merged_into: str | None = None


@dataclass(frozen=True)
class FakeSchool:
    uai: str
    name: str


VICTOR_HUGO = FakeSchool("0750001A", "Collège Victor Hugo")
JULES_FERRY = FakeSchool("0750002B", "École élémentaire Jules Ferry")
MARIE_CURIE = FakeSchool("0750003C", "Lycée Marie Curie")


@dataclass
class FakeStudent:
    first_name: str
    birth_date: date
    school: FakeSchool

    @property
    def label(self) -> str:
        return f"{self.first_name[0]} {self.birth_date:%d/%m/%Y}"


@dataclass
class FakeTicket:
    session: str
    source: str
    refs: dict[str, str]  # ref -> student key
    used: bool = False


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(" " if char in "-'’" else char for char in decomposed if not unicodedata.combining(char))
    return " ".join(letters.split())


def demo_accounts() -> dict[str, FakeAccount]:
    accounts = [
        FakeAccount("c.martin", "MARTIN", "Camille", "active", password="Soleil-Bleu-2026"),
        FakeAccount("c.martin7", "Martin", "Camille", "pending", temporary_password="K7QX-M2PA-9TZC"),
        FakeAccount("c.martinez", "MARTINEZ", "Camille", "pending", temporary_password="R4TW-9HKP-3MXE"),
        FakeAccount(
            "c.martin.ancien", "MARTIN", "Camille", "merged", password="Ancien-Compte-2020", merged_into="c.martin"
        ),
        FakeAccount("n.bernard", "BERNARD", "Nadia", "active", password="Lune-Verte-2026"),
        FakeAccount("nadia.bernard", "Bernard", "Nadia", "pending", temporary_password="H8JN-4WQS-7KDF"),
        FakeAccount("s.petit", "PETIT", "Sophie", "pending", temporary_password="P3LM-6VXA-2RGE"),
    ]
    return {account.identifier: account for account in accounts}


def demo_students() -> dict[str, FakeStudent]:
    return {
        "leo": FakeStudent("Léo", date(2015, 9, 15), VICTOR_HUGO),
        "chloe": FakeStudent("Chloé", date(2007, 4, 11), MARIE_CURIE),
        "mathis": FakeStudent("Mathis", date(2010, 1, 4), MARIE_CURIE),
        "ines": FakeStudent("Inès", date(2012, 6, 20), VICTOR_HUGO),
        "yanis": FakeStudent("Yanis", date(2013, 2, 8), VICTOR_HUGO),
        "lina": FakeStudent("Lina", date(2016, 11, 30), JULES_FERRY),
        "hugo": FakeStudent("Hugo", date(2014, 5, 3), VICTOR_HUGO),
    }


def demo_links() -> dict[tuple[str, str], bool]:
    return {
        ("c.martin", "leo"): True,
        ("c.martin7", "chloe"): True,
        ("c.martin7", "mathis"): True,
        ("c.martinez", "ines"): True,
        ("n.bernard", "yanis"): True,
        ("nadia.bernard", "yanis"): True,
        ("nadia.bernard", "lina"): True,
        ("s.petit", "hugo"): True,
    }


@dataclass
class FakeEscalation:
    """An escalation as the service keeps it: its request, state, holder and messages."""

    escalation_id: int
    requester: str
    request: EscalationRequest
    state: str = "waiting"
    agent_first_name: str | None = None
    parent_messages: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"ESC-{self.escalation_id:04d}"

    @property
    def open(self) -> bool:
        return self.state in {"waiting", "claimed"}


@dataclass
class FakeHelpdesk:
    """The service's helpdesk in memory: one open escalation per chat, the queue, deliveries leased and acknowledged."""

    escalations: list[FakeEscalation] = field(default_factory=list)
    pending: list[Delivery] = field(default_factory=list)
    leased: dict[str, list[int]] = field(default_factory=dict)  # lease -> message ids
    acknowledged: list[int] = field(default_factory=list)
    in_lease: dict[int, Delivery] = field(default_factory=dict)
    handoffs: dict[str, Handoff] = field(default_factory=dict)  # payload -> hand-off, until redeemed
    journeys: list[tuple[str, str]] = field(default_factory=list)  # (requester, language)
    open_now: bool = True
    agents_back_at: datetime | None = None
    expected_wait_seconds: int = 600
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def open_of(self, requester: str) -> FakeEscalation | None:
        return next((e for e in self.escalations if e.requester == requester and e.open), None)

    def receipt(self, escalation: FakeEscalation, *, created: bool) -> EscalationReceipt:
        waiting = [e for e in self.escalations if e.state == "waiting"]
        return EscalationReceipt(
            escalation_id=escalation.escalation_id,
            reference=escalation.reference,
            state=escalation.state,
            created=created,
            position=waiting.index(escalation) + 1 if escalation in waiting else None,
            expected_wait_seconds=self.expected_wait_seconds,
            open_now=self.open_now,
            agents_back_at=self.agents_back_at,
            agent_first_name=escalation.agent_first_name,
        )

    def agent_sends(
        self,
        escalation: FakeEscalation,
        kind: str,
        text: str = "",
        *,
        name: str = "Zoé",
        resume_point: str | None = None,
    ) -> None:
        """An agent's action, as the service turns it into a delivery for the bot."""
        if kind in {"claimed", "text"}:
            escalation.state, escalation.agent_first_name = "claimed", name
        elif kind == "released":
            escalation.state, escalation.agent_first_name = "waiting", None
        elif kind in {"closed", "handed_back"}:
            escalation.state = kind
        channel, _separator, chat_ref = escalation.requester.partition(":")
        self.pending.append(
            Delivery.model_validate(
                {
                    "message_id": next(self._message_ids),
                    "escalation_id": escalation.escalation_id,
                    "reference": escalation.reference,
                    "channel": channel,
                    "chat_ref": chat_ref,
                    "language": escalation.request.language,
                    "kind": kind,
                    "agent_first_name": name,
                    "text": text,
                    "resume_point": resume_point,
                }
            )
        )


@dataclass
class FakeAccountService:
    accounts: dict[str, FakeAccount] = field(default_factory=demo_accounts)
    students: dict[str, FakeStudent] = field(default_factory=demo_students)
    links: dict[tuple[str, str], bool] = field(default_factory=demo_links)  # (account, student) -> legal guardian
    sessions: dict[str, str] = field(default_factory=dict)  # token -> account identifier
    activation_tickets: dict[str, str] = field(default_factory=dict)
    ticket_temporary_passwords: dict[str, str | None] = field(default_factory=dict)  # what each ticket is bound to
    merge_tickets: dict[str, FakeTicket] = field(default_factory=dict)
    merges: dict[str, tuple[list[RoleDeclaration], MergeResult]] = field(default_factory=dict)
    escalations: list[EscalationRequest] = field(default_factory=list)
    received_passwords: list[str] = field(default_factory=list)
    unavailable: bool = False
    helpdesk: FakeHelpdesk = field(default_factory=FakeHelpdesk)
    merges_applied: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _available(self) -> None:
        if self.unavailable:
            raise ServiceUnavailable("fake service stopped")

    def _verify(self, identifier: str, password: str) -> FakeAccount:
        self.received_passwords.append(password)
        account = self.accounts.get(identifier)
        if account is not None and account.failures >= FREE_FAILURES:
            raise Throttled("too many failures", retry_after=30)
        if account is None or password not in {account.password, account.temporary_password}:
            if account is not None:
                account.failures += 1
            raise InvalidCredentials()
        account.failures = 0
        return account

    def _merged_into(self, account: FakeAccount, target: FakeAccount) -> bool:
        """Whether a merged account ended up in the target, directly or through accounts merged in turn."""
        seen = {account.identifier}
        next_identifier = account.merged_into
        while next_identifier is not None and next_identifier not in seen:
            if next_identifier == target.identifier:
                return True
            seen.add(next_identifier)
            next_identifier = self.accounts[next_identifier].merged_into
        return False

    def _names_differ(self, target: FakeAccount, source: FakeAccount) -> NamesDiffer:
        """The refusal with its details as the real service gives them: names that differ, then schools."""
        names = [
            ("last_name", target.last_name, source.last_name),
            ("first_name", target.first_name, source.first_name),
        ]
        details: list[dict[str, object]] = [
            {"kind": "name", "field": field_name, "target": target_name, "source": source_name}
            for field_name, target_name, source_name in names
            if _fold(target_name) != _fold(source_name)
        ]
        schools: dict[FakeSchool, list[str]] = {}
        for key in self._children_keys(source.identifier):
            schools.setdefault(self.students[key].school, []).append(self.students[key].label)
        details += [
            {"kind": "school", "uai": school.uai, "name": school.name, "children": labels}
            for school, labels in schools.items()
        ]
        return NamesDiffer(details=details)

    def _children_keys(self, identifier: str) -> list[str]:
        """The children of an account, eldest first."""
        keys = [key for owner, key in self.links if owner == identifier]
        return sorted(keys, key=lambda key: self.students[key].birth_date)

    def _account_of(self, session_token: str) -> FakeAccount:
        identifier = self.sessions.get(session_token)
        if identifier is None or self.accounts[identifier].status == "merged":
            raise SessionInvalid()
        return self.accounts[identifier]

    def _open_session(self, account: FakeAccount) -> LoggedIn:
        token = secrets.token_urlsafe(16)
        self.sessions[token] = account.identifier
        summary = AccountSummary(
            identifier=account.identifier, last_name=account.last_name, first_name=account.first_name
        )
        return LoggedIn(session_token=token, account=summary)

    async def log_in(self, requester: str, identifier: str, password: str) -> LoggedIn | ActivationNeeded:
        SESSION_SECRETS.add_phrase(password)  # a secret no log line may hold (tests/log_leaks.py), even refused
        self._available()
        account = self._verify(identifier, password)
        if account.status == "merged":
            raise AccountMerged()
        if account.status == "pending" or password == account.temporary_password:
            ticket = secrets.token_urlsafe(16)
            self.activation_tickets[ticket] = account.identifier
            self.ticket_temporary_passwords[ticket] = account.temporary_password
            return ActivationNeeded(activation_ticket=ticket, password_policy={"min_length": MIN_PASSWORD_LENGTH})
        return self._open_session(account)

    async def activate(self, requester: str, activation_ticket: str, new_password: str) -> LoggedIn:
        SESSION_SECRETS.add_phrase(new_password)  # a secret no log line may hold (tests/log_leaks.py), even refused
        self._available()
        self.received_passwords.append(new_password)
        identifier = self.activation_tickets.get(activation_ticket)
        if identifier is None:
            raise TicketInvalid()
        account = self.accounts[identifier]
        if account.temporary_password != self.ticket_temporary_passwords.get(activation_ticket):
            raise ActivationSuperseded()
        if len(new_password) < MIN_PASSWORD_LENGTH or new_password.isalpha() or new_password.isdigit():
            raise PasswordPolicy(details=[{"rule": "single_character_kind"}])
        del self.activation_tickets[activation_ticket]
        account.status, account.password, account.temporary_password = "active", new_password, None
        return self._open_session(account)

    async def log_out(self, requester: str, session_token: str) -> None:
        self._available()
        self._account_of(session_token)
        del self.sessions[session_token]

    async def children(self, requester: str, session_token: str) -> ChildrenList:
        self._available()
        account = self._account_of(session_token)
        children = [
            Child(
                ref=key[:8],
                initial=self.students[key].first_name[0],
                birth_date=self.students[key].birth_date,
                label=self.students[key].label,
                legal_guardian=legal,
            )
            for (owner, key), legal in sorted(self.links.items())
            if owner == account.identifier
        ]
        summary = AccountSummary(
            identifier=account.identifier, last_name=account.last_name, first_name=account.first_name
        )
        return ChildrenList(account=summary, children=children)

    async def preview_merge(self, requester: str, session_token: str, identifier: str, password: str) -> MergePreview:
        SESSION_SECRETS.add_phrase(password)  # a secret no log line may hold (tests/log_leaks.py), even refused
        self._available()
        target = self._account_of(session_token)
        source = self._verify(identifier, password)
        if source.status == "merged":
            raise AccountMerged(details=[{"merged_into_current": self._merged_into(source, target)}])
        if source.identifier == target.identifier:
            raise SameAccount()
        if (_fold(source.last_name), _fold(source.first_name)) != (_fold(target.last_name), _fold(target.first_name)):
            raise self._names_differ(target, source)
        refs = {f"s{index}": key for index, key in enumerate(self._children_keys(source.identifier))}
        ticket = secrets.token_urlsafe(16)
        self.merge_tickets[ticket] = FakeTicket(session=session_token, source=source.identifier, refs=refs)
        children = [
            PreviewChild(
                ref=ref,
                initial=self.students[key].first_name[0],
                birth_date=self.students[key].birth_date,
                label=self.students[key].label,
                already_linked=(target.identifier, key) in self.links,
                current_legal_guardian=self.links.get((target.identifier, key)),
            )
            for ref, key in refs.items()
        ]
        return MergePreview(
            ticket=ticket, source=SourceAccount(identifier=source.identifier, status=source.status), children=children
        )

    async def merge(
        self, requester: str, session_token: str, ticket: str, idempotency_key: str, roles: list[RoleDeclaration]
    ) -> MergeResult:
        self._available()
        target = self._account_of(session_token)
        if idempotency_key in self.merges:
            first_roles, result = self.merges[idempotency_key]
            if first_roles != roles:
                raise IdempotencyConflict()
            return result
        found = self.merge_tickets.get(ticket)
        if found is None or found.used or found.session != session_token:
            raise TicketInvalid()
        found.used = True
        declared = {role.ref: role for role in roles}
        result = MergeResult(merge_id=str(next(self._ids)), source_identifier=found.source, added=[], already_linked=[])
        for ref, key in found.refs.items():
            self._link(result, target, ref, key, declared.get(ref, RoleDeclaration(ref=ref, legal_guardian=True)))
        source = self.accounts[found.source]
        source.status, source.merged_into = "merged", target.identifier
        self.merges_applied += 1
        self.merges[idempotency_key] = (roles, result)
        return result

    def _link(self, result: MergeResult, target: FakeAccount, ref: str, key: str, role: RoleDeclaration) -> None:
        """Link one child as the real service does: an existing role changes only when declared."""
        label = self.students[key].label
        current = self.links.get((target.identifier, key))
        if current is None:
            self.links[(target.identifier, key)] = role.legal_guardian
            result.added.append(LinkedChild(ref=ref, label=label, legal_guardian=role.legal_guardian))
        elif role.change_role and role.legal_guardian != current:
            self.links[(target.identifier, key)] = role.legal_guardian
            result.roles_changed.append(
                RoleChange(ref=ref, label=label, legal_guardian=role.legal_guardian, previous_legal_guardian=current)
            )
        else:
            result.already_linked.append(LinkedChild(ref=ref, label=label, legal_guardian=current))

    async def escalate(self, requester: str, request: EscalationRequest) -> EscalationReceipt:
        self._available()
        self.escalations.append(request)
        known = self.helpdesk.open_of(requester)
        if known is not None:
            return self.helpdesk.receipt(known, created=False)
        escalation = FakeEscalation(next(self._ids), requester, request)
        self.helpdesk.escalations.append(escalation)
        return self.helpdesk.receipt(escalation, created=True)

    async def chat_escalation(self, requester: str) -> EscalationReceipt | None:
        self._available()
        known = self.helpdesk.open_of(requester)
        return None if known is None else self.helpdesk.receipt(known, created=False)

    async def withdraw(self, requester: str, escalation_id: int | str) -> EscalationReceipt:
        self._available()
        escalation = next(e for e in self.helpdesk.escalations if e.escalation_id == int(escalation_id))
        if not escalation.open:
            raise EscalationEnded()
        escalation.state = "withdrawn"
        return self.helpdesk.receipt(escalation, created=False)

    async def post_parent_message(self, requester: str, escalation_id: int | str, text: str) -> None:
        self._available()
        escalation = next(e for e in self.helpdesk.escalations if e.escalation_id == int(escalation_id))
        if not escalation.open:
            raise EscalationEnded()
        escalation.parent_messages.append(text)

    async def lease_deliveries(self, wait_seconds: int, channel: str | None = None) -> DeliveryBatch:
        self._available()
        expired = [message_id for lease in list(self.helpdesk.leased) for message_id in self.helpdesk.leased.pop(lease)]
        self.helpdesk.pending[:0] = [self.helpdesk.in_lease[message_id] for message_id in expired]  # leases expire now
        deliveries = [item for item in self.helpdesk.pending if channel is None or item.channel == channel]
        if not deliveries:
            return DeliveryBatch(lease=None, deliveries=[])
        lease = secrets.token_urlsafe(8)
        self.helpdesk.pending = [item for item in self.helpdesk.pending if item not in deliveries]
        self.helpdesk.leased[lease] = [delivery.message_id for delivery in deliveries]
        self.helpdesk.in_lease.update({delivery.message_id: delivery for delivery in deliveries})
        return DeliveryBatch(lease=lease, deliveries=deliveries)

    async def acknowledge_deliveries(self, lease: str, message_ids: list[int]) -> None:
        self._available()
        ids = self.helpdesk.leased.get(lease, [])
        chats = {self.helpdesk.in_lease[message_id].chat_key for message_id in message_ids if message_id in ids}
        released = [message_id for message_id in ids if self.helpdesk.in_lease[message_id].chat_key in chats]
        self.helpdesk.leased[lease] = [message_id for message_id in ids if message_id not in released]
        self.helpdesk.acknowledged += [message_id for message_id in message_ids if message_id in ids]
        # the acknowledged chats are free: what of them was leased and not acknowledged comes back
        self.helpdesk.pending[:0] = [
            self.helpdesk.in_lease[message_id] for message_id in released if message_id not in message_ids
        ]

    async def redeem_handoff(self, requester: str, payload: str) -> Handoff:
        self._available()
        handoff = self.helpdesk.handoffs.pop(payload, None)
        if handoff is None:
            raise HandoffNotFound()
        self.helpdesk.journeys.append((requester, handoff.language))
        return handoff

    async def start_journey(self, requester: str, language: str) -> None:
        self._available()
        self.helpdesk.journeys.append((requester, language))
