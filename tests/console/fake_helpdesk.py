"""A small HTTP stand-in for the service's hand-off, account, undo and report routes (contracts.md), for the
console pages' view tests: it checks what the console sends (token, X-Agent, bodies) and can be told to refuse.
The browser tests run against the real service."""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

AGENT_TOKEN = "agent-token-for-console-pages-tests"
MERGE_ID = "7a1e0c2d-5b9f-4c41-9d2e-000000000007"
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


@dataclass
class FakeHelpdesk:
    """The fake's state: hand-offs, accounts, what it was sent, and refusals to play."""

    handoffs: dict[int, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    undo_error: tuple[int, str, Any] | None = None
    create_error: tuple[int, str, Any] | None = None
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    reports: list[dict[str, str]] = field(default_factory=list)

    def add_progress(self, handoff_id: int, stage: str) -> None:
        """Record a stage the parent reached."""
        progress = self.handoffs[handoff_id]["progress"]
        progress.append({"id": len(progress) + 1, "stage": stage, "at": NOW.isoformat()})
        self.handoffs[handoff_id]["state"] = "opened"


def error(status: int, code: str, details: Any = None) -> web.Response:
    """The service's error body."""
    return web.json_response({"error": {"code": code, "message": code, "details": details}}, status=status)


def agent(request: web.Request) -> dict[str, str]:
    """Check the agent token and parse X-Agent like the service does."""
    if request.headers.get("Authorization") != f"Bearer {AGENT_TOKEN}":
        raise web.HTTPForbidden()
    fields = dict(urllib.parse.parse_qsl(request.headers["X-Agent"], strict_parsing=True))
    assert set(fields) <= {"sub", "name", "role"} and fields["sub"] and fields["name"]
    return fields


def create_fake_app(state: FakeHelpdesk) -> web.Application:
    """The fake service's routes."""
    app = web.Application()

    async def record(request: web.Request) -> dict[str, str]:
        who = agent(request)
        body = await request.json() if request.can_read_body else None
        state.calls.append((request.method, request.path, who, body))
        return who

    def public(item: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in item.items() if key != "payload"}

    async def create(request: web.Request) -> web.Response:
        who = await record(request)
        body = state.calls[-1][3]
        if state.create_error:
            return error(*state.create_error)
        handoff_id = len(state.handoffs) + 1
        item = {
            "handoff_id": handoff_id,
            "payload": "h" + secrets.token_urlsafe(32),
            "language": body["language"],
            "start_at": body["start_at"],
            "keep_identifier": body.get("keep_identifier"),
            "note": body.get("note"),
            "created_by": who["name"],
            "created_at": NOW.isoformat(),
            "expires_at": (NOW + dt.timedelta(hours=24)).isoformat(),
            "state": "pending",
            "progress": [],
        }
        state.handoffs[handoff_id] = item
        return web.json_response(item, status=201)

    async def listing(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"handoffs": [public(item) for item in reversed(state.handoffs.values())]})

    async def one(request: web.Request) -> web.Response:
        await record(request)
        item = state.handoffs.get(int(request.match_info["id"]))
        return web.json_response(public(item)) if item else error(404, "not_found")

    async def account(request: web.Request) -> web.Response:
        await record(request)
        item = state.accounts.get(request.match_info["identifier"])
        return web.json_response(item) if item else error(404, "account_not_found")

    async def undo(request: web.Request) -> web.Response:
        who = await record(request)
        if who.get("role") != "supervisor":
            return error(403, "supervisor_only")
        if state.undo_error:
            return error(*state.undo_error)
        merge_id = request.match_info["id"]
        for item in state.accounts.values():
            for merge in item["merges"]:
                if merge["merge_id"] == merge_id:
                    merge.update(undone_at=NOW.isoformat(), undone_by=who["name"], can_undo=False)
                    merge["undo_reason"] = state.calls[-1][3]["reason"]
        body = {"merge_id": merge_id, "undone_at": NOW.isoformat(), "source_identifier": "old.account",
                "target_identifier": "kept.account", "links_returned": 1}  # fmt: skip
        return web.json_response(body)

    async def report(request: web.Request) -> web.Response:
        who = await record(request)
        if who.get("role") != "supervisor":
            return error(403, "supervisor_only")
        state.reports.append(dict(request.query))
        return web.json_response(
            {
                "from": request.query["from"],
                "to": request.query["to"],
                "started": 10,
                "logged_in": 8,
                "preview_seen": 6,
                "merged": 5,
                "escalated": 2,
                "abandoned_by_stage": {"started": 2, "logged_in": 1, "preview_seen": 1, "escalated": 1},
                "escalated_by_reason": {"asked": 1, "names_differ": 1},
                "median_seconds_to_merge": 250,
                "median_seconds_to_first_answer": 95,
            }
        )

    app.router.add_post("/v1/helpdesk/handoffs", create)
    app.router.add_get("/v1/helpdesk/handoffs", listing)
    app.router.add_get("/v1/helpdesk/handoffs/{id}", one)
    app.router.add_get("/v1/helpdesk/accounts/{identifier}", account)
    app.router.add_post("/v1/helpdesk/merges/{id}/undo", undo)
    app.router.add_get("/v1/helpdesk/report", report)
    return app


def sample_account() -> dict[str, Any]:
    """An account that kept another one's children in a merge."""
    return {
        "identifier": "kept.account",
        "status": "active",
        "created_at": "2025-09-01T08:00:00+00:00",
        "merged_into": None,
        "children": [
            {"initial": "L", "birth_date": "2015-03-03", "role": "legal_guardian", "linked_at": "2025-09-01T08:00:00Z"},
            {"initial": "M", "birth_date": "2018-06-12", "role": "legal_guardian", "linked_at": "2026-11-20T09:00:00Z"},
        ],
        "merges": [
            {
                "merge_id": MERGE_ID,
                "role": "target",
                "other_identifier": "old.account",
                "at": "2026-11-20T09:00:00Z",
                "undone_at": None,
                "undone_by": None,
                "undo_reason": None,
                "can_undo": True,
                "undo_refusal": None,
            }
        ],
        "audit": [
            {
                "at": "2026-11-20T09:00:00Z",
                "action": "account.merge_received",
                "actor": "bot",
                "details": {"merge_id": MERGE_ID, "source": "old.account", "added": 2},
            },
            {
                "at": "2026-11-20T09:00:00Z",
                "action": "guardian_link.role_changed",
                "actor": "bot",
                "details": {"student_ine": "123456789AB", "legal_guardian": False, "new_field": "x"},
            },
        ],
    }
