"""The managers' inductions page: who holds one, granting and revoking by hand, merging a duplicate."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.attendance.world import Lab, tig_lab
from tests.factories import Factory
from tests.web.conftest import browser_for, sign_in, submit

LANGS = ("kk", "ru", "en")
PAGE = "/{lang}/manage/inductions/"
GRANTED = {"kk": "Нұсқама берілді.", "ru": "Инструктаж выдан.", "en": "The induction is granted."}
REVOKED = {"kk": "Нұсқаманың күші жойылды.", "ru": "Инструктаж отозван.", "en": "The induction is revoked."}
MERGED = {
    "kk": "Екі жазба енді бір білім алушы.",
    "ru": "Две записи теперь один обучающийся.",
    "en": "The two records are now one trainee.",
}


@pytest.fixture
async def tig(make: Factory, client: AsyncTestClient[Litestar]) -> Lab:
    return await tig_lab(make, client)


async def _listed(tig: Lab, names: list[str]) -> dict[str, str]:
    """A booking of a TIG induction session next week listing these trainees; their ids by name."""
    booking = await tig.booking(await tig.session(timedelta(days=7), induction=True), headcount=len(names))
    saved = await tig.roster(booking["id"], names)
    assert saved.status_code == 200, saved.text
    return {t["full_name"]: t["id"] for t in saved.json()["trainees"]}


@pytest.mark.parametrize("lang", LANGS)
async def test_a_manager_grants_and_revokes_an_induction_by_hand_with_a_reason(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    ids = await _listed(tig, ["Aruzhan Bek"])
    page = PAGE.format(lang=lang)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang=lang)
        shown = await web.get(page)
        assert f'<option value="{ids["Aruzhan Bek"]}">' in shown.text
        assert f'value="{tig.lab["slug"]}/argon-tig"' in shown.text
        granted = await submit(
            web,
            page,
            page,
            {
                "trainee_id": ids["Aruzhan Bek"],
                "equipment": f"{tig.lab['slug']}/argon-tig",
                "reason": "plant course",
            },
        )
        assert granted.status_code == 303, granted.text
        after = await web.get(granted.headers["location"])
        assert GRANTED[lang] in after.text
        assert "Aruzhan Bek" in after.text
        assert "plant course" in after.text
        induction = await pool.fetchrow(
            "select id, expires_at - granted_at as lasts from inductions where trainee_id = $1",
            ids["Aruzhan Bek"],
        )
        assert induction["lasts"] >= timedelta(days=365)
        revoked = await submit(
            web, page, f"/{lang}/manage/inductions/{induction['id']}/revoke", {"reason": "left the college"}
        )
        assert revoked.status_code == 303, revoked.text
        assert REVOKED[lang] in (await web.get(revoked.headers["location"])).text
    row = await pool.fetchrow(
        "select reason, revoke_reason, revoked_by from inductions where id = $1", induction["id"]
    )
    assert (row["reason"], row["revoke_reason"], row["revoked_by"]) == (
        "plant course",
        "left the college",
        tig.manager.id,
    )
    actions = await pool.fetch(
        "select action from audit_events where object_type = 'induction' and object_id = $1 order by id",
        str(induction["id"]),
    )
    assert [a["action"] for a in actions] == ["induction.grant", "induction.revoke"]


async def test_a_grant_or_revocation_without_a_reason_is_refused_next_to_the_field(
    tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    ids = await _listed(tig, ["Aruzhan Bek"])
    held = await tig.client.post(
        "/api/v1/inductions",
        json={
            "trainee_id": ids["Aruzhan Bek"],
            "lab": tig.lab["slug"],
            "equipment": "argon-tig",
            "reason": "x",
        },
        headers=tig.manager.headers,
    )
    page = PAGE.format(lang="ru")
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang="ru")
        no_reason = await submit(
            web, page, page, {"trainee_id": ids["Aruzhan Bek"], "equipment": f"{tig.lab['slug']}/argon-tig"}
        )
        no_revoke_reason = await submit(
            web, page, f"/ru/manage/inductions/{held.json()['id']}/revoke", {"reason": ""}
        )
    assert no_reason.status_code == 200
    assert 'id="f-reason-error"' in no_reason.text
    assert f'<option value="{ids["Aruzhan Bek"]}" selected>' in no_reason.text
    assert no_revoke_reason.status_code == 200
    assert f'id="r-{held.json()["id"]}-error"' in no_revoke_reason.text
    assert (
        await pool.fetchval("select count(*) from inductions where trainee_id = $1", ids["Aruzhan Bek"]) == 1
    )
    assert await pool.fetchval("select revoked_at from inductions where id = $1", held.json()["id"]) is None


@pytest.mark.parametrize("lang", LANGS)
async def test_a_manager_merges_a_misspelt_trainee_from_the_page(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    ids = await _listed(tig, ["Dauren Omarov", "Dauren Omarv"])
    page = PAGE.format(lang=lang)
    action = f"/{lang}/manage/inductions/merge"
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang=lang)
        itself = await submit(
            web, page, action, {"trainee_id": ids["Dauren Omarv"], "into": ids["Dauren Omarv"]}
        )
        assert itself.status_code == 200
        assert 'id="m-into-error"' in itself.text
        merged = await submit(
            web, page, action, {"trainee_id": ids["Dauren Omarv"], "into": ids["Dauren Omarov"]}
        )
        assert merged.status_code == 303, merged.text
        after = await web.get(merged.headers["location"])
    assert MERGED[lang] in unescape(after.text)
    assert "Dauren Omarv<" not in after.text
    left = await pool.fetch("select id from trainees where id = any($1::uuid[])", list(ids.values()))
    assert [str(r["id"]) for r in left] == [ids["Dauren Omarov"]]


async def test_another_labs_manager_sees_none_of_these_trainees(
    tig: Lab, pool: asyncpg.Pool, settings: Settings, make: Factory
) -> None:
    await _listed(tig, ["Aruzhan Bek"])
    other_lab = await make.lab()
    other = await make.person(
        "lab_manager", organization_id=other_lab["organization_id"], lab_ids=(other_lab["id"],)
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, other, lang="en")
        shown = await web.get("/en/manage/inductions/")
    assert shown.status_code == 200
    assert "Aruzhan Bek" not in shown.text
    assert "Nobody holds an induction on your equipment yet." in shown.text
