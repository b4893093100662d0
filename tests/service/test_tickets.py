"""Tickets are bound to the credential they were issued for; a credential change voids them (issue 7)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from service.models import Account, Ticket, TicketKind

TEMPORARY = ("s.petit", "P3LM-6VXA-2RGE")
SOURCE = ("c.martin7", "K7QX-M2PA-9TZC")
KEEPER = ("c.martin", "Soleil-Bleu-2026")


async def activation_ticket(api, identifier: str, password: str, **options: Any) -> str:
    status, body = await api.login(identifier, password, **options)
    assert (status, body["outcome"]) == (200, "activation_required"), body
    return body["activation_ticket"]


async def activate(api, ticket: str, new_password: str) -> tuple[int, Any]:
    return await api.call("POST", "/v1/activations", {"activation_ticket": ticket, "new_password": new_password})


async def reissue(api, identifier: str) -> str:
    status, issued = await api.call("POST", f"/v1/school/accounts/{identifier}/temporary-password", client="school")
    assert status == 201
    return issued["temporary_password"]


async def test_a_second_activation_ticket_cannot_replace_the_password_just_chosen(api) -> None:
    first = await activation_ticket(api, *TEMPORARY)
    second = await activation_ticket(api, *TEMPORARY)
    status, activated = await activate(api, first, "Jardin-Fleuri-42")
    assert status == 201
    status, error = await activate(api, second, "Pirate-Pris-666")
    assert (status, error["error"]["code"]) == (409, "activation_superseded")
    assert (await api.children(activated["session_token"]))[0] == 200, "the parent's session survives"
    assert (await api.login(TEMPORARY[0], "Jardin-Fleuri-42"))[0] == 201
    assert (await api.login(TEMPORARY[0], "Pirate-Pris-666"))[0] == 401


async def test_a_ticket_from_before_the_school_issued_a_new_temporary_password_is_refused(api) -> None:
    stale = await activation_ticket(api, *TEMPORARY)
    new_temporary = await reissue(api, TEMPORARY[0])
    status, error = await activate(api, stale, "Pirate-Pris-666")
    assert (status, error["error"]["code"]) == (409, "activation_superseded")
    fresh = await activation_ticket(api, TEMPORARY[0], new_temporary)
    assert (await activate(api, fresh, "Jardin-Fleuri-42"))[0] == 201


async def test_a_reissue_to_an_active_account_voids_its_earlier_activation_ticket(api) -> None:
    first_temporary = await reissue(api, "n.bernard")
    stale = await activation_ticket(api, "n.bernard", first_temporary)
    await reissue(api, "n.bernard")
    status, error = await activate(api, stale, "Pirate-Pris-666")
    assert (status, error["error"]["code"]) == (409, "activation_superseded")
    assert (await api.login("n.bernard", "Lune-Verte-2026"))[0] == 201, "the chosen password is untouched"


async def test_two_activation_tickets_used_at_once_activate_the_account_once(api) -> None:
    tickets = [await activation_ticket(api, *TEMPORARY, requester=f"telegram:{n}") for n in range(2)]
    answers = await asyncio.gather(
        activate(api, tickets[0], "Jardin-Fleuri-42"), activate(api, tickets[1], "Maison-Bleue-43")
    )
    assert sorted(status for status, _ in answers) == [201, 409]
    winner = next(number for number, (status, _) in enumerate(answers) if status == 201)
    loser_error = answers[1 - winner][1]["error"]["code"]
    assert loser_error == "activation_superseded"
    chosen = ("Jardin-Fleuri-42", "Maison-Bleue-43")
    assert (await api.login(TEMPORARY[0], chosen[winner]))[0] == 201
    assert (await api.login(TEMPORARY[0], chosen[1 - winner]))[0] == 401


async def test_an_activation_ticket_is_bound_to_the_temporary_password_even_if_nothing_voided_it(
    api, context, hasher
) -> None:
    """Defence in depth: a temporary password changed by any path (here, directly) makes the ticket stale."""
    ticket = await activation_ticket(api, *TEMPORARY)
    other_hash = await hasher.hash("AAAABBBBCCCC")
    async with context.transaction() as db:
        await db.execute(
            update(Account).where(Account.identifier == TEMPORARY[0]).values(temporary_password_hash=other_hash)
        )
    status, error = await activate(api, ticket, "Jardin-Fleuri-42")
    assert (status, error["error"]["code"]) == (409, "activation_superseded")


async def preview(api, session: str, identifier: str = SOURCE[0], password: str = SOURCE[1]) -> dict[str, Any]:
    status, body = await api.preview(session, identifier, password)
    assert status == 201, body
    return body


async def merge(api, session: str, body: dict[str, Any], key: str = "cle-1") -> tuple[int, Any]:
    return await api.merge(session, body["ticket"], key, {child["ref"]: True for child in body["children"]})


async def source_status(context) -> str:
    async with context.reading() as db:
        return str(await db.scalar(select(Account.status).where(Account.identifier == SOURCE[0])))


async def test_a_merge_ticket_dies_when_the_source_owner_activates_meanwhile(api, context) -> None:
    keeper = await api.session_for(*KEEPER)
    previewed = await preview(api, keeper)
    owner_ticket = await activation_ticket(api, *SOURCE, requester="telegram:owner")
    assert (await activate(api, owner_ticket, "Maison-Verte-99"))[0] == 201
    status, error = await merge(api, keeper, previewed)
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")
    assert await source_status(context) == "active"


async def test_a_merge_ticket_dies_when_the_school_reissues_the_source_temporary_password(api, context) -> None:
    keeper = await api.session_for(*KEEPER)
    previewed = await preview(api, keeper)
    new_temporary = await reissue(api, SOURCE[0])
    status, error = await merge(api, keeper, previewed)
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")
    assert await source_status(context) == "pending"
    assert (await merge(api, keeper, await preview(api, keeper, SOURCE[0], new_temporary)))[0] == 201


async def test_a_merge_ticket_is_bound_to_the_source_credential_even_if_nothing_voided_it(api, context, hasher) -> None:
    keeper = await api.session_for(*KEEPER)
    previewed = await preview(api, keeper)
    other_hash = await hasher.hash("AAAABBBBCCCC")
    async with context.transaction() as db:
        await db.execute(
            update(Account).where(Account.identifier == SOURCE[0]).values(temporary_password_hash=other_hash)
        )
    status, error = await merge(api, keeper, previewed)
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")
    assert await source_status(context) == "pending"


async def test_a_merge_ticket_dies_with_its_session(api, context) -> None:
    keeper = await api.session_for(*KEEPER)
    previewed = await preview(api, keeper)
    assert (await api.call("DELETE", "/v1/sessions/current", session=keeper))[0] == 204
    status, error = await merge(api, keeper, previewed)
    assert (status, error["error"]["code"]) == (401, "session_invalid")
    new_session = await api.session_for(*KEEPER)
    status, error = await merge(api, new_session, previewed)
    assert (status, error["error"]["code"]) == (410, "ticket_invalid")
    assert await source_status(context) == "pending"


async def test_two_previews_of_one_source_merge_it_once(api, snapshot) -> None:
    keeper = await api.session_for(*KEEPER)
    first, second = await preview(api, keeper), await preview(api, keeper)
    assert (await merge(api, keeper, first))[0] == 201
    after_first = await snapshot()
    status, error = await merge(api, keeper, second, key="cle-2")
    assert (status, error["error"]["code"]) == (409, "merge_conflict")
    assert await snapshot() == after_first


async def test_new_credentials_for_the_keeper_void_the_merge_tickets_it_holds(api, context) -> None:
    """A new temporary password for the keeper, then its activation: its tickets are void, its sessions end."""
    keeper = await api.session_for(*KEEPER)
    previewed = await preview(api, keeper)
    ticket = await activation_ticket(api, KEEPER[0], await reissue(api, KEEPER[0]))
    assert (await activate(api, ticket, "Nouveau-Depart-31"))[0] == 201
    async with context.reading() as db:
        voided = await db.scalars(select(Ticket.voided_at).where(Ticket.kind == TicketKind.MERGE))
        assert [at is not None for at in voided] == [True]
    assert (await merge(api, keeper, previewed))[1]["error"]["code"] == "session_invalid"
