"""Start-up errors: a missing or malformed token is one clear line, never a traceback."""

from __future__ import annotations

import os

import pytest

from bot.cli import main
from bot.telegram.cli import MALFORMED_TOKEN, MISSING_TOKEN
from conversations.i18n import translator

VALID_TOKEN = "123456789:AAHfakeTokenForTestsOnly_0123456789"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No .env and no RATTACHER_ variable from the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("RATTACHER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")


@pytest.mark.parametrize(
    ("token", "msgid"),
    [
        (None, MISSING_TOKEN),
        ("123:abc", MALFORMED_TOKEN),
        ("123456789:AAHfakeTokenForTestsOnly_0123456789 extra", MALFORMED_TOKEN),
    ],
)
@pytest.mark.parametrize("command", ["bot", "run"])
def test_a_bad_token_is_one_clear_line(
    command: str, token: str | None, msgid: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    if token is not None:
        monkeypatch.setenv("RATTACHER_TELEGRAM_TOKEN", token)
    assert main([command]) == 2
    error = capsys.readouterr().err
    in_french = translator("fr")(msgid)
    assert in_french != msgid, "the message is translated"
    assert error == f"rattacher: {in_french}\n"
    assert token is None or token not in error


def test_webhook_mode_requires_a_secret_token(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("RATTACHER_TELEGRAM_TOKEN", VALID_TOKEN)
    assert main(["bot", "--webhook-url", "https://bot.example.fr/telegram"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "RATTACHER_WEBHOOK_SECRET_TOKEN" in error
    assert VALID_TOKEN not in error
