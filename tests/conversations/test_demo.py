"""`rattacher demo` scripted through a pipe: the whole demo merge, end to end, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.terminal import inbound_from_line
from conversations.engine import Button
from tests.log_leaks import assert_no_secret_in_output

DEMO_SCRIPT = (
    "\n".join(
        [
            "c.martin",  # the welcome asks the « Identifiant » of the account to keep
            "Soleil-Bleu-2026",  # « Mot de passe »
            "c.martin7",  # « Recherchez le compte »: the other account
            "K7QX-M2PA-9TZC",  # its temporary password
            "non",  # at the portal's form: never cancels the merge
            "2",  # « M 04/01/2010 · ☐ Je ne suis pas le représentant légal de cet élève »: ticked
            "4",  # « Ajouter ces élèves à mon compte »
            "/enfants",
        ]
    )
    + "\n"
)


def run_demo(cwd: Path, script: str) -> subprocess.CompletedProcess[str]:
    """The demo fed a script; its log lines (stderr: stdout is the terminal chat, its banner shows the demo's
    passwords on purpose) hold no secret."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    finished = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        input=script,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=90,
        check=False,
    )
    assert_no_secret_in_output(finished.stderr, "rattacher demo's stderr")
    return finished


def test_a_scripted_demo_completes_the_merge(tmp_path: Path) -> None:
    finished = run_demo(tmp_path, DEMO_SCRIPT)
    assert finished.returncode == 0, finished.stderr
    output = finished.stdout
    assert "c.martin7 / K7QX-M2PA-9TZC" in output
    assert "Ces enfants ont été ajoutés à votre compte\u00a0:\n" in output
    assert "• C 11/04/2007 — représentant légal" in output
    assert "• M 04/01/2010 — pas représentant légal" in output
    assert "Soleil-Bleu-2026" not in output.split("Tapez un numéro")[1], "passwords are never echoed"
    assert (tmp_path / "var" / "rattacher-demo.db").exists()
    propagated = [line for line in output.splitlines() if "⇢ transmis aux portails\u00a0: " in line]
    assert [line.split(": ", 1)[1].split(" · ")[0] for line in propagated] == [
        "guardian_link.created",
        "guardian_link.created",
        "account.merged",
    ], "the demo shows each delivered event, in order, right after the merge"
    assert "source_identifier=c.martin7 · target_identifier=c.martin" in propagated[-1]

    again = run_demo(tmp_path, "/enfants\n")
    assert again.returncode == 0, again.stderr
    assert "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:\n" in again.stdout, (
        "the login and the merge survive the restart"
    )
    assert "M 04/01/2010 — pas représentant légal" in again.stdout


BUTTONS = [Button("Annuler", "n1.cancel"), Button("Continuer", "n1.continue")]


@pytest.mark.parametrize(
    ("line", "secret", "expected"),
    [
        ("2", False, ("button", "", "", "n1.continue")),
        ("2", True, ("text", "2", "", "")),
        ("3", False, ("text", "3", "", "")),
        ("/Langue en", False, ("command", "en", "langue", "")),
        ("/annuler", True, ("command", "", "annuler", "")),
        ("  c.martin ", False, ("text", "  c.martin ", "", "")),
    ],
)
def test_terminal_lines_become_inbound_messages(line: str, secret: bool, expected: tuple[str, str, str, str]) -> None:
    inbound = inbound_from_line(line, BUTTONS, secret=secret, language="fr")
    assert (inbound.kind, inbound.text, inbound.command, inbound.button) == expected
    assert inbound.chat_key == "terminal:local"
