"""Start-up refuses argon2id parameters below OWASP's minimum (m=19456 KiB, t=2, p=1), with a clear message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.cli import build_parser
from service.settings import ServiceSettings

WEAK_PARAMETERS = [
    ("RATTACHER_ARGON2_MEMORY_COST_KIB", "1024", "19456"),
    ("RATTACHER_ARGON2_MEMORY_COST_KIB", "19455", "19456"),
    ("RATTACHER_ARGON2_TIME_COST", "1", "2"),
    ("RATTACHER_ARGON2_PARALLELISM", "0", "1"),
]


@pytest.mark.parametrize(("variable", "value", "minimum"), WEAK_PARAMETERS)
def test_weak_argon2_settings_are_refused_naming_the_variable_and_the_minimum(
    monkeypatch, variable: str, value: str, minimum: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        ServiceSettings(_env_file=None)
    message = str(raised.value)
    assert f"{variable} must be at least {minimum}" in message
    assert "OWASP" in message


def test_the_owasp_minimum_itself_is_accepted(monkeypatch) -> None:
    monkeypatch.setenv("RATTACHER_ARGON2_MEMORY_COST_KIB", "19456")
    monkeypatch.setenv("RATTACHER_ARGON2_TIME_COST", "2")
    monkeypatch.setenv("RATTACHER_ARGON2_PARALLELISM", "1")
    settings = ServiceSettings(_env_file=None)
    assert (settings.argon2_memory_cost_kib, settings.argon2_time_cost, settings.argon2_parallelism) == (19456, 2, 1)


@pytest.mark.parametrize("command", ["service", "load"])
def test_the_service_commands_refuse_to_start_with_weak_argon2_settings(
    monkeypatch, tmp_path, capsys, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RATTACHER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("RATTACHER_ARGON2_TIME_COST", "1")
    arguments = build_parser().parse_args([command, "fixture.json"] if command == "load" else [command])
    assert arguments.handler(arguments) == 2
    error_output = capsys.readouterr().err
    assert error_output.startswith("rattacher: RATTACHER_ARGON2_TIME_COST must be at least 2 (OWASP minimum")
    assert not (tmp_path / "never.db").exists()


HUGE_PARAMETERS = [
    ("RATTACHER_ARGON2_MEMORY_COST_KIB", "99999999999", "4194304"),
    ("RATTACHER_ARGON2_MEMORY_COST_KIB", "4194305", "4194304"),
    ("RATTACHER_ARGON2_TIME_COST", "101", "100"),
    ("RATTACHER_ARGON2_PARALLELISM", "99999999", "64"),
]


@pytest.mark.parametrize(("variable", "value", "maximum"), HUGE_PARAMETERS)
def test_huge_argon2_settings_are_refused_naming_the_variable_and_the_maximum(
    monkeypatch, variable: str, value: str, maximum: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        ServiceSettings(_env_file=None)
    assert f"{variable} must be at most {maximum}" in str(raised.value)


def test_the_argon2_maximums_themselves_are_accepted(monkeypatch) -> None:
    monkeypatch.setenv("RATTACHER_ARGON2_MEMORY_COST_KIB", "4194304")
    monkeypatch.setenv("RATTACHER_ARGON2_TIME_COST", "100")
    monkeypatch.setenv("RATTACHER_ARGON2_PARALLELISM", "64")
    settings = ServiceSettings(_env_file=None)
    assert (settings.argon2_memory_cost_kib, settings.argon2_time_cost, settings.argon2_parallelism) == (
        4194304,
        100,
        64,
    )


@pytest.mark.parametrize("command", ["service", "load"])
def test_the_service_commands_refuse_to_start_with_huge_argon2_settings(
    monkeypatch, tmp_path, capsys, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RATTACHER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("RATTACHER_ARGON2_MEMORY_COST_KIB", "99999999999")
    monkeypatch.setenv("RATTACHER_ARGON2_PARALLELISM", "99999999")
    arguments = build_parser().parse_args([command, "fixture.json"] if command == "load" else [command])
    assert arguments.handler(arguments) == 2
    assert capsys.readouterr().err.splitlines() == [
        "rattacher: RATTACHER_ARGON2_MEMORY_COST_KIB must be at most 4194304 "
        "(argon2id ceilings: m=4194304 KiB i.e. 4 GiB, t=100, p=64), got 99999999999",
        "rattacher: RATTACHER_ARGON2_PARALLELISM must be at most 64 "
        "(argon2id ceilings: m=4194304 KiB i.e. 4 GiB, t=100, p=64), got 99999999",
    ]
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("value", ["", "CHANGE_ME", "x" * 15])
def test_a_short_metrics_token_is_refused_in_every_process(monkeypatch, value: str) -> None:
    """An empty token would let `Authorization: Bearer ` through; a placeholder left in place is refused too."""
    from bot.console.settings import ConsoleSettings
    from bot.telegram.settings import TelegramSettings

    for settings_class, variable in (
        (ServiceSettings, "RATTACHER_METRICS_TOKEN"),
        (TelegramSettings, "RATTACHER_METRICS_TOKEN"),
        (ConsoleSettings, "RATTACHER_CONSOLE_METRICS_TOKEN"),
    ):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError) as raised:
            settings_class(_env_file=None)  # type: ignore[call-arg]
        refused = [(error["loc"], error["type"]) for error in raised.value.errors()]
        assert (("metrics_token",), "too_short") in refused, refused
    monkeypatch.setenv("RATTACHER_METRICS_TOKEN", "a-token-of-16-ch")
    assert ServiceSettings(_env_file=None).metrics_token is not None  # type: ignore[call-arg]
