"""Merge refusals that say what to do once both accounts are proven, and nothing before."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from service.errors import AccountMerged, NamesDiffer

LoadData = Callable[[dict[str, Any]], Awaitable[Any]]
Snapshot = Callable[[], Awaitable[Any]]
KEEPER, KEEPER_PASSWORD = "c.martin", "Soleil-Bleu-2026"


def error_of(answer: tuple[int, Any]) -> tuple[int, str, list[Any]]:
    status, body = answer
    return status, body["error"]["code"], body["error"]["details"]


async def test_names_differ_says_which_name_differs_and_which_school_to_ask(api: Any, snapshot: Snapshot) -> None:
    session = await api.session_for(KEEPER, KEEPER_PASSWORD)
    before = await snapshot()
    status, code, details = error_of(await api.preview(session, "c.martinez", "R4TW-9HKP-3MXE"))
    assert (status, code) == (409, NamesDiffer.code)
    assert details == [
        {"kind": "name", "field": "last_name", "target": "MARTIN", "source": "MARTINEZ"},
        {"kind": "school", "uai": "0750001A", "name": "Collège Victor Hugo", "children": ["I 20/06/2012"]},
    ]
    assert await snapshot() == before


async def test_names_differ_lists_both_names_and_every_school_of_the_other_account(
    api: Any, load_data: LoadData
) -> None:
    await load_data(
        {
            "accounts": [
                {
                    "identifier": "k.martine",
                    "last_name": "Martine",
                    "first_name": "Camila",
                    "status": "pending",
                    "temporary_password": "M3RT-7NQV-4XCK",
                },
                {
                    "identifier": "c.martin.vide",
                    "last_name": "Martin",
                    "first_name": "Camilla",
                    "status": "pending",
                    "temporary_password": "V4DE-8PQR-2MNT",
                },
            ],
            "students": [
                {
                    "ine": f"09100000{number}KM",
                    "last_name": "MARTINE",
                    "first_name": first_name,
                    "birth_date": birth_date,
                    "school": school,
                    "guardians": [{"account": "k.martine", "legal_guardian": True}],
                }
                for number, (first_name, birth_date, school) in enumerate(
                    [
                        ("Noé", "2011-01-02", "0750003C"),
                        ("Anna", "2013-03-04", "0750002B"),
                        ("Lou", "2015-05-06", "0750003C"),
                    ]
                )
            ],
        }
    )
    session = await api.session_for(KEEPER, KEEPER_PASSWORD)
    status, code, details = error_of(await api.preview(session, "k.martine", "M3RT-7NQV-4XCK"))
    assert (status, code) == (409, NamesDiffer.code)
    assert details == [
        {"kind": "name", "field": "last_name", "target": "MARTIN", "source": "Martine"},
        {"kind": "name", "field": "first_name", "target": "Camille", "source": "Camila"},
        {
            "kind": "school",
            "uai": "0750003C",
            "name": "Lycée Marie Curie",
            "children": ["N 02/01/2011", "L 06/05/2015"],
        },
        {"kind": "school", "uai": "0750002B", "name": "École élémentaire Jules Ferry", "children": ["A 04/03/2013"]},
    ], "the eldest child's school first"
    status, code, details = error_of(await api.preview(session, "c.martin.vide", "V4DE-8PQR-2MNT"))
    assert (status, code, details) == (
        409,
        NamesDiffer.code,
        [{"kind": "name", "field": "first_name", "target": "Camille", "source": "Camilla"}],
    )


async def test_without_the_other_accounts_password_nothing_about_it_is_said(api: Any) -> None:
    session = await api.session_for(KEEPER, KEEPER_PASSWORD)
    wrong = await api.preview(session, "c.martinez", "R4TW-9HKP-3MXA")
    unknown = await api.preview(session, "c.nobody", "R4TW-9HKP-3MXE")
    assert error_of(wrong) == error_of(unknown) == (401, "invalid_credentials", [])
    merged_wrong = await api.preview(session, "c.martin.ancien", "Ancien-Compte-2021")
    assert error_of(merged_wrong) == (401, "invalid_credentials", [])


async def test_a_source_already_merged_into_the_current_account_says_so(api: Any) -> None:
    session = await api.session_for(KEEPER, KEEPER_PASSWORD)
    answer = await api.preview(session, "c.martin.ancien", "Ancien-Compte-2020")
    assert error_of(answer) == (409, AccountMerged.code, [{"merged_into_current": True}])


async def test_a_source_merged_elsewhere_says_only_that_it_was_merged(api: Any) -> None:
    session = await api.session_for("n.bernard", "Lune-Verte-2026")
    status, body = await api.preview(session, "c.martin.ancien", "Ancien-Compte-2020")
    assert error_of((status, body)) == (409, AccountMerged.code, [{"merged_into_current": False}])
    assert "c.martin" not in json.dumps(body).replace("c.martin.ancien", ""), "never the other account's identifier"
    status, body = await api.login("c.martin.ancien", "Ancien-Compte-2020")
    assert error_of((status, body)) == (409, AccountMerged.code, []), "logging in says nothing more"


async def test_a_source_merged_into_an_account_merged_in_turn_into_the_current_one_says_so(
    api: Any, load_data: LoadData
) -> None:
    def account(identifier: str, status: str, merged_into: str | None = None) -> dict[str, Any]:
        item = {"identifier": identifier, "last_name": "Garnier", "first_name": "Lucie", "status": status}
        item["password"] = f"Mot-{identifier}-2026"
        return item | ({"merged_into": merged_into} if merged_into else {})

    await load_data(
        {
            "accounts": [
                account("l.garnier", "active"),
                account("l.garnier2", "merged", "l.garnier"),
                account("l.garnier3", "merged", "l.garnier2"),
                account("l.garnier.autre", "active"),
            ]
        }
    )
    keeper = await api.session_for("l.garnier", "Mot-l.garnier-2026")
    answer = await api.preview(keeper, "l.garnier3", "Mot-l.garnier3-2026")
    assert error_of(answer) == (409, AccountMerged.code, [{"merged_into_current": True}])
    other = await api.session_for("l.garnier.autre", "Mot-l.garnier.autre-2026")
    answer = await api.preview(other, "l.garnier3", "Mot-l.garnier3-2026")
    assert error_of(answer) == (409, AccountMerged.code, [{"merged_into_current": False}])
