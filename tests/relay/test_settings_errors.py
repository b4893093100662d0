"""Unusable relay settings stop `rattacher relay`, `run` and `demo` with one clear line, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main

VALID_TOKEN = "123456789:AAHfakeTokenForTestsOnly_0123456789"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LEASE_LINE = "rattacher: RATTACHER_RELAY_LEASE_SECONDS must exceed RATTACHER_RELAY_TIMEOUT_SECONDS by more than"
PROBLEMS = [
    ({"RATTACHER_RELAY_TIMEOUT_SECONDS": "0"}, "rattacher: RATTACHER_RELAY_TIMEOUT_SECONDS: Input should be greater"),
    (
        {"RATTACHER_RELAY_WEBHOOK_URL": "http://portail.example.fr/hooks", "RATTACHER_RELAY_WEBHOOK_SECRET": SECRET},
        "rattacher: RATTACHER_RELAY_WEBHOOK_URL: webhook URL must be https://",
    ),
    (
        {
            "RATTACHER_RELAY_WEBHOOK_URL": "https://portail.example.fr/hooks",
            "RATTACHER_RELAY_WEBHOOK_SECRET": "hunter2",
        },
        "rattacher: RATTACHER_RELAY_WEBHOOK_SECRET: webhook secret must start with whsec_",
    ),
    (
        {"RATTACHER_RELAY_WEBHOOK_URL": "https://portail.example.fr/hooks"},
        "rattacher: RATTACHER_RELAY_WEBHOOK_SECRET is required with RATTACHER_RELAY_WEBHOOK_URL",
    ),
    ({"RATTACHER_RELAY_LEASE_SECONDS": "10", "RATTACHER_RELAY_TIMEOUT_SECONDS": "10"}, LEASE_LINE),
]


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No .env and no RATTACHER_ variable from the developer's shell; a database file that must not appear."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("RATTACHER_"):
            monkeypatch.delenv(name)
    path = tmp_path / "never.db"
    monkeypatch.setenv("RATTACHER_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("RATTACHER_TELEGRAM_TOKEN", VALID_TOKEN)
    return path


@pytest.mark.parametrize(("variables", "line"), PROBLEMS)
@pytest.mark.parametrize("command", [["relay"], ["run"], ["demo", "--database", "never.db"]])
def test_unusable_relay_settings_stop_the_start_in_one_line(
    command: list[str], variables: dict[str, str], line: str, database: Path, monkeypatch, capsys
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.startswith(line) and error.count("\n") == 1, error
    assert "hunter2" not in error and SECRET not in error
    assert not database.exists(), "stopped before touching the database"


@pytest.mark.parametrize(
    "command",
    [["relay", "subscribers", "list"], ["relay", "dead-letters", "list"], ["relay", "subscribers", "remove", "x"]],
)
def test_the_relay_sub_commands_refuse_invalid_settings_in_one_line(
    command: list[str], database: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("RATTACHER_RELAY_MAX_ATTEMPTS", "0")
    assert main(command) == 2
    assert (
        capsys.readouterr().err
        == "rattacher: RATTACHER_RELAY_MAX_ATTEMPTS: Input should be greater than or equal to 1\n"
    )
    assert not database.exists()
