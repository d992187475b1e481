"""The outreach report: every figure against a plain SQL count of its own over the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.attendance.world import Lab, tig_lab
from tests.factories import Factory

TODAY = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)


@pytest.fixture
async def world(make: Factory, client: AsyncTestClient[Litestar], pool: asyncpg.Pool) -> dict[str, Any]:
    """Visits of several kinds of organization in the manager's lab, some outside the range or lab."""
    tig = await tig_lab(make, client)
    other_lab = await make.lab()
    school = await make.organization(kind="school")
    company = await make.organization(kind="company")
    await pool.execute("update organizations set city = 'Almaty' where id = $1", school["id"])
    await pool.execute("update organizations set city = 'Karaganda' where id = $1", company["id"])
    college = tig.director.organization_id
    plan = [
        # (days from today, organization, headcount, outcome, age group, language)
        (-20, school["id"], 12, "arrived", "14-15", "kk"),
        (-18, school["id"], 10, None, "14-15", "ru"),
        (-15, college, 8, "no_show", None, "ru"),
        (-12, company["id"], 5, "arrived", None, "en"),
        (-10, college, 6, "arrived", "17-19", "kk"),
        (5, college, 9, None, "17-19", "kk"),
        (-60, school["id"], 15, "arrived", None, "kk"),  # before the range
    ]
    for n, (days, org, headcount, outcome, age, language) in enumerate(plan):
        slot = await tig.session(timedelta(days=days, hours=n), induction=True)
        booking = await make.booking(slot, org, headcount=headcount, language=language)
        await pool.execute("update bookings set age_group = $2 where id = $1", booking["id"], age)
        if outcome is not None:
            await pool.execute(
                "insert into attendance (booking_id, outcome, headcount) values ($1, $2, $3)",
                booking["id"],
                outcome,
                headcount - 1 if outcome == "arrived" else None,
            )
    # a cancelled booking, and a visit to a lab the manager does not run
    cancelled = await tig.session(timedelta(days=-5))
    await make.booking(cancelled, school["id"], status="cancelled")
    await make.booking(await make.slot(other_lab, TODAY - timedelta(days=7)), school["id"], headcount=15)
    # trainees on the last marked training, and an induction granted in the range
    marked = await pool.fetchval(
        "select b.id from bookings b join attendance a on a.booking_id = b.id"
        " join slots s on s.id = b.slot_id"
        " where s.lab_id = $1 and b.organization_id = $2 and a.outcome = 'arrived'",
        tig.lab["id"],
        college,
    )
    for name, attended in (("Asel", True), ("Berik", True), ("Chingiz", False)):
        trainee = await pool.fetchval(
            "insert into trainees (organization_id, full_name) values ($1, $2) returning id", college, name
        )
        await pool.execute(
            "insert into roster_entries (booking_id, trainee_id, attended) values ($1, $2, $3)",
            marked,
            trainee,
            attended,
        )
        if attended:
            await pool.execute(
                """insert into inductions (trainee_id, equipment_id, granted_at, expires_at, booking_id)
                   values ($1, $2, now() - interval '10 days', now() + interval '1 year', $3)""",
                trainee,
                tig.tig["id"],
                marked,
            )
    return {
        "tig": tig,
        "from": (TODAY - timedelta(days=30)).date(),
        "to": (TODAY + timedelta(days=30)).date(),
    }


async def _report(tig: Lab, start: date, end: date, **params: str) -> dict[str, Any]:
    reply = await tig.client.get(
        "/api/v1/reports/outreach",
        params={"from": start.isoformat(), "to": end.isoformat(), **params},
        headers=tig.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


# The same visits written plainly: the manager's lab, sessions starting within the days asked for
# (Asia/Almaty), confirmed, not a no-show; visitors as marked, else as booked.
PLAIN = """
select b.id, o.kind, o.city, b.age_group, b.language, o.slug, s.kind as slot_kind,
       case when a.outcome = 'arrived' then a.headcount else b.headcount end as visitors
from bookings b
join slots s on s.id = b.slot_id
join organizations o on o.id = b.organization_id
left join attendance a on a.booking_id = b.id
where s.lab_id = $1 and b.status = 'confirmed'
  and (s.starts_at at time zone 'Asia/Almaty')::date between $2 and $3
  and (a.outcome is null or a.outcome <> 'no_show')
"""


async def test_every_figure_equals_a_plain_count(world: dict[str, Any], pool: asyncpg.Pool) -> None:
    tig: Lab = world["tig"]
    report = await _report(tig, world["from"], world["to"])
    rows = await pool.fetch(PLAIN, tig.lab["id"], world["from"], world["to"])
    assert report["visits"] == len(rows) == 5
    assert report["visitors"] == sum(r["visitors"] for r in rows) == 11 + 10 + 4 + 5 + 9
    assert report["organizations"] == len({r["slug"] for r in rows})
    repeat = await pool.fetchval(
        "select count(*) from (select slug from (" + PLAIN + ") v group by slug having count(*) >= 2) r",
        tig.lab["id"],
        world["from"],
        world["to"],
    )
    assert report["repeat_organizations"] == repeat == 2

    for section, column in (
        ("by_organization_kind", "kind"),
        ("by_region", "city"),
        ("by_age_group", "age_group"),
        ("by_language", "language"),
    ):
        expected = {}
        for r in rows:
            key = r[column] or ""
            visits, visitors = expected.get(key, (0, 0))
            expected[key] = (visits + 1, visitors + r["visitors"])
        assert {g["key"]: (g["visits"], g["visitors"]) for g in report[section]} == expected, section
        assert sum(g["visits"] for g in report[section]) == report["visits"]

    no_shows = await pool.fetchval(
        """select count(*) from attendance a join bookings b on b.id = a.booking_id
           join slots s on s.id = b.slot_id where a.outcome = 'no_show' and s.lab_id = $1
             and (s.starts_at at time zone 'Asia/Almaty')::date between $2 and $3""",
        tig.lab["id"],
        world["from"],
        world["to"],
    )
    assert report["no_shows"] == no_shows == 1
    trained = await pool.fetchval(
        "select count(*) from roster_entries where attended and booking_id = any($1::uuid[])",
        [r["id"] for r in rows if r["slot_kind"] == "training"],
    )
    assert report["trainees_trained"] == trained == 2
    inducted = await pool.fetchval(
        "select count(*) from inductions where equipment_id = $1 and revoked_at is null", tig.tig["id"]
    )
    assert report["inductions_granted"] == inducted == 2
    top = report["top_organizations"]
    assert [t["visitors"] for t in top] == sorted((t["visitors"] for t in top), reverse=True)
    assert sum(t["visits"] for t in top) == report["visits"]


async def test_a_report_covers_only_the_callers_labs(world: dict[str, Any], make: Factory) -> None:
    tig: Lab = world["tig"]
    stranger = await make.person("lab_manager", lab_ids=((await make.lab())["id"],))
    reply = await tig.client.get(
        "/api/v1/reports/outreach",
        params={"from": world["from"].isoformat(), "to": world["to"].isoformat(), "lab": tig.lab["slug"]},
        headers=stranger.headers,
    )
    assert reply.status_code == 404
    director = await tig.client.get(
        "/api/v1/reports/outreach",
        params={"from": world["from"].isoformat(), "to": world["to"].isoformat()},
        headers=tig.director.headers,
    )
    assert director.status_code == 403
    backwards = await tig.client.get(
        "/api/v1/reports/outreach",
        params={"from": world["to"].isoformat(), "to": world["from"].isoformat()},
        headers=tig.manager.headers,
    )
    assert backwards.status_code == 422
