"""Smoke test of `rattacher bench`: tiny N, both bots, the table printed (figures never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import families, run
from tests.log_leaks import SESSION_SECRETS, assert_no_secret_in_log, assert_no_secret_in_output

ROOT = Path(__file__).resolve().parents[1]


def bench_passwords(count: int) -> list[str]:
    """The passwords of the accounts the bench keeps (bench/families.py: the first `count` families)."""
    return [family.kept_password for family in families.generate(count)]


@pytest.mark.timeout(300)
def test_the_bench_runs_both_bots_and_prints_the_table(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RATTACHER_")}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "bench",
            "--parents",
            "2",
            "--rate",
            "1",
            "--duration",
            "2",
            "--direct",
            "2",
            "--backend",
            "sqlite",
            "--keep",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=280,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    # the bench's secrets: its tokens, its families' passwords (temporary ones are found by their shape)
    for secret in (run.BOT_TOKEN, run.SERVICE_TOKEN, run.WEBHOOK_SECRET, *bench_passwords(100)):
        SESSION_SECRETS.add_phrase(secret)
    assert_no_secret_in_output(finished.stderr, "rattacher bench's stderr")
    for log in tmp_path.rglob("*.log"):  # the service's and the bots' output (--keep)
        assert_no_secret_in_log(log)
    report = finished.stdout
    assert "hash-bound ceiling:" in report
    assert "service alone (log in, preview, apply over HTTP)" in report
    for heading in ("[sqlite] burst: 2 parents at once", "[sqlite] open-loop: Poisson arrivals at 1.0/s"):
        assert heading in report
    header = next(line for line in report.splitlines() if line.strip().startswith("rattacher"))
    assert "toy" in header
    for metric in (
        "completed merges/s",
        "Bot API calls/merge, all",
        "Bot API calls/merge, budget",
        "CPU ms/merge",
        "first reply p50/p95/p99 ms, text",
        "first reply p50/p95/p99 ms, button",
        "first reply p50/p95/p99 ms, password",
        "RSS MiB peak / final",
    ):
        assert metric in report
    completed = [line for line in report.splitlines() if line.startswith("merges completed (failed)")]
    assert completed and all(line.split()[3:] == ["2", "(0)", "2", "(0)"] for line in completed[:1]), completed
