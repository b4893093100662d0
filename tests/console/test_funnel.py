"""The report's rows, funnel chart and CSV export."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from pydantic import ValidationError

from bot.console.funnel import duration_text, funnel_rows, funnel_svg, report_csv, report_rows
from bot.console.page_models import Report

ANSWER = {
    "from": "2026-10-30",
    "to": "2026-11-28",
    "started": 200,
    "logged_in": 150,
    "preview_seen": 120,
    "merged": 90,
    "escalated": 12,
    "abandoned_by_stage": {"started": 40, "logged_in": 20, "preview_seen": 25, "escalated": 5},
    "escalated_by_reason": {"asked": 7, "names_differ": 3, "locked": 2},
    "median_seconds_to_merge": 312,
    "median_seconds_to_first_answer": None,
}


def report(**changes: object) -> Report:
    """A report answer, with some fields changed."""
    return Report.model_validate({**ANSWER, **changes})


def test_funnel_rows_in_order_with_shares() -> None:
    """Started → logged in → preview → merged, each with its share of parents who started."""
    rows = funnel_rows(report())
    assert [row.key for row in rows] == ["started", "logged_in", "preview_seen", "merged"]
    assert [row.value for row in rows] == [200, 150, 120, 90]
    assert [row.share_text for row in rows] == ["100 %", "75 %", "60 %", "45 %"]


def test_empty_period_has_no_shares_and_no_division_by_zero() -> None:
    """Nobody started: counts are zero, shares are blank, the chart still draws."""
    empty = report(
        started=0,
        logged_in=0,
        preview_seen=0,
        merged=0,
        escalated=0,
        abandoned_by_stage={},
        escalated_by_reason={},
        median_seconds_to_merge=None,
    )
    assert all(row.share is None for row in report_rows(empty))
    ET.fromstring(funnel_svg(empty))


def test_report_rows_cover_abandons_reasons_and_durations() -> None:
    """Abandons by stage and escalations by reason list every known key (0 when absent) and unknown ones too."""
    rows = report_rows(report(escalated_by_reason={"asked": 7, "new_reason": 1}))
    by_key = {(row.section, row.key): row for row in rows}
    assert by_key["abandons", "preview_seen"].value == 25
    assert by_key["conseiller", "asked"].value == 7
    assert by_key["conseiller", "locked"].value == 0
    assert by_key["conseiller", "new_reason"].value == 1
    assert by_key["durées", "median_seconds_to_merge"].value_text == "5 min 12 s"
    assert by_key["durées", "median_seconds_to_first_answer"].value_text == "—"
    assert by_key["entonnoir", "escalated"].share_text == "6 %"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (45, "45 s"), (200, "3 min 20 s"), (7500, "2 h 05 min")])
def test_duration_text(seconds: int, text: str) -> None:
    """Durations read as French words."""
    assert duration_text(seconds) == text


def test_svg_has_title_description_and_a_labelled_bar_per_stage() -> None:
    """The chart is an image with a title and a description, and every bar has its label and value as text."""
    svg = funnel_svg(report())
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "funnel-title funnel-desc"
    title = root.find("s:title", ns)
    assert title is not None and title.text == "Entonnoir du 30/10/2026 au 28/11/2026"
    desc = root.find("s:desc", ns)
    assert desc is not None and "Ont rattaché leurs comptes : 90" in (desc.text or "")
    texts = [text.text for text in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Ont commencé" in texts and "90 (45 %)" in texts
    widths = [int(rect.get("width", "0")) for rect in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert widths == sorted(widths, reverse=True) and widths[0] == 500


def test_svg_escapes_text() -> None:
    """Unknown labels cannot inject markup (the chart only shows known stages, but the title is escaped too)."""
    ET.fromstring(funnel_svg(report()))


def test_csv_is_semicolon_separated_utf8_with_bom_and_a_header() -> None:
    """Excel in French opens it as columns with accents intact."""
    data = report_csv(report())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["du", "au", "rubrique", "indicateur", "libellé", "valeur", "part des parents ayant commencé"]
    assert rows[1] == ["2026-10-30", "2026-11-28", "entonnoir", "started", "Ont commencé", "200", "100,0"]
    merged = next(row for row in rows if row[3] == "merged")
    assert merged[5:] == ["90", "45,0"]
    duration = next(row for row in rows if row[3] == "median_seconds_to_merge")
    assert duration[5] == "312"
    assert next(row for row in rows if row[3] == "median_seconds_to_first_answer")[5] == ""
    assert text.endswith("\r\n")


def test_report_refuses_negative_counts() -> None:
    """A broken service answer is caught at the edge."""
    with pytest.raises(ValidationError):
        report(started=-1)
