"""The relay's counters (docs/operations.md); its gauges (outbox lag, dead letters, pool) are the service's own,
read at scrape time by service/metrics.py. Labels: the subscriber's name (chosen by the administrator) and the
state a delivery was left in."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from service.relay.policy import DeliveryState

DELIVERIES = Counter(
    "rattacher_relay_deliveries_total",
    "Delivery attempts by subscriber and result: delivered, retry (pending, tried again later) or dead",
    ["subscriber", "outcome"],
)
OUTCOMES = {DeliveryState.DELIVERED: "delivered", DeliveryState.PENDING: "retry", DeliveryState.DEAD: "dead"}


def count_deliveries(subscriber: str, states: Iterable[str]) -> None:
    """One round's attempts for one subscriber, by the state each delivery was left in."""
    for state in states:
        DELIVERIES.labels(subscriber=subscriber, outcome=OUTCOMES.get(DeliveryState(state), state)).inc()
