"""The HTTP API's bodies (pydantic v2). /openapi.json is generated from these models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, StringConstraints

from service.domain import clean_name, normalise_email, normalise_identifier, normalise_mobile, normalise_name

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_IDENTIFIER_LENGTH = 64
# Lists are bounded so that a body at every limit, in ASCII, fits in the default body cap (64 KiB).
MAX_STUDENTS_PER_REQUEST = 20
MAX_TRANSCRIPT_LINES = 50
MAX_TRANSCRIPT_TEXT_LENGTH = 1000
MAX_POSITION = 2**31 - 1  # the largest INTEGER on PostgreSQL: outbox ids and other positions fit in it

# Every string the API reads refuses control characters (Unicode Cc: C0, DEL, C1): PostgreSQL refuses NUL
# in text, and none of them belongs in a name, an identifier, a token or a password. A transcript line is
# the one place where line breaks and tabs are legitimate.
NO_CONTROL = r"^[^\x00-\x1F\x7F-\x9F]*$"
NO_CONTROL_BUT_LINE_BREAKS = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"


def _plain(max_length: int, *, min_length: int = 1, strip: bool = True) -> StringConstraints:
    """A one-line string of bounded length without control characters."""
    return StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length, pattern=NO_CONTROL)


Text = Annotated[str, _plain(100)]
Identifier = Annotated[str, _plain(MAX_IDENTIFIER_LENGTH)]
Secret = Annotated[str, _plain(256, strip=False)]
Token = Annotated[str, _plain(128, strip=False)]
Uai = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=8, max_length=8, pattern=r"^[0-9]{7}[A-Z]$")
]
Ine = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, min_length=11, max_length=11, pattern=r"^[0-9A-Z]{11}$"),
]
SchoolName = Annotated[str, _plain(200)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=MAX_EMAIL_LENGTH,
        pattern=r"^[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F]+\.[^@\s\x00-\x1F\x7F-\x9F]+$",
    ),
]


def _valid_mobile(mobile: str) -> str:
    normalise_mobile(mobile)
    return mobile


def _fits_once_normalised(normalise: Callable[[str], str], limit: int) -> AfterValidator:
    """Normalising (case folding, accent removal) can lengthen a text: keep it within its column."""

    def check(value: str) -> str:
        if len(normalise(value)) > limit:
            raise ValueError(f"too long once normalised (at most {limit} characters)")
        return value

    return AfterValidator(check)


def _person_name(name: str) -> str:
    """The cleaned name (see service.domain.clean_name), stored and shown as is; ValueError if it is no name."""
    cleaned = clean_name(name)
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"too long once cleaned (at most {MAX_NAME_LENGTH} characters)")
    return cleaned


# Every name that comes in (school registrations, fixtures) goes through this type: cleaned, then bounded.
PersonName = Annotated[
    str,
    _plain(MAX_NAME_LENGTH),
    AfterValidator(_person_name),
    _fits_once_normalised(normalise_name, MAX_NAME_LENGTH),
]
AccountIdentifier = Annotated[
    str,
    _plain(MAX_IDENTIFIER_LENGTH),
    _fits_once_normalised(normalise_identifier, MAX_IDENTIFIER_LENGTH),
    AfterValidator(normalise_identifier),
]


# Documented shape of a phone number; the number itself is then checked with phonenumbers (French national form
# accepted): "+33 6 12 34 56 78", "06.12.34.56.78".
MOBILE_PATTERN = r"^\+?[0-9][0-9 .()\-]{3,38}[0-9]$"
Mobile = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=5, max_length=40, pattern=MOBILE_PATTERN),
    AfterValidator(_valid_mobile),
]
ValidEmail = Annotated[Email, _fits_once_normalised(normalise_email, MAX_EMAIL_LENGTH)]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class OpenApiDocument(RootModel[dict[str, Any]]):
    """The OpenAPI 3.1 document of this API."""


class HealthResponse(Body):
    status: Literal["ok"]


class ErrorDetail(Body):
    code: str
    message: str
    retry_after: int | None = None
    details: list[Any] = Field(default_factory=list)


class ErrorResponse(Body):
    error: ErrorDetail


class Credentials(Body):
    identifier: Identifier
    password: Secret


class AccountOut(Body):
    identifier: str
    last_name: str
    first_name: str


class LoggedInResponse(Body):
    outcome: Literal["logged_in"] = "logged_in"
    session_token: str
    expires_at: dt.datetime
    account: AccountOut


class PasswordPolicyOut(Body):
    min_length: int
    max_length: int
    rules: list[str]


class ActivationRequiredResponse(Body):
    outcome: Literal["activation_required"] = "activation_required"
    activation_ticket: str
    expires_at: dt.datetime
    password_policy: PasswordPolicyOut


class ActivationRequest(Body):
    activation_ticket: Token
    new_password: Secret


class ChildOut(Body):
    ref: str
    initial: str
    birth_date: dt.date
    label: str
    legal_guardian: bool


class ChildrenResponse(Body):
    account: AccountOut
    children: list[ChildOut]


class PreviewChildOut(Body):
    ref: str
    initial: str
    birth_date: dt.date
    label: str
    already_linked: bool = Field(description="the account logged in with already has this child")
    current_legal_guardian: bool | None = Field(
        description="the role of that existing link (to show pre-selected); null when not linked yet"
    )


class SourceOut(Body):
    identifier: str
    status: str


class MergePreviewResponse(Body):
    ticket: str
    expires_at: dt.datetime
    source: SourceOut
    children: list[PreviewChildOut]


class ChildRoleDeclaration(Body):
    ref: Annotated[str, _plain(8, strip=False)]
    legal_guardian: bool
    change_role: bool = Field(
        default=False,
        description=(
            "for a child already linked to the account logged in with: true changes the existing role to "
            "legal_guardian; false (default) keeps the existing role whatever legal_guardian says"
        ),
    )


class MergeRequestIn(Body):
    ticket: Token
    idempotency_key: Annotated[str, _plain(100, strip=False)]
    children: list[ChildRoleDeclaration] = Field(max_length=50)


class MergedChildOut(Body):
    ref: str
    label: str
    legal_guardian: bool


class RoleChangedOut(MergedChildOut):
    previous_legal_guardian: bool


class MergeResponse(Body):
    merge_id: str
    source_identifier: str
    added: list[MergedChildOut]
    already_linked: list[MergedChildOut] = Field(description="already on the account, role kept")
    roles_changed: list[RoleChangedOut] = Field(
        default_factory=list, description="already on the account, role changed as explicitly declared"
    )


class SchoolIn(Body):
    uai: Uai
    name: SchoolName


class GuardianIn(Body):
    last_name: PersonName
    first_name: PersonName
    email: ValidEmail
    mobile: Mobile = Field(description="a valid phone number (libphonenumber), French national form accepted")
    legal_guardian: bool = True


class StudentIn(Body):
    ine: Ine
    last_name: PersonName
    first_name: PersonName
    birth_date: dt.date
    school: SchoolIn
    guardians: list[GuardianIn] = Field(min_length=1, max_length=4)


class StudentRegistrationRequest(Body):
    students: list[StudentIn] = Field(min_length=1, max_length=MAX_STUDENTS_PER_REQUEST)


class GuardianOutcomeOut(Body):
    account_identifier: str
    created: bool
    temporary_password: str | None = None


class RegisteredStudentOut(Body):
    ine: str
    guardians: list[GuardianOutcomeOut]


class StudentRegistrationResponse(Body):
    students: list[RegisteredStudentOut]


class TemporaryPasswordResponse(Body):
    identifier: str
    temporary_password: str
    expires_at: dt.datetime


class CollectedOut(Body):
    identifier: str | None = None
    source_identifier: str | None = None


class TranscriptLineOut(Body):
    at: dt.datetime
    sender: Literal["parent", "bot"]
    text: str


class EscalationOut(Body):
    escalation_id: int
    reference: str
    channel: str
    chat_ref: str
    reason: str
    step: str
    language: str
    collected: CollectedOut
    transcript: list[TranscriptLineOut]
    created_at: dt.datetime


class EscalationList(Body):
    escalations: list[EscalationOut]


class OutboxEventOut(Body):
    id: int
    topic: str
    payload: dict[str, Any]
    created_at: dt.datetime


class OutboxPage(Body):
    events: list[OutboxEventOut]


class Parameters(BaseModel):
    """Query or path parameters: text on the wire, converted (not strict), unknown names ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def _in_utc(value: dt.datetime) -> dt.datetime:
    """A naive datetime is read as UTC; an aware one must still be a datetime once converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as error:
        raise ValueError("out of range once converted to UTC") from error


UtcDateTime = Annotated[dt.datetime, AfterValidator(_in_utc)]


class OutboxQuery(Parameters):
    after: int = Field(default=0, ge=0, le=MAX_POSITION, description="the last event id already read")


class EscalationQuery(Parameters):
    since: UtcDateTime | None = Field(default=None, description="only escalations recorded at or after this time")


class AccountPath(Parameters):
    identifier: AccountIdentifier
