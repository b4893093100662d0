"""The wheel works on its own: built, installed in a fresh virtual environment, `rattacher demo` answers in French.

Slow-tolerant (a build, a virtual environment and two demo runs: well under a minute), and part of the default
suite on purpose: an editable install hides every packaging mistake. The dependencies come from the test's own
environment (a .pth file), never from a download; the package itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "conversations", "service", "rattacher_locales")
NOT_PACKAGED = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "tests", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)
# the welcome asks the identifier kept; at the portal's form « 2 » ticks M 04/01/2010's box, « 4 » adds the students
DEMO_SCRIPT = "c.martin\nSoleil-Bleu-2026\nc.martin7\nK7QX-M2PA-9TZC\n2\n4\n/enfants\n"

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Installed:
    wheel: Path
    environment: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.environment / "bin" / "python"


def run(
    command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def clean_environment(home: Path) -> dict[str, str]:
    """The caller's environment without anything that could point at the source tree or configure Rattacher."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RATTACHER_", "PYTHON", "VIRTUAL_ENV")) and name not in {"HOME", "LANG", "LC_ALL"}
    }
    return {**kept, "HOME": str(home), "PYTHONNOUSERSITE": "1"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the repository, installed alone in a new virtual environment."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_PACKAGED)
    built = run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", work / "dist", source])
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (work / "dist").glob("rattacher-*.whl")
    environment = work / "environment"
    created = run([sys.executable, "-m", "venv", "--without-pip", environment])
    assert created.returncode == 0, created.stderr
    python = environment / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    assert site.returncode == 0, site.stderr
    result = Installed(wheel, environment, Path(site.stdout.strip()))
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (result.site_packages / "test_dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", result.python, "install", "--no-deps", "--no-index", wheel]
    installed_wheel = run([*pip, "--quiet"])
    assert installed_wheel.returncode == 0, installed_wheel.stdout + installed_wheel.stderr
    return result


def test_the_wheel_holds_every_source_migration_catalog_and_fixture(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = {name for name in wheel.namelist() if not name.startswith("rattacher-")}
    expected = {
        path.relative_to(ROOT).as_posix().replace("locales/", "rattacher_locales/", 1)
        for package in ("bot", "conversations", "service", "locales")
        for pattern in (
            "*.py",
            "*.mako",
            "*.ini",
            "*.json",
            "*.po",
            "*.html",
            "*.css",
            "*.js",
            "*.woff",
            "*.woff2",
            "*.svg",
        )
        for path in (ROOT / package).rglob(pattern)
        if "__pycache__" not in path.parts
    }
    assert expected <= shipped, f"missing from the wheel: {sorted(expected - shipped)}"
    assert {"service/migrations/script.py.mako", "conversations/migrations/script.py.mako"} <= shipped
    assert {f"rattacher_locales/{language}/LC_MESSAGES/messages.po" for language in ("fr", "en")} <= shipped
    assert {"bot/console/static/dsfr/LICENSE.md", "bot/console/static/dsfr/dsfr.min.css"} <= shipped


def test_the_installed_package_is_the_wheel_not_the_source_tree(installed: Installed, tmp_path: Path) -> None:
    probe = "import json, importlib; print(json.dumps({n: importlib.import_module(n).__file__ for n in %r}))"
    found = run([installed.python, "-c", probe % (PACKAGES,)], cwd=tmp_path, env=clean_environment(tmp_path))
    assert found.returncode == 0, found.stderr
    for package, location in json.loads(found.stdout).items():
        assert Path(location).is_relative_to(installed.site_packages), f"{package} imported from {location}"


def test_rattacher_demo_from_the_wheel_answers_in_french_and_writes_only_its_database(
    installed: Installed, tmp_path: Path
) -> None:
    workdir, home = tmp_path / "empty", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    demo = run(
        [installed.environment / "bin" / "rattacher", "demo"],
        stdin=DEMO_SCRIPT,
        cwd=workdir,
        env=clean_environment(home),
    )
    assert demo.returncode == 0, demo.stderr
    assert "Bonjour\u00a0! Je vous aide à regrouper tous vos enfants" in demo.stdout
    assert "Connexion réussie avec le compte c.martin." in demo.stdout
    assert "Ces enfants ont été ajoutés à votre compte\u00a0:" in demo.stdout
    assert "Console des conseillers (connexion locale de démonstration)\u00a0: http://localhost:" in demo.stdout
    assert "Hello" not in demo.stdout and "Login successful" not in demo.stdout
    assert [path.name for path in workdir.iterdir()] == ["var"], "nothing written beside ./var"
    assert {path.name for path in (workdir / "var").iterdir()} <= {
        "rattacher-demo.db",
        "rattacher-demo.db-wal",
        "rattacher-demo.db-shm",
    }
    assert not any(home.iterdir()), "nothing written in the home directory"


def test_a_wheel_without_its_french_catalog_refuses_to_start(installed: Installed, tmp_path: Path) -> None:
    catalog = installed.site_packages / "rattacher_locales" / "fr" / "LC_MESSAGES" / "messages.po"
    kept = tmp_path / "messages.po"
    shutil.move(catalog, kept)
    try:
        demo = run(
            [installed.environment / "bin" / "rattacher", "demo"],
            stdin=DEMO_SCRIPT,
            cwd=tmp_path,
            env=clean_environment(tmp_path),
        )
    finally:
        shutil.move(kept, catalog)
    assert demo.returncode == 2
    assert demo.stderr.startswith("rattacher: no fr catalog:"), demo.stderr
    assert demo.stdout == ""
    assert not (tmp_path / "var").exists(), "the demo stopped before writing anything"
