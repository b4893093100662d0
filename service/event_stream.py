"""Server-Sent Events for the console: write what is new, wait for the next pulse, keep the line alive, stop in time.

Both live streams (an escalation's messages, a hand-off's progress) are this loop around their own query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from service.context import ServiceContext

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
KEEP_ALIVE = b": keep-alive\n\n"


@dataclass(frozen=True)
class StreamEvent:
    """One event of a stream: its id (the next Last-Event-ID), its name and its JSON data."""

    id: int
    name: str
    data: str

    def encoded(self) -> bytes:
        return f"id: {self.id}\nevent: {self.name}\ndata: {self.data}\n\n".encode()


@dataclass(frozen=True)
class StreamBatch:
    """What a stream's query found after an id, and whether the stream is over once these are sent."""

    events: Sequence[StreamEvent]
    finished: bool


FetchAfter = Callable[[int], Awaitable[StreamBatch]]


async def stream_until_finished(
    request: web.Request, context: ServiceContext, first: StreamBatch, after: int, fetch_after: FetchAfter
) -> web.StreamResponse:
    """Send `first`, then each new batch as the pulse announces it, until finished, the time limit or shutdown."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    settings = context.settings
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.helpdesk_stream_max_seconds
    next_beat = loop.time() + settings.helpdesk_heartbeat_seconds
    batch = first
    try:
        while True:
            for event in batch.events:
                await response.write(event.encoded())
                after = event.id
            remaining = deadline - loop.time()
            if batch.finished or remaining <= 0 or context.helpdesk_pulse.closed:
                break
            if loop.time() >= next_beat:
                await response.write(KEEP_ALIVE)
                next_beat = loop.time() + settings.helpdesk_heartbeat_seconds
            await context.helpdesk_pulse.wait(min(settings.helpdesk_poll_interval_seconds, remaining))
            batch = await fetch_after(after)
    except ConnectionResetError:
        return response
    await response.write_eof()
    return response
