"""The log check of the whole suite (tests/conftest.py, tests/log_leaks.py) catches a leak, and production's
formatter (service/log_setup.py) writes JSON lines with the request id and redacts what looks like a secret."""

from __future__ import annotations

import ast
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.telegram.settings import TelegramSettings
from conversations.engine import DialogEngine
from conversations.schema import upgrade_dialog_schema
from conversations.settings import DialogSettings
from conversations.steps import SECRET_STEPS
from conversations.store import DialogStore
from service.log_setup import LogSettings, json_lines_for, log_formatter
from service.schemas import ActivationRequest, Credentials
from tests.conversations.fake_service import FakeAccountService
from tests.conversations.support import Chat, FakeClock
from tests.log_leaks import LeakCheckingHandler, SecretRegistry, check_lines

ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORD = "Soleil-Bleu-2026"  # service/demo_fixture.json: c.martin's password
DEMO_TEMPORARY_PASSWORD = "K7QX-M2PA-9TZC"  # c.martin7's temporary password


def leaks_of(log_check: LeakCheckingHandler, emit: object) -> list[str]:
    """Log through the session's handler, return the lines it flagged, and take them back (this test passes)."""
    before = len(log_check.leaks)
    assert callable(emit)
    emit()
    caught = log_check.leaks[before:]
    del log_check.leaks[before:]
    return [leak.line for leak in caught]


def test_the_session_check_catches_a_fixture_password_in_a_message(log_check: LeakCheckingHandler) -> None:
    logger = logging.getLogger("service.probe")
    caught = leaks_of(log_check, lambda: logger.info("login of c.martin with %s", DEMO_PASSWORD))
    assert len(caught) == 1 and "login of c.martin" in caught[0]
    assert leaks_of(log_check, lambda: logger.info("login of c.martin refused")) == []


def test_the_session_check_catches_a_generated_token_and_a_settings_secret(log_check: LeakCheckingHandler) -> None:
    token = secrets.token_urlsafe(32)  # as the service makes session tokens: registered when made
    configured = SecretStr("a-configured-agent-token-value").get_secret_value()
    webhook = TelegramSettings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_token="123456789:AAHfakeTokenForTestsOnly_0123456789",
        webhook_secret_token="a-webhook-secret-from-the-settings",
    ).webhook_secret_token
    events = structlog.stdlib.get_logger("conversations.probe")
    assert len(leaks_of(log_check, lambda: events.info("session opened", session=token))) == 1
    assert len(leaks_of(log_check, lambda: events.debug("calling the service", agent=configured))) == 1
    assert webhook is not None
    assert len(leaks_of(log_check, lambda: events.info("webhook", header=webhook.get_secret_value()))) == 1
    assert (
        len(leaks_of(log_check, lambda: logging.getLogger("aiohttp.server").error("while serving /x/%s", token))) == 1
    )


def test_the_session_check_catches_a_temporary_password_by_its_shape(log_check: LeakCheckingHandler) -> None:
    logger = logging.getLogger("bot.probe")
    assert len(leaks_of(log_check, lambda: logger.warning("typed %s", DEMO_TEMPORARY_PASSWORD))) == 1
    assert len(leaks_of(log_check, lambda: logger.warning("typed %s", "ZZ9Z-KKKK-MMMM"))) == 1


@pytest.mark.parametrize("password", ["Été-Soleil-2026", 'Soleil"Bleu2026', "Soleil\\Bleu2026", "Sol\teil-Bleu-2026"])
def test_the_session_check_catches_a_secret_json_or_repr_escapes(log_check: LeakCheckingHandler, password: str) -> None:
    """JSON lines write `é` as a u-escape, `"` and `\\` escaped; a repr() doubles the backslash, then JSON again."""
    log_check.registry.add_phrase(password)
    logger = logging.getLogger("service.probe")
    events = structlog.stdlib.get_logger("service.probe")
    assert len(leaks_of(log_check, lambda: logger.info("typed %s", password))) == 1
    assert len(leaks_of(log_check, lambda: logger.info("typed %r", password))) == 1
    assert len(leaks_of(log_check, lambda: events.info("typed", note=password))) == 1
    assert len(leaks_of(log_check, lambda: events.info("typed", notes=[password]))) == 1
    assert check_lines(log_check.registry, [f"typed {password}"], "console.log"), "raw, in another process's lines"


@pytest.mark.parametrize(
    "typed", ["k7qx m2pa 9tzc", "K7QX M2PA 9TZC", "k7qx-m2pa-9tzc", "h8jn 4wqs-7kdf", "zz9z kkkk mmmm"]
)
def test_the_session_check_catches_a_temporary_password_as_parents_type_it(
    log_check: LeakCheckingHandler, typed: str
) -> None:
    logger = logging.getLogger("bot.probe")
    assert len(leaks_of(log_check, lambda: logger.warning("typed %s", typed))) == 1


@pytest.mark.parametrize(
    "ordinary",
    [
        "chat test:1: text -> step that kind",  # four-letter words: no digit
        "next step type text then wait",
        "request svc-0123abcd4567ef89 handled",
        "escalation 5f2b7c9e-3a4d-4e8f-9b2c-7d6e5f4a3b2c claimed",
        "chat test:89abcdef2345 saved",
        "took 2026 ms for 3456 rows",
        "ESC-0042 from tg-7-abcd at 2026-11-29T09:00:00",
    ],
)
def test_the_temporary_password_shape_leaves_ordinary_lines_alone(
    log_check: LeakCheckingHandler, ordinary: str
) -> None:
    logger = logging.getLogger("bot.probe")
    assert leaks_of(log_check, lambda: logger.info("%s", ordinary)) == []


def _never_registered(log_check: LeakCheckingHandler, prefix: str) -> str:
    """A fresh secret of letters only (the dialog refuses it as a new password); no log line flags it yet."""
    value = prefix + "".join(secrets.choice("abcdefghjkmnpqrstvwxyz") for _ in range(12))
    assert leaks_of(log_check, lambda: logging.getLogger("bot.probe").info("typed %s", value)) == []
    return value


async def test_what_is_typed_at_a_step_that_reads_a_secret_is_registered(
    log_check: LeakCheckingHandler, database_url: str
) -> None:
    """s.petit logs in with its temporary password; the new password it types breaks a rule the dialog checks
    itself (letters only): it reaches no service, and is a secret all the same."""
    database = create_async_engine(database_url)
    try:
        await upgrade_dialog_schema(database)
        settings = DialogSettings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
        service = FakeAccountService()
        chat = Chat(DialogEngine(DialogStore(database), service, settings, clock=FakeClock()))
        await chat.log_in("s.petit", "P3LM-6VXA-2RGE")
        await chat.press("Non")  # no other activated account: activate this one
        assert chat.last.expects_secret, chat.last_text
        new_password = _never_registered(log_check, "motdepasse")
        await chat.text(new_password)
        assert chat.outcomes[-1].step in SECRET_STEPS and chat.outcomes[-1].input_kind == "password"
        assert new_password not in service.received_passwords, "refused by the dialog, never sent"
    finally:
        await database.dispose()
    caught = leaks_of(log_check, lambda: logging.getLogger("conversations.probe").info("typed %s", new_password))
    assert len(caught) == 1


async def test_what_the_fake_service_and_the_service_receive_is_registered(log_check: LeakCheckingHandler) -> None:
    """A password the dialog tests' fake is given (even when it is down), and a password in a body of the service
    (even one its validation refuses)."""
    service = FakeAccountService(unavailable=True)
    given = _never_registered(log_check, "donneaufaux")
    with pytest.raises(Exception, match="stopped"):
        await service.log_in("test:1", "c.martin", given)
    in_body = _never_registered(log_check, "danslecorps")
    Credentials.model_validate_json(json.dumps({"identifier": "c.martin", "password": in_body}))
    refused = _never_registered(log_check, "refusecorps")
    with pytest.raises(ValidationError):
        ActivationRequest.model_validate_json(json.dumps({"activation_ticket": "", "new_password": refused}))
    logger = logging.getLogger("service.probe")
    for value in (given, in_body, refused):
        assert len(leaks_of(log_check, lambda value=value: logger.info("typed %s", value))) == 1, value


def test_what_production_redacts_never_reaches_the_line(log_check: LeakCheckingHandler) -> None:
    """Fields named like a secret, bearer credentials, whsec_ secrets and bot tokens in URLs: "[redacted]"."""
    events = structlog.stdlib.get_logger("service.probe")
    lines: list[str] = []
    capture = _ListHandler(lines)
    logging.getLogger("service.probe").addHandler(capture)
    try:
        assert leaks_of(log_check, lambda: events.info("login", password="not-a-real-one-42", identifier_len=8)) == []
        assert leaks_of(log_check, lambda: events.info("call", header="Bearer abcdefghijklmnopqrstuvwxyz")) == []
        assert leaks_of(log_check, lambda: events.info("relay", note="secret whsec_c2VjcmV0c2VjcmV0")) == []
        url = "https://api.telegram.org/bot123456789:AAHfakeTokenForTestsOnly_0123456789/getMe"
        assert leaks_of(log_check, lambda: logging.getLogger("service.probe").info("HTTP Request: POST %s", url)) == []
    finally:
        logging.getLogger("service.probe").removeHandler(capture)
    written = [json.loads(line) for line in lines]
    assert written[0]["password"] == "[redacted]" and written[0]["identifier_len"] == 8
    assert written[1]["header"] == "[redacted]"
    assert written[2]["note"] == "secret [redacted]"
    assert "AAHfake" not in written[3]["event"] and "[redacted]" in written[3]["event"]


def test_lines_of_another_process_are_checked_too() -> None:
    registry = SecretRegistry()
    registry.add_phrase("the-webhook-secret-of-a-test")
    lines = ['{"event": "started"}', '{"event": "secret is the-webhook-secret-of-a-test"}']
    leaks = check_lines(registry, lines, "bot.log")
    assert [leak.line for leak in leaks] == [lines[1]]
    assert leaks[0].reasons == ("secret the…(28 characters)",), "which secret: a hint (the line is shown)"


def test_a_json_line_carries_the_request_id_bound_in_the_context() -> None:
    lines: list[str] = []
    capture = _ListHandler(lines)
    logger = logging.getLogger("bot.probe.context")
    logger.addHandler(capture)
    try:
        with structlog.contextvars.bound_contextvars(request_id="tg-7-abcd"):
            logger.info("from the standard library")
            structlog.stdlib.get_logger("bot.probe.context").info("from structlog", step="login_identifier")
        logger.info("outside")
    finally:
        logger.removeHandler(capture)
    first, second, third = (json.loads(line) for line in lines)
    assert first["request_id"] == second["request_id"] == "tg-7-abcd"
    assert second["step"] == "login_identifier" and second["level"] == "info" and "timestamp" in second
    assert "request_id" not in third


@pytest.mark.parametrize(
    ("variables", "expected"),
    [({}, ("auto", None)), ({"RATTACHER_LOG_FORMAT": "JSON", "RATTACHER_LOG_LEVEL": "debug"}, ("json", "DEBUG"))],
)
def test_the_log_settings(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: tuple) -> None:
    for name in ("RATTACHER_LOG_FORMAT", "RATTACHER_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = LogSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.log_format, settings.log_level) == expected


def test_auto_writes_json_lines_unless_on_a_terminal(tmp_path) -> None:
    with (tmp_path / "journal").open("w") as file:
        assert json_lines_for("auto", file) is True
        assert json_lines_for("console", file) is False


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.setFormatter(log_formatter(json_lines=True))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_a_wrong_log_setting_stops_the_command_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("RATTACHER_LOG_LEVEL", "loud")
    assert main(["purge", "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith("rattacher: RATTACHER_LOG_LEVEL: ")


def test_a_test_whose_log_holds_a_secret_fails(tmp_path: Path) -> None:
    """The suite's own plugin (tests/conftest.py) in a pytest of its own: the leaking test fails, with its line."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    (tmp_path / "test_probe.py").write_text(
        "import logging\n\n"
        "def test_leaks():\n"
        f"    logging.getLogger('bot.probe').debug('typed %s', {DEMO_PASSWORD!r})\n\n"
        "def test_clean():\n"
        "    logging.getLogger('bot.probe').debug('typed a password, not shown')\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "ERROR test_probe.py::test_leaks - Failed: secrets in log lines" in finished.stdout, finished.stdout
    assert "test_clean" not in finished.stdout and "2 passed, 1 error" in finished.stdout
    assert "test_probe.py::test_leaks: secret Sol…(16 characters) in: {" in finished.stdout


def test_no_production_server_writes_an_access_log() -> None:
    """The check leaves aiohttp's access lines out (the tests' servers): every production runner must have none."""
    runners = []
    for package in ("service", "bot", "conversations"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "AppRunner",
                    "run_app",
                ):
                    keywords = {keyword.arg: keyword.value for keyword in node.keywords}
                    quiet = (
                        isinstance(keywords.get("access_log"), ast.Constant) and keywords["access_log"].value is None
                    )
                    runners.append((f"{path.relative_to(ROOT)}:{node.lineno}", quiet))
    assert len(runners) >= 5, runners  # the service, the webhook, the health and relay listeners, the console
    assert [where for where, quiet in runners if not quiet] == []
