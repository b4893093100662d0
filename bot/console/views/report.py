"""The supervisors' report: a period, a funnel chart, a table and a CSV download."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.console.funnel import duration_text, funnel_svg, report_csv, report_rows
from bot.console.page_models import Report
from bot.console.pages_support import call_service, day, page, parse_answer, render_page, supervisor_of, today_in_paris

DEFAULT_DAYS = 30
MAX_DAYS = 366
SECTIONS = {
    "entonnoir": "Parcours des parents",
    "abandons": "Abandons, par dernière étape atteinte",
    "conseiller": "Demandes de conseiller, par raison",
    "durées": "Durées médianes",
}


@dataclass
class Period:
    """The chosen period as typed, its dates once valid, and its errors by field."""

    typed_from: str
    typed_to: str
    start: date | None = None
    end: date | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _date(text: str) -> date | None:
    """A date typed as YYYY-MM-DD (the date field) or JJ/MM/AAAA (typed by hand where there is no date picker)."""
    text = text.strip()
    if len(text) == 10 and text[2] == "/" and text[5] == "/":
        text = f"{text[6:]}-{text[3:5]}-{text[:2]}"
    try:
        return date.fromisoformat(text) if len(text) == 10 and text[4] == "-" else None
    except ValueError:
        return None


def read_period(query: Any, today: date) -> Period:
    """The period from the query string; the last 30 days (today included) when none is given."""
    default_from = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    period = Period(str(query.get("from", default_from))[:20], str(query.get("to", today.isoformat()))[:20])
    period.start, period.end = _date(period.typed_from), _date(period.typed_to)
    period.typed_from = period.start.isoformat() if period.start else period.typed_from
    period.typed_to = period.end.isoformat() if period.end else period.typed_to
    if period.start is None:
        period.errors["from"] = "Tapez la date de début au format JJ/MM/AAAA."
    if period.end is None:
        period.errors["to"] = "Tapez la date de fin au format JJ/MM/AAAA."
    if period.start and period.end:
        if period.start > period.end:
            period.errors["to"] = "La date de fin doit suivre la date de début."
        elif (period.end - period.start).days + 1 > MAX_DAYS:
            period.errors["to"] = f"La période fait au plus {MAX_DAYS} jours."
    return period


async def _report(request: web.Request, period: Period) -> Report:
    """Ask the service for the report of a valid period."""
    assert period.start and period.end
    params = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    return parse_answer(request, Report, await call_service(request, "GET", "/v1/helpdesk/report", params=params))


async def report_page(request: web.Request) -> web.Response:
    """GET /report: the period chooser, the funnel chart and the table (supervisors only)."""
    supervisor_of(request)
    period = read_period(request.query, today_in_paris())
    context: dict[str, Any] = {"period": period, "sections": SECTIONS, "day": day, "duration_text": duration_text}
    if period.errors:
        return render_page(request, "report.html", {**context, "report": None}, status=400)
    report = await _report(request, period)
    context.update(report=report, rows=report_rows(report), chart=Markup(funnel_svg(report)))
    return render_page(request, "report.html", context)


async def report_download(request: web.Request) -> web.Response:
    """GET /report.csv: the same figures as CSV (`;`, UTF-8 with BOM, for a French spreadsheet)."""
    supervisor_of(request)
    period = read_period(request.query, today_in_paris())
    if period.errors:
        raise page(request, 400, "Période non valable", " ".join(period.errors.values()))
    report = await _report(request, period)
    name = f"rapport-rattacher-{report.from_.isoformat()}-{report.to.isoformat()}.csv"
    return web.Response(
        body=report_csv(report),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    """Register the report pages."""
    app.router.add_get("/report", report_page, name="report")
    app.router.add_get("/report.csv", report_download, name="report_csv")
