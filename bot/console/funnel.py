"""The supervisors' report as table rows, an accessible SVG funnel chart and a CSV file (for Excel), in the agent's
language (section and indicator columns stay codes)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape

from bot.console.i18n import N_, _
from bot.console.page_models import Report

FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("started", N_("Started")),
    ("logged_in", N_("Signed in")),
    ("preview_seen", N_("Saw the preview")),
    ("merged", N_("Gathered their accounts")),
)
ABANDON_STAGES: dict[str, str] = {
    "started": N_("After starting"),
    "logged_in": N_("After signing in"),
    "preview_seen": N_("After the preview"),
    "escalated": N_("After asking for an agent"),
}
REASONS: dict[str, str] = {
    "asked": N_("Parent's request"),
    "names_differ": N_("Names differ"),
    "locked": N_("Account locked"),
    "service_error": N_("Service error"),
    "repeated_misunderstanding": N_("Repeated misunderstandings"),
    "other": N_("Other reason"),
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
        return "" if self.share is None else _("{percent} %").format(percent=round(self.share * 100))

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
        return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{minutes:02d}")
    if minutes:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=f"{secs:02d}")
    return _("{seconds} s").format(seconds=secs)


def _share(value: int, started: int) -> float | None:
    """Return value / started, or None when nobody started."""
    return value / started if started else None


def funnel_rows(report: Report) -> list[Row]:
    """The funnel's stages, from started to merged, with their share of parents who started."""
    counts = {"started": report.started, "logged_in": report.logged_in, "preview_seen": report.preview_seen}
    counts["merged"] = report.merged
    return [
        Row("entonnoir", key, _(label), counts[key], _share(counts[key], report.started))
        for key, label in FUNNEL_STAGES
    ]


def report_rows(report: Report) -> list[Row]:
    """Every line of the report: funnel, escalated, abandoned by stage, escalated by reason, median durations."""
    rows = funnel_rows(report)
    rows.append(
        Row(
            "entonnoir",
            "escalated",
            _("Passed to an agent"),
            report.escalated,
            _share(report.escalated, report.started),
        )
    )
    for key, label in ABANDON_STAGES.items():
        value = report.abandoned_by_stage.get(key, 0)
        rows.append(Row("abandons", key, _(label), value, _share(value, report.started)))
    for key in sorted(report.abandoned_by_stage.keys() - ABANDON_STAGES.keys()):
        rows.append(Row("abandons", key, key, report.abandoned_by_stage[key], None))
    for key, label in REASONS.items():
        rows.append(Row("conseiller", key, _(label), report.escalated_by_reason.get(key, 0), None))
    for key in sorted(report.escalated_by_reason.keys() - REASONS.keys()):
        rows.append(Row("conseiller", key, key, report.escalated_by_reason[key], None))
    rows.append(
        Row("durées", "median_seconds_to_merge", _("Median time until gathering"), report.median_seconds_to_merge)
    )
    rows.append(
        Row(
            "durées",
            "median_seconds_to_first_answer",
            _("Median time until an agent's first answer"),
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
    summary = ", ".join(_("{label}: {value}").format(label=row.label, value=row.value) for row in rows)
    title = _("Funnel from {start} to {end}").format(
        start=report.from_.strftime("%d/%m/%Y"), end=report.to.strftime("%d/%m/%Y")
    )
    description = _("{summary}. The details are in the table below.").format(summary=summary)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="rattacher-funnel" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" aria-labelledby="funnel-title funnel-desc">',
        f'<title id="funnel-title">{escape(title)}</title>',
        f'<desc id="funnel-desc">{escape(description)}</desc>',
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
    writer.writerow(
        [
            _("from"),
            _("to"),
            _("section"),
            _("indicator"),
            _("label"),
            _("value"),
            _("share of the parents who started"),
        ]
    )
    start, end = report.from_.isoformat(), report.to.isoformat()
    for row in report_rows(report):
        share = "" if row.share is None else f"{row.share * 100:.1f}".replace(".", ",")
        value = "" if row.value is None else str(row.value)
        label = _("{label} (in seconds)").format(label=row.label) if row.section == "durées" else row.label
        writer.writerow([start, end, row.section, row.key, label, value, share])
    return buffer.getvalue().encode(CSV_ENCODING)
