"""The step table: one entry per step, a graph that cannot drift from the docs, no dead end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conversations.engine import UndeclaredMove, apply_move
from conversations.state import Step
from conversations.steps import ANYWHERE_TARGETS, HUMAN, STEPS, mermaid_graph, step_graph
from conversations.turn import Move
from conversations.wording import human_wait
from tests.conversations.support import make_turn

DOCS = Path(__file__).resolve().parents[2] / "docs" / "conversations.md"


def test_every_step_is_one_entry_of_the_table() -> None:
    assert set(STEPS) == set(Step)
    for step, entry in STEPS.items():
        assert entry.leads_to <= set(Step) | {HUMAN}, step
        assert len(entry.help) == 2 and all(entry.help), step


def test_the_documented_graph_is_the_generated_one() -> None:
    documented = re.search(
        r"<!-- step-graph:begin -->\n```mermaid\n(.*?)\n```\n<!-- step-graph:end -->", DOCS.read_text(), re.S
    )
    assert documented is not None, "docs/conversations.md lost its step graph"
    assert documented.group(1) == mermaid_graph()


def reachable_from(start: Step) -> set[Step | str]:
    """Every node the table's transitions lead to from `start` (commands left out)."""
    graph = step_graph()
    seen: set[Step | str] = {start}
    frontier: list[Step | str] = [start]
    while frontier:
        node = frontier.pop()
        for target in graph.get(node, frozenset()) if isinstance(node, Step) else ():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_step_is_reachable_from_the_welcome() -> None:
    assert set(Step) <= reachable_from(Step.WELCOME)


@pytest.mark.parametrize("step", [step for step, entry in STEPS.items() if not entry.resting])
def test_every_step_that_is_not_a_menu_can_reach_a_menu_or_a_human(step: Step) -> None:
    ends = {other for other, entry in STEPS.items() if entry.resting} | {HUMAN}
    assert reachable_from(step) & ends, f"{step.value} is a dead end"


def test_commands_lead_only_to_the_menus_the_login_or_a_human() -> None:
    assert {Step.WELCOME, Step.MY_CHILDREN, Step.LOGIN_IDENTIFIER, HUMAN} == ANYWHERE_TARGETS


@pytest.mark.parametrize(
    ("seconds", "french", "english"),
    [
        (1, "1 seconde", "1 second"),
        (45, "45 secondes", "45 seconds"),
        (60, "1 minute", "1 minute"),
        (61, "2 minutes", "2 minutes"),
        (3600, "1 heure", "1 hour"),
        (7200, "2 heures", "2 hours"),
    ],
)
def test_waits_are_said_in_human_units(seconds: int, french: str, english: str) -> None:
    assert human_wait(make_turn("fr"), seconds) == french
    assert human_wait(make_turn("en"), seconds) == english


def test_a_move_the_table_does_not_declare_is_refused() -> None:
    turn = make_turn("fr")
    turn.state.step = Step.LOGIN_IDENTIFIER
    with pytest.raises(UndeclaredMove):
        apply_move(turn, Move.enter(Step.CHOOSE_ROLES), STEPS[Step.LOGIN_IDENTIFIER].leads_to)
    apply_move(turn, Move.advance(Step.LOGIN_PASSWORD), STEPS[Step.LOGIN_IDENTIFIER].leads_to)
    assert turn.state.step == Step.LOGIN_PASSWORD
