"""The service port: no HTTP in it, and the HTTP client and the fake agree on the merge roles and refusals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from conversations.service_http import HttpAccountService, open_service_session
from conversations.service_port import (
    AccountMerged,
    AccountService,
    ActivationNeeded,
    ActivationSuperseded,
    LinkedChild,
    LoggedIn,
    MergePreview,
    NameDifference,
    NamesDiffer,
    RoleChange,
    RoleDeclaration,
    SchoolContact,
)

from .fake_service import FakeAccountService
from .support import BOT_TOKEN

REQUESTER = "test:1"


def test_the_port_imports_no_http_library() -> None:
    code = "import sys, conversations.service_port; print(sorted(m for m in sys.modules if m.startswith('aiohttp')))"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"


@pytest.fixture(params=["http", "fake"])
async def service(request: pytest.FixtureRequest, service_url: str) -> AsyncIterator[AccountService]:
    """The same contract, once over HTTP against the real service with the demo data, once in memory."""
    if request.param == "fake":
        yield FakeAccountService()
        return
    async with open_service_session(service_url, BOT_TOKEN, 10) as session:
        yield HttpAccountService(session)


async def session_of(service: AccountService, identifier: str, password: str) -> str:
    answer = await service.log_in(REQUESTER, identifier, password)
    assert isinstance(answer, LoggedIn)
    return answer.session_token


async def bernard_preview(service: AccountService) -> tuple[str, MergePreview]:
    session = await session_of(service, "n.bernard", "Lune-Verte-2026")
    return session, await service.preview_merge(REQUESTER, session, "nadia.bernard", "H8JN-4WQS-7KDF")


async def test_the_preview_gives_each_childs_current_role_on_the_kept_account(service: AccountService) -> None:
    _, preview = await bernard_preview(service)
    assert [(child.label, child.already_linked, child.current_legal_guardian) for child in preview.children] == [
        ("Y 08/02/2013", True, True),
        ("L 30/11/2016", False, None),
    ]


async def test_an_existing_role_is_kept_unless_the_change_is_declared(service: AccountService) -> None:
    session, preview = await bernard_preview(service)
    yanis, lina = (child.ref for child in preview.children)
    roles = [RoleDeclaration(ref=yanis, legal_guardian=False), RoleDeclaration(ref=lina, legal_guardian=True)]
    result = await service.merge(REQUESTER, session, preview.ticket, "cle-1", roles)
    assert result.already_linked == [LinkedChild(ref=yanis, label="Y 08/02/2013", legal_guardian=True)]
    assert result.added == [LinkedChild(ref=lina, label="L 30/11/2016", legal_guardian=True)]
    assert result.roles_changed == []


async def test_a_declared_role_change_is_applied_and_reported(service: AccountService) -> None:
    session, preview = await bernard_preview(service)
    yanis, lina = (child.ref for child in preview.children)
    roles = [
        RoleDeclaration(ref=yanis, legal_guardian=False, change_role=True),
        RoleDeclaration(ref=lina, legal_guardian=True),
    ]
    result = await service.merge(REQUESTER, session, preview.ticket, "cle-1", roles)
    assert result.roles_changed == [
        RoleChange(ref=yanis, label="Y 08/02/2013", legal_guardian=False, previous_legal_guardian=True)
    ]
    assert result.already_linked == []
    children = await service.children(REQUESTER, session)
    assert [(child.label, child.legal_guardian) for child in children.children if child.label.startswith("Y")] == [
        ("Y 08/02/2013", False)
    ]


async def test_names_differ_says_which_names_and_which_schools(service: AccountService) -> None:
    session = await session_of(service, "c.martin", "Soleil-Bleu-2026")
    with pytest.raises(NamesDiffer) as refusal:
        await service.preview_merge(REQUESTER, session, "c.martinez", "R4TW-9HKP-3MXE")
    assert refusal.value.differences == [NameDifference(field="last_name", target="MARTIN", source="MARTINEZ")]
    assert refusal.value.schools == [
        SchoolContact(uai="0750001A", name="Collège Victor Hugo", children=["I 20/06/2012"])
    ]


@pytest.mark.parametrize(
    ("identifier", "password", "into_current"),
    [("c.martin", "Soleil-Bleu-2026", True), ("n.bernard", "Lune-Verte-2026", False)],
)
async def test_account_merged_says_whether_it_went_into_the_current_account(
    service: AccountService, identifier: str, password: str, into_current: bool
) -> None:
    session = await session_of(service, identifier, password)
    with pytest.raises(AccountMerged) as refusal:
        await service.preview_merge(REQUESTER, session, "c.martin.ancien", "Ancien-Compte-2020")
    assert refusal.value.merged_into_current is into_current


def test_unknown_or_malformed_details_are_ignored() -> None:
    refusal = NamesDiffer(
        details=[
            {"kind": "name", "field": "middle_name", "target": "A", "source": "B"},
            {"kind": "school", "uai": "0750001A"},
            "text",
            {"kind": "name", "field": "first_name", "target": "Camille", "source": "Camila"},
        ]
    )
    assert refusal.differences == [NameDifference(field="first_name", target="Camille", source="Camila")]
    assert refusal.schools == []
    assert AccountMerged().merged_into_current is False
    assert AccountMerged(details=[{"merged_into_current": "yes"}]).merged_into_current is False


async def test_a_second_activation_ticket_is_superseded_once_the_account_is_activated(service: AccountService) -> None:
    tickets = [await service.log_in(f"test:{number}", "s.petit", "P3LM-6VXA-2RGE") for number in range(2)]
    assert all(isinstance(ticket, ActivationNeeded) for ticket in tickets)
    first, second = (ticket.activation_ticket for ticket in tickets if isinstance(ticket, ActivationNeeded))
    await service.activate(REQUESTER, first, "Jardin-Fleuri-42")
    with pytest.raises(ActivationSuperseded):
        await service.activate(REQUESTER, second, "Pirate-Pris-666")
    assert isinstance(await service.log_in(REQUESTER, "s.petit", "Jardin-Fleuri-42"), LoggedIn)
