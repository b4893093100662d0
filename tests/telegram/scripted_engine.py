"""A fake dialog engine for the channel's own tests: scripted answers, update_id deduplication."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from conversations.engine import Inbound, Outcome, Reply


class ScriptedEngine:
    """Answers each inbound with `respond(inbound)`; a repeated update_id gets the same outcome."""

    def __init__(self, respond: Callable[[Inbound], Outcome] | None = None) -> None:
        self.received: list[Inbound] = []
        self._respond = respond or echo
        self._outcomes: dict[int, Outcome] = {}

    async def handle(self, inbound: Inbound) -> Outcome:
        if inbound.update_id is not None and inbound.update_id in self._outcomes:
            return dataclasses.replace(self._outcomes[inbound.update_id], handled=False)
        self.received.append(inbound)
        outcome = self._respond(inbound)
        if inbound.update_id is not None:
            self._outcomes[inbound.update_id] = outcome
        return outcome


def echo(inbound: Inbound) -> Outcome:
    """One reply naming what was received."""
    said = inbound.text or inbound.command or inbound.button or inbound.kind
    return Outcome(replies=(Reply(f"reçu : {said}"),))
