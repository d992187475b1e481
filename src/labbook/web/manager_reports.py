"""The outreach report for managers and admins: figures, server-drawn SVG charts, CSV and XLSX.

Charts are drawn by pygal as standalone SVG images (``<img>``), with the same figures in the tables
beside them, so the page reads without JavaScript, with images off and on paper.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any

import asyncpg
import pygal
from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from openpyxl import Workbook
from pygal.style import Style

from labbook.catalog import service as catalog
from labbook.core.access import LAB_STAFF
from labbook.core.principal import Principal
from labbook.errors import LabbookError, NotFound
from labbook.reports import service as reports
from labbook.timezones import DEFAULT_TIMEZONE, zone
from labbook.web.forms import N_
from labbook.web.i18n import Formats, Gettext, localized
from labbook.web.pages import now_of, page_lang, render
from labbook.web.problems import explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Text = Annotated[str | None, QueryParameter(max_length=80)]
# The API's names: ``from`` and ``to`` (whole days, both included), ``lab`` (a slug).
From = Annotated[str | None, QueryParameter(name="from", max_length=10)]
To = Annotated[str | None, QueryParameter(name="to", max_length=10)]

# A standalone chart has no scripts and needs its own inline styles; it may not be framed or run code.
CHART_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value="default-src 'none'; style-src 'unsafe-inline'"),
    ResponseHeader(name="Cache-Control", value="private, max-age=60"),
]
KIND_WORDS = {
    "school": N_("Schools"),
    "college": N_("Colleges"),
    "university": N_("Universities"),
    "host_university": N_("Host universities"),
    "company": N_("Companies"),
    "alumni_group": N_("Alumni"),
    "other": N_("Other"),
}
UNKNOWN = N_("Not given")
CHARTS = ("kinds.svg", "training.svg")
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
VISITS = N_("Visits")
VISITORS = N_("Visitors")
TRAINED = N_("Trainees trained")
INDUCTED = N_("Inductions granted")
SECTIONS = (
    ("by_organization_kind", N_("By kind of organization")),
    ("by_region", N_("By region")),
    ("by_age_group", N_("By age group")),
    ("by_language", N_("By language")),
)
TOTALS = (
    ("visits", VISITS),
    ("visitors", VISITORS),
    ("organizations", N_("Organizations")),
    ("repeat_organizations", N_("Organizations that came more than once")),
    ("trainees_trained", TRAINED),
    ("inductions_granted", INDUCTED),
    ("no_shows", N_("No-shows")),
)
CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#5b6570",
    colors=("#0b5d6b", "#c2570c", "#4b7f2a"),
    font_family="DejaVu Sans, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
)


def _range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The days asked for; by default the 90 days before and after today."""
    try:
        first = date.fromisoformat(start) if start else today - timedelta(days=90)
        last = date.fromisoformat(end) if end else today + timedelta(days=90)
    except ValueError:
        return today - timedelta(days=90), today + timedelta(days=90)
    return first, last


def _word(section: str, key: str, gettext: Gettext) -> str:
    """A group's name in the page's language."""
    if not key:
        return gettext.plain(UNKNOWN)
    if section == "by_organization_kind":
        return gettext.plain(KIND_WORDS.get(key, KIND_WORDS["other"]))
    if section == "by_language":
        return gettext.language(key)
    return key


def _rows(report: reports.OutreachReport, gettext: Gettext, lang: str) -> list[list[Any]]:
    """The whole report as rows for a spreadsheet: totals, each grouping, the top organizations."""
    rows: list[list[Any]] = [
        [gettext.plain(N_("Outreach report")), report.from_date.isoformat(), report.to_date.isoformat()]
    ]
    for field, label in TOTALS:
        rows.append([gettext.plain(label), getattr(report.totals, field)])
    for section, title in SECTIONS:
        rows.append([])
        rows.append([gettext.plain(title), gettext.plain(VISITS), gettext.plain(VISITORS)])
        for group in getattr(report, section):
            rows.append([_word(section, group.key, gettext), group.visits, group.visitors])
    rows.append([])
    rows.append([gettext.plain(N_("Top organizations")), gettext.plain(VISITS), gettext.plain(VISITORS)])
    for top in report.top_organizations:
        rows.append([str(localized(top.name, lang)), top.visits, top.visitors])
    return rows


class ReportPages(Controller):
    path = "/{lang:str}/manage/reports"
    opt = {"access": LAB_STAFF}  # noqa: RUF012 - Litestar reads it as the layer option

    async def _report(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        start: str | None,
        end: str | None,
        lab: str | None,
    ) -> reports.OutreachReport:
        today = now_of(request).astimezone(zone(DEFAULT_TIMEZONE)).date()
        first, last = _range(start, end, today)
        return await reports.outreach(pool, me, from_date=first, to_date=last, lab=lab or None)

    @get("/outreach")
    async def outreach(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        lab: Text = None,
    ) -> Template:
        lang = page_lang(request)
        gettext = Gettext(lang)
        query = {"from": start or "", "to": end or "", "lab": lab or ""}
        try:
            report = await self._report(request, pool, me, start, end, lab)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, _ = explain(exc, lang)
            return render(
                request,
                "manager/reports.html",
                report=None,
                problem=problem,
                values=query,
                sections=[],
                labs=await catalog.labs_run_by(pool, me),
            )
        sections = [
            {
                "id": section,
                "title": gettext.plain(title),
                "rows": [
                    (_word(section, g.key, gettext), g.visits, g.visitors) for g in getattr(report, section)
                ],
            }
            for section, title in SECTIONS
        ]
        totals = [(gettext.plain(label), getattr(report.totals, field)) for field, label in TOTALS]
        return render(
            request,
            "manager/reports.html",
            report=report,
            totals=totals,
            sections=sections,
            labs=await catalog.labs_run_by(pool, me),
            values={"from": report.from_date.isoformat(), "to": report.to_date.isoformat(), "lab": lab or ""},
            problem=None,
        )

    @get("/outreach/charts/{chart:str}", response_headers=CHART_HEADERS)
    async def chart(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        chart: FromPath[str],
        start: From = None,
        end: To = None,
        lab: Text = None,
    ) -> Response[str]:
        """One chart of the report as an SVG image, labelled in the page's language."""
        lang = page_lang(request)
        gettext = Gettext(lang)
        report = await self._report(request, pool, me, start, end, lab)
        drawing = pygal.HorizontalBar(
            style=CHART_STYLE,
            disable_xml_declaration=True,
            js=[],
            width=720,
            height=360,
            legend_at_bottom=True,
            print_values=True,
            show_y_guides=False,
        )
        if chart not in CHARTS:
            raise NotFound("no such chart")
        if chart == "kinds.svg":
            groups = report.by_organization_kind
            drawing.title = gettext.plain(N_("Visits by kind of organization"))
            drawing.x_labels = [_word("by_organization_kind", g.key, gettext) for g in groups]
            drawing.add(gettext.plain(VISITS), [g.visits for g in groups])
            drawing.add(gettext.plain(VISITORS), [g.visitors for g in groups])
        else:
            drawing.title = gettext.plain(N_("Training and safety inductions"))
            drawing.x_labels = [gettext.plain(TRAINED), gettext.plain(INDUCTED)]
            drawing.add(
                gettext.plain(N_("People")),
                [report.totals.trainees_trained, report.totals.inductions_granted],
            )
        # pygal always writes its tooltip configuration as a <script>; an image never runs it, and the
        # chart's policy forbids scripts, so it is left out rather than shipped dead.
        svg = SCRIPT.sub("", drawing.render(is_unicode=True))
        return Response(svg, media_type="image/svg+xml")

    @get("/outreach.csv")
    async def outreach_csv(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        lab: Text = None,
    ) -> Response[bytes]:
        """The report as CSV, UTF-8 with a byte order mark so that Excel reads Kazakh letters right."""
        lang = page_lang(request)
        report = await self._report(request, pool, me, start, end, lab)
        return _csv(_rows(report, Gettext(lang), lang), _file_name("outreach", report, "csv"))

    @get("/outreach.xlsx")
    async def outreach_xlsx(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        lab: Text = None,
    ) -> Response[bytes]:
        lang = page_lang(request)
        report = await self._report(request, pool, me, start, end, lab)
        return _xlsx(
            _rows(report, Gettext(lang), lang),
            Gettext(lang).plain(N_("Outreach report")),
            _file_name("outreach", report, "xlsx"),
            first_column=48,
        )


By = Annotated[str | None, QueryParameter(max_length=5)]
PERIODS = (("week", N_("By week")), ("month", N_("By month")))
HOURS_OPEN = N_("Hours open")
HOURS_PUBLISHED = N_("Hours published")
HOURS_BOOKED = N_("Hours booked")


def _utilization_rows(report: reports.UtilizationReport, gettext: Gettext) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [gettext.plain(N_("Utilization report")), report.from_date.isoformat(), report.to_date.isoformat()],
        [],
        [
            gettext.plain(N_("Lab")),
            gettext.plain(N_("Period")),
            gettext.plain(HOURS_OPEN),
            gettext.plain(HOURS_PUBLISHED),
            gettext.plain(HOURS_BOOKED),
        ],
    ]
    rows += [
        [r.lab, r.period.isoformat(), r.hours_open, r.hours_published, r.hours_booked] for r in report.labs
    ]
    rows += [
        [],
        [
            gettext.plain(N_("Equipment")),
            gettext.plain(N_("Period")),
            gettext.plain(N_("Stations")),
            gettext.plain(N_("Station hours held")),
            gettext.plain(N_("Hours per station")),
        ],
    ]
    rows += [
        [f"{r.lab} / {r.equipment}", r.period.isoformat(), r.units, r.unit_hours, r.hours_per_station]
        for r in report.equipment
    ]
    return rows


class UtilizationPages(Controller):
    path = "/{lang:str}/manage/reports/utilization"
    opt = {"access": LAB_STAFF}  # noqa: RUF012 - Litestar reads it as the layer option

    @staticmethod
    async def _report(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        start: str | None,
        end: str | None,
        by: str | None,
        lab: str | None,
    ) -> reports.UtilizationReport:
        today = now_of(request).astimezone(zone(DEFAULT_TIMEZONE)).date()
        first, last = _range(start, end, today)
        return await reports.utilization(
            pool,
            me,
            from_date=first,
            to_date=last,
            by=by if by in ("week", "month") else "week",
            lab=lab or None,
        )

    @get("/")
    async def utilization(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        by: By = None,
        lab: Text = None,
    ) -> Template:
        lang = page_lang(request)
        values = {"from": start or "", "to": end or "", "lab": lab or "", "by": by or "week"}
        labs = await catalog.labs_run_by(pool, me)
        periods = [(code, Gettext(lang).plain(word)) for code, word in PERIODS]
        try:
            report = await self._report(request, pool, me, start, end, by, lab)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, _ = explain(exc, lang)
            return render(
                request,
                "manager/utilization.html",
                report=None,
                problem=problem,
                values=values,
                labs=labs,
                periods=periods,
            )
        values.update(
            {"from": report.from_date.isoformat(), "to": report.to_date.isoformat(), "by": report.by}
        )
        return render(
            request,
            "manager/utilization.html",
            report=report,
            problem=None,
            values=values,
            labs=labs,
            periods=periods,
            lab_names={row.slug: row.name for row in labs},
        )

    @get("/chart.svg", response_headers=CHART_HEADERS)
    async def chart(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        by: By = None,
        lab: Text = None,
    ) -> Response[str]:
        """Hours open, published and booked per period, over the labs asked about."""
        lang = page_lang(request)
        gettext = Gettext(lang)
        report = await self._report(request, pool, me, start, end, by, lab)
        periods = sorted({r.period for r in report.labs})
        drawing = pygal.Bar(
            style=CHART_STYLE,
            disable_xml_declaration=True,
            js=[],
            width=720,
            height=360,
            legend_at_bottom=True,
            x_label_rotation=30,
        )
        drawing.title = gettext.plain(N_("Lab hours by period"))
        drawing.x_labels = [Formats(lang).date(p, "d MMM y") for p in periods]
        for label, field in (
            (HOURS_OPEN, "hours_open"),
            (HOURS_PUBLISHED, "hours_published"),
            (HOURS_BOOKED, "hours_booked"),
        ):
            drawing.add(
                gettext.plain(label),
                [round(sum(getattr(r, field) for r in report.labs if r.period == p), 1) for p in periods],
            )
        return Response(SCRIPT.sub("", drawing.render(is_unicode=True)), media_type="image/svg+xml")

    @get("/export.csv")
    async def utilization_csv(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        by: By = None,
        lab: Text = None,
    ) -> Response[bytes]:
        lang = page_lang(request)
        report = await self._report(request, pool, me, start, end, by, lab)
        return _csv(_utilization_rows(report, Gettext(lang)), _file_name("utilization", report, "csv"))

    @get("/export.xlsx")
    async def utilization_xlsx(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        start: From = None,
        end: To = None,
        by: By = None,
        lab: Text = None,
    ) -> Response[bytes]:
        lang = page_lang(request)
        report = await self._report(request, pool, me, start, end, by, lab)
        return _xlsx(
            _utilization_rows(report, Gettext(lang)),
            Gettext(lang).plain(N_("Utilization report")),
            _file_name("utilization", report, "xlsx"),
            first_column=40,
        )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file_name(report_name: str, report: Any, extension: str) -> str:
    return f"{report_name}-{report.from_date.isoformat()}-{report.to_date.isoformat()}.{extension}"


def _download(body: bytes, media_type: str, name: str) -> Response[bytes]:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _csv(rows: Iterable[Sequence[Any]], name: str) -> Response[bytes]:
    """A report's rows as CSV, UTF-8 with a byte order mark so that Excel reads Kazakh letters right."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return _download(("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", name)


def _xlsx(rows: Iterable[Sequence[Any]], title: str, name: str, *, first_column: int) -> Response[bytes]:
    """A report's rows as one Excel sheet named ``title`` (Excel allows 31 characters)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    for row in rows:
        sheet.append(list(row))
    sheet.column_dimensions["A"].width = first_column
    out = io.BytesIO()
    book.save(out)
    return _download(out.getvalue(), XLSX, name)


route_handlers: list[Any] = [ReportPages, UtilizationPages]
