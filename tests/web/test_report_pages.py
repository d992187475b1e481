"""The outreach report page: figures, charts labelled in the page's language, CSV and XLSX exports
with the same figures as the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from labbook.settings import Settings
from tests.attendance.world import Lab, tig_lab
from tests.factories import Factory
from tests.web.conftest import browser_for, sign_in

LANGS = ("kk", "ru", "en")
COLLEGES = {"kk": "Колледждер", "ru": "Колледжи", "en": "Colleges"}
TRAINED = {"kk": "Оқытылған білім алушылар", "ru": "Обучено человек", "en": "Trainees trained"}


@pytest.fixture
async def tig(make: Factory, client: AsyncTestClient[Litestar], pool: asyncpg.Pool) -> Lab:
    """Two visits by the college, one of them a training with two trainees who came."""
    lab = await tig_lab(make, client)
    first = await lab.booking(await lab.session(timedelta(days=-3), induction=True), headcount=2)
    await lab.roster(first["id"], ["Asel", "Berik"], who=lab.manager)
    await lab.mark(first["id"], {"outcome": "arrived", "headcount": 2})
    await lab.booking(await lab.session(timedelta(days=4)), headcount=6)
    return lab


async def _api(tig: Lab, start: str, end: str) -> dict[str, Any]:
    reply = await tig.client.get(
        "/api/v1/reports/outreach", params={"from": start, "to": end}, headers=tig.manager.headers
    )
    assert reply.status_code == 200
    result: dict[str, Any] = reply.json()
    return result


@pytest.mark.parametrize("lang", LANGS)
async def test_the_report_shows_visits_by_kind_and_trainees_as_charts_tables_and_exports(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/reports/outreach")
        assert page.status_code == 200
        start = page.text.split('name="from" type="date" value="')[1][:10]
        end = page.text.split('name="to" type="date" value="')[1][:10]
        api = await _api(tig, start, end)
        assert api["visits"] == 2
        assert api["trainees_trained"] == 2
        assert COLLEGES[lang] in page.text
        assert TRAINED[lang] in page.text
        params = {"from": start, "to": end}

        chart = await web.get(f"/{lang}/manage/reports/outreach/charts/kinds.svg", params=params)
        assert chart.status_code == 200
        assert chart.headers["content-type"].startswith("image/svg+xml")
        assert "<script" not in chart.text
        assert COLLEGES[lang] in chart.text
        training = await web.get(f"/{lang}/manage/reports/outreach/charts/training.svg", params=params)
        assert TRAINED[lang] in training.text

        exported = await web.get(f"/{lang}/manage/reports/outreach.csv", params=params)
        assert exported.status_code == 200
        assert exported.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        figures = {row[0]: row[1:] for row in rows if row}
        assert figures[TRAINED[lang]] == [str(api["trainees_trained"])]
        college = next(g for g in api["by_organization_kind"] if g["key"] == "college")
        assert figures[COLLEGES[lang]] == [str(college["visits"]), str(college["visitors"])]

        workbook = await web.get(f"/{lang}/manage/reports/outreach.xlsx", params=params)
        assert workbook.status_code == 200
        sheet = load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None
        cells = {row[0]: row[1:] for row in sheet.iter_rows(values_only=True) if row[0]}
        assert cells[TRAINED[lang]][0] == api["trainees_trained"]
        assert list(cells[COLLEGES[lang]][:2]) == [college["visits"], college["visitors"]]


async def test_a_director_gets_no_report(tig: Lab, pool: asyncpg.Pool, settings: Settings) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.director, lang="en")
        assert (await web.get("/en/manage/reports/outreach")).status_code == 403
        assert (await web.get("/en/manage/reports/outreach.csv")).status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_the_utilization_page_shows_hours_with_a_chart_and_exports(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    hours = {"kk": "Брондалған сағаттар", "ru": "Забронировано часов", "en": "Hours booked"}
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/reports/utilization/", params={"by": "month"})
        assert page.status_code == 200
        assert hours[lang] in page.text
        assert "argon-tig" in page.text
        chart = await web.get(f"/{lang}/manage/reports/utilization/chart.svg", params={"by": "month"})
        assert chart.status_code == 200
        assert hours[lang] in chart.text
        assert "<script" not in chart.text
        exported = await web.get(f"/{lang}/manage/reports/utilization/export.csv", params={"by": "month"})
        assert exported.content.startswith(b"\xef\xbb\xbf")
        assert hours[lang] in exported.content.decode("utf-8-sig")
        workbook = await web.get(f"/{lang}/manage/reports/utilization/export.xlsx", params={"by": "month"})
        sheet = load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None
        assert any(row[0] and "argon-tig" in str(row[0]) for row in sheet.iter_rows(values_only=True))
