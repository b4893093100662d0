"""Catalogs are package data: read through importlib.resources, and a missing one stops the start, never English."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conversations.engine import DialogEngine
from conversations.i18n import CatalogMissing, catalog_path, locales_root, require_catalogs, translator
from conversations.runtime import dialog_engine
from conversations.settings import DialogSettings
from conversations.store import DialogStore

ROOT = Path(__file__).resolve().parents[2]
UNTRANSLATED_CATALOG = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "Cancel"\nmsgstr ""\n'
)


def test_the_catalogs_are_read_from_the_installed_package() -> None:
    root = locales_root()
    assert (root / "fr" / "LC_MESSAGES" / "messages.po").is_file()
    assert catalog_path("fr").read_bytes() == (ROOT / "locales" / "fr" / "LC_MESSAGES" / "messages.po").read_bytes()
    assert translator("fr")("Cancel") == "Annuler"


def test_a_missing_catalog_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "locales" / "en", tmp_path / "en")
    with pytest.raises(CatalogMissing, match="no fr catalog"):
        require_catalogs(tmp_path)
    with pytest.raises(CatalogMissing, match="no fr catalog"):
        translator("fr", tmp_path)


def test_a_catalog_that_translates_nothing_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "locales" / "en", tmp_path / "en")
    (tmp_path / "fr" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "fr" / "LC_MESSAGES" / "messages.po").write_text(UNTRANSLATED_CATALOG, encoding="utf-8")
    with pytest.raises(CatalogMissing, match=r"fr catalog .* translates nothing"):
        require_catalogs(tmp_path)


def test_the_engine_does_not_start_without_its_catalogs(
    dialog_database, fake_service, dialog_settings: DialogSettings, tmp_path: Path
) -> None:
    settings = dialog_settings.model_copy(update={"locales_dir": tmp_path})
    with pytest.raises(CatalogMissing):
        DialogEngine(DialogStore(dialog_database), fake_service, settings)


async def test_the_runtime_stops_before_opening_anything(tmp_path: Path) -> None:
    database = tmp_path / "var" / "dialog.db"
    settings = DialogSettings(_env_file=None, database_url=f"sqlite+aiosqlite:///{database}", locales_dir=tmp_path)
    with pytest.raises(CatalogMissing):
        async with dialog_engine(settings, service_url="http://127.0.0.1:9", service_token="unused"):
            pass
    assert not database.parent.exists()
