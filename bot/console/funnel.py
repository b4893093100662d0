"""The supervisors' report as table rows, an accessible SVG funnel chart and a CSV file (French, for Excel)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape

from bot.console.page_models import Report

FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("started", "Ont commencé"),
    ("logged_in", "Se sont connectés"),
    ("preview_seen", "Ont vu l’aperçu"),
    ("merged", "Ont rattaché leurs comptes"),
)
ABANDON_STAGES: dict[str, str] = {
    "started": "Après le début",
    "logged_in": "Après la connexion",
    "preview_seen": "Après l’aperçu",
    "escalated": "Après la demande de conseiller",
}
REASONS: dict[str, str] = {
    "asked": "Demande du parent",
    "names_differ": "Noms différents",
    "locked": "Compte bloqué",
    "service_error": "Erreur du service",
    "repeated_misunderstanding": "Incompréhensions répétées",
    "other": "Autre raison",
}
CSV_DELIMITER = ";"
CSV_ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class Row:
    """One line of the report's table: a section, an indicator, its value and its share of parents who started."""

    section: str
    key: str
    label: str
    value: int | None
    share: float | None = None

    @property
    def share_text(self) -> str:
        """The share as French text (« 42 % »), or an empty string."""
        return "" if self.share is None else f"{round(self.share * 100)} %"

    @property
    def value_text(self) -> str:
        """The value as text: durations in words, missing values as « — »."""
        if self.value is None:
            return "—"
        if self.section == "durées":
            return duration_text(self.value)
        return str(self.value)


def duration_text(seconds: int) -> str:
    """Write a duration in French words: « 2 h 05 min », « 3 min 20 s », « 45 s »."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _share(value: int, started: int) -> float | None:
    """Return value / started, or None when nobody started."""
    return value / started if started else None


def funnel_rows(report: Report) -> list[Row]:
    """The funnel's stages, from started to merged, with their share of parents who started."""
    counts = {"started": report.started, "logged_in": report.logged_in, "preview_seen": report.preview_seen}
    counts["merged"] = report.merged
    return [
        Row("entonnoir", key, label, counts[key], _share(counts[key], report.started)) for key, label in FUNNEL_STAGES
    ]


def report_rows(report: Report) -> list[Row]:
    """Every line of the report: funnel, escalated, abandoned by stage, escalated by reason, median durations."""
    rows = funnel_rows(report)
    rows.append(
        Row(
            "entonnoir",
            "escalated",
            "Transmis à un conseiller",
            report.escalated,
            _share(report.escalated, report.started),
        )
    )
    for key, label in ABANDON_STAGES.items():
        value = report.abandoned_by_stage.get(key, 0)
        rows.append(Row("abandons", key, label, value, _share(value, report.started)))
    for key in sorted(report.abandoned_by_stage.keys() - ABANDON_STAGES.keys()):
        rows.append(Row("abandons", key, key, report.abandoned_by_stage[key], None))
    for key, label in REASONS.items():
        rows.append(Row("conseiller", key, label, report.escalated_by_reason.get(key, 0), None))
    for key in sorted(report.escalated_by_reason.keys() - REASONS.keys()):
        rows.append(Row("conseiller", key, key, report.escalated_by_reason[key], None))
    rows.append(
        Row("durées", "median_seconds_to_merge", "Durée médiane jusqu’au rattachement", report.median_seconds_to_merge)
    )
    rows.append(
        Row(
            "durées",
            "median_seconds_to_first_answer",
            "Durée médiane jusqu’à la première réponse d’un conseiller",
            report.median_seconds_to_first_answer,
        )
    )
    return rows


def funnel_svg(report: Report, *, width: int = 640) -> str:
    """Draw the funnel as an SVG image: one labelled bar per stage, a title and a description (the table is the
    full text alternative)."""
    rows = funnel_rows(report)
    bar_height, gap, label_height = 28, 14, 22
    step = label_height + bar_height + gap
    height = step * len(rows) + 4
    usable = width - 140
    summary = ", ".join(f"{row.label} : {row.value}" for row in rows)
    title = f"Entonnoir du {report.from_.strftime('%d/%m/%Y')} au {report.to.strftime('%d/%m/%Y')}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="rattacher-funnel" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" aria-labelledby="funnel-title funnel-desc">',
        f'<title id="funnel-title">{escape(title)}</title>',
        f'<desc id="funnel-desc">{escape(summary)}. Le détail est dans le tableau ci-dessous.</desc>',
    ]
    for index, row in enumerate(rows):
        top = index * step
        value = row.value or 0
        bar = round(usable * value / report.started) if report.started else 0
        bar = max(bar, 2)
        text = f"{value}" + (f" ({row.share_text})" if row.share_text else "")
        parts.append(
            f'<g><text x="0" y="{top + 16}" font-size="15" fill="#161616">{escape(row.label)}</text>'
            f'<rect x="0" y="{top + label_height}" width="{bar}" height="{bar_height}" fill="#000091" rx="2"/>'
            f'<text x="{bar + 8}" y="{top + label_height + 19}" font-size="15" fill="#161616">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def report_csv(report: Report) -> bytes:
    """Export the report as CSV for a French spreadsheet: `;` separated, UTF-8 with a BOM, one header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow(["du", "au", "rubrique", "indicateur", "libellé", "valeur", "part des parents ayant commencé"])
    start, end = report.from_.isoformat(), report.to.isoformat()
    for row in report_rows(report):
        share = "" if row.share is None else f"{row.share * 100:.1f}".replace(".", ",")
        value = "" if row.value is None else str(row.value)
        label = f"{row.label} (en secondes)" if row.section == "durées" else row.label
        writer.writerow([start, end, row.section, row.key, label, value, share])
    return buffer.getvalue().encode(CSV_ENCODING)
