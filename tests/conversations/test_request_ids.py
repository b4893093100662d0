"""The request id a channel binds per update (conversations/request_ids.py)."""

from __future__ import annotations

import asyncio

from conversations.request_ids import REQUEST_ID_FORMAT, bound_request_id, current_request_id, new_request_id


def test_an_id_names_its_update_and_is_what_the_service_accepts() -> None:
    request_id = new_request_id("tg", 123456789)
    assert request_id.startswith("tg-123456789-") and REQUEST_ID_FORMAT.fullmatch(request_id)
    assert new_request_id("tg", 123456789) != request_id, "a redelivered update gets an id of its own"
    assert REQUEST_ID_FORMAT.fullmatch(new_request_id("x", "9" * 100)), "cut to 64 characters"


def test_the_same_update_keeps_its_id_inside_and_nothing_stays_bound_after() -> None:
    assert current_request_id() is None
    with bound_request_id("tg", 7) as outer:
        with bound_request_id("tg", 7) as inner:
            assert inner == outer == current_request_id()
        with bound_request_id("tg", 8) as other:
            assert other != outer
        with bound_request_id("term") as line:
            assert line != outer and line.startswith("term-")
        assert current_request_id() == outer
    assert current_request_id() is None


async def test_concurrent_updates_do_not_share_an_id() -> None:
    seen: dict[int, str | None] = {}

    async def handle(update_id: int) -> None:
        with bound_request_id("tg", update_id):
            await asyncio.sleep(0.01)
            seen[update_id] = current_request_id()

    await asyncio.gather(*(handle(update_id) for update_id in range(5)))
    assert all(str(seen[update_id]).startswith(f"tg-{update_id}-") for update_id in range(5))
