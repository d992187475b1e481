"""The admin console in kk, ru and en: organizations, people, labs and the audit log, through forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person, unique
from tests.web.conftest import PASSWORD, browser_for, csrf_in, sign_in, submit

LANGS = ("kk", "ru", "en")
Client = AsyncTestClient[Litestar]
# Each page's heading in the page's language.
HEADINGS = {
    "": {"kk": "Әкімші бөлімі", "ru": "Администрирование", "en": "Admin console"},
    "organizations/": {"kk": "Ұйымдар", "ru": "Организации", "en": "Organizations"},
    "organizations/new": {"kk": "Ұйым қосу", "ru": "Добавить организацию", "en": "Add an organization"},
    "people/": {"kk": "Адамдар мен рөлдер", "ru": "Люди и роли", "en": "People and roles"},
    "people/new": {"kk": "Адамды шақыру", "ru": "Пригласить человека", "en": "Invite a person"},
    "labs/": {"kk": "Зертханалар", "ru": "Лаборатории", "en": "Labs"},
    "labs/new": {"kk": "Зертхана қосу", "ru": "Добавить лабораторию", "en": "Add a lab"},
    "audit": {"kk": "Өзгерістер журналы", "ru": "Журнал изменений", "en": "Audit log"},
}
NAME_MESSAGE = {
    "kk": "Атауын кемінде бір тілде жазыңыз.",
    "ru": "Укажите название хотя бы на одном языке.",
    "en": "Give the name in at least one language.",
}
SLUG_MESSAGE = {
    "kk": "Кіші латын әріптерін, цифрларды және жалғыз сызықшаны пайдаланыңыз",
    "ru": "Используйте строчные латинские буквы, цифры и одиночные дефисы",
    "en": "Use lowercase Latin letters, digits and single hyphens",
}
EMAIL_TAKEN = {
    "kk": "Бұл электрондық пошта басқа адамда бар.",
    "ru": "Этот адрес почты уже есть у другого человека.",
    "en": "Somebody already has this email address.",
}
HOST_ROLES_ONLY = {
    "kk": "Әкімші мен зертхана меңгерушісі – тек қабылдаушы университет қызметкерлерінің рөлдері.",
    "ru": "Администратор и заведующий лабораторией — роли только для сотрудников принимающего университета.",
    "en": "Admin and lab manager are roles for staff of a host university only.",
}


@dataclass
class Console:
    admin: Person
    host: asyncpg.Record
    lab: asyncpg.Record
    college: asyncpg.Record
    director: Person


@pytest.fixture
async def console(make: Factory) -> Console:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    college = await make.organization(kind="college", name={"en": "Mining College", "kk": "Тау-кен колледжі"})
    return Console(
        admin=await make.person("admin", organization_id=host["id"]),
        host=host,
        lab=lab,
        college=college,
        director=await make.person("director", organization_id=college["id"]),
    )


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    return unescape(found.group(1)) if found else None


@pytest.mark.parametrize("lang", LANGS)
async def test_every_admin_page_answers_in_its_language(
    web: Client, pool: asyncpg.Pool, console: Console, lang: str
) -> None:
    await sign_in(web, pool, console.admin, lang=lang)
    pages = {
        **HEADINGS,
        f"organizations/{console.college['slug']}": None,
        f"people/{console.director.id}": None,
        f"labs/{console.lab['slug']}": None,
        f"audit?object=organization:{console.college['slug']}&from=2020-01-01": None,
    }
    for path, headings in pages.items():
        page = await web.get(f"/{lang}/admin/{path}")
        assert page.status_code == 200, (path, page.text[:300])
        assert f'<html lang="{lang}">' in page.text
        if headings:
            assert f"<h1>{headings[lang]}" in page.text, path
    home = await web.get(f"/{lang}/")
    assert f'href="/{lang}/admin/"' in home.text, "the layout leads admins to the console"


async def test_nobody_but_an_admin_opens_the_console(web: Client, pool: asyncpg.Pool, make: Factory) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    people = [
        await make.person("director"),
        await make.person("instructor", organization_id=host["id"]),
        await make.person("lab_manager", organization_id=host["id"], lab_ids=(lab["id"],)),
    ]
    for person in people:
        web.cookies.clear()
        await sign_in(web, pool, person)
        home = await web.get("/en/")
        assert 'href="/en/admin/"' not in home.text
        for path in [*HEADINGS, f"labs/{lab['slug']}", f"people/{person.id}"]:
            page = await web.get(f"/en/admin/{path}")
            assert page.status_code == 403, (person.roles, path)


@pytest.mark.parametrize("lang", LANGS)
async def test_organization_form_keeps_what_was_typed_and_says_what_is_wrong(
    web: Client, pool: asyncpg.Pool, console: Console, lang: str
) -> None:
    await sign_in(web, pool, console.admin, lang=lang)

    page = await submit(
        web,
        f"/{lang}/admin/organizations/new",
        f"/{lang}/admin/organizations/",
        {"slug": "Bad Slug!", "kind": "school", "city": "Қарағанды", "name.kk": ""},
    )

    assert page.status_code == 200
    assert _value(page.text, "slug") == "Bad Slug!"
    assert _value(page.text, "city") == "Қарағанды"
    text = _text(page.text)
    assert NAME_MESSAGE[lang] in text
    assert SLUG_MESSAGE[lang] in text
    assert await pool.fetchval("select count(*) from organizations where city = 'Қарағанды'") == 0


async def test_admin_adds_edits_archives_and_brings_back_an_organization(
    web: Client, pool: asyncpg.Pool, console: Console
) -> None:
    await sign_in(web, pool, console.admin, lang="kk")
    slug = unique("gymnasium")

    created = await submit(
        web,
        "/kk/admin/organizations/new",
        "/kk/admin/organizations/",
        {
            "slug": slug,
            "kind": "school",
            "name.kk": "№3 гимназия",
            "name.ru": "Гимназия №3",
            "city": "Алматы",
        },
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"/kk/admin/organizations/{slug}?done=created"
    edited = await submit(
        web,
        f"/kk/admin/organizations/{slug}",
        f"/kk/admin/organizations/{slug}",
        {
            "kind": "school",
            "name.kk": "№3 дарынды балалар гимназиясы",
            "city": "",
            "website": "https://g3.kz",
        },
    )
    assert edited.status_code == 303, edited.text
    row = await pool.fetchrow(
        "select name, city, website, is_archived from organizations where slug = $1", slug
    )
    assert row["name"] == {"kk": "№3 дарынды балалар гимназиясы"}
    assert (row["city"], row["website"]) == (None, "https://g3.kz")

    archive = f"/kk/admin/organizations/{slug}"
    archived = await submit(web, archive, f"{archive}/archive", {})
    listed = await web.get("/kk/admin/organizations/", params={"q": "дарынды"})
    with_archived = await web.get(
        "/kk/admin/organizations/", params={"q": "дарынды", "include_archived": "true"}
    )
    back = await submit(web, archive, f"{archive}/unarchive", {})

    assert archived.status_code == back.status_code == 303
    assert slug not in listed.text
    assert slug in with_archived.text
    assert await pool.fetchval("select is_archived from organizations where slug = $1", slug) is False
    schools = await web.get("/kk/admin/organizations/", params={"kind": "school", "q": "дарынды"})
    assert slug in schools.text


@pytest.mark.parametrize("lang", LANGS)
async def test_invitation_form_refuses_in_the_page_language_and_keeps_the_values(
    web: Client, pool: asyncpg.Pool, console: Console, lang: str
) -> None:
    await sign_in(web, pool, console.admin, lang=lang)
    form = {
        "organization": console.college["slug"],
        "email": console.director.email,
        "full_name": "Айгерім Сәтбаева",
        "roles": "director",
        "days": "7",
    }
    taken = await submit(web, f"/{lang}/admin/people/new", f"/{lang}/admin/people/", form)
    host_role = await submit(
        web,
        f"/{lang}/admin/people/new",
        f"/{lang}/admin/people/",
        {**form, "email": f"{unique('x')}@school.kz", "roles": "lab_manager"},
    )

    assert taken.status_code == host_role.status_code == 200
    assert EMAIL_TAKEN[lang] in _text(taken.text)
    assert _value(taken.text, "full_name") == "Айгерім Сәтбаева"
    assert HOST_ROLES_ONLY[lang] in _text(host_role.text)
    assert 'value="lab_manager" checked' in host_role.text
    assert await pool.fetchval("select count(*) from people where full_name = 'Айгерім Сәтбаева'") == 0
    mails = await pool.fetchval(
        """select count(*) from pgqueuer where entrypoint = 'link_issued'
           and convert_from(payload, 'UTF8') like '%Айгерім Сәтбаева%'"""
    )
    assert mails == 0, "a refused invitation e-mails nobody"


async def test_an_invited_director_sets_a_password_and_signs_in(
    web: Client, pool: asyncpg.Pool, console: Console, settings: Settings
) -> None:
    await sign_in(web, pool, console.admin, lang="ru")
    email = f"{unique('director')}@college.kz"

    shown = await submit(
        web,
        "/ru/admin/people/new",
        "/ru/admin/people/",
        {
            "organization": console.college["slug"],
            "email": email,
            "full_name": "Дана Сейткали",
            "roles": "director",
            "days": "3",
        },
    )

    assert shown.status_code == 200, shown.text
    link = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', shown.text)
    assert link, shown.text
    path = "/" + unescape(link.group(1)).split("://", 1)[1].split("/", 1)[1]
    row = await pool.fetchrow("select id, roles, is_active from people where email = $1", email)
    assert row["roles"] == ["director"]
    expires = await pool.fetchval("select expires_at from one_time_links where person_id = $1", row["id"])
    assert timedelta(days=2, hours=23) < expires - datetime.now(UTC) <= timedelta(days=3)
    mail = await pool.fetchval(
        """select convert_from(payload, 'UTF8') from pgqueuer where entrypoint = 'link_issued'
           and convert_from(payload, 'UTF8') like $1""",
        f"%{email}%",
    )
    assert mail is not None
    assert unescape(link.group(1)) in mail, "the same link goes out by e-mail"
    async with browser_for(settings) as invitee:
        page = await invitee.get(path)
        assert page.status_code == 200
        done = await invitee.post(path, data={"password": PASSWORD, "_csrf": csrf_in(page.text)})
        assert done.status_code == 303
        assert (await invitee.get("/ru/bookings")).status_code == 200


async def test_admin_changes_roles_and_labs_and_switches_a_person_off_and_on(
    web: Client, pool: asyncpg.Pool, console: Console, make: Factory, settings: Settings
) -> None:
    staff = await make.person("instructor", organization_id=console.host["id"])
    await sign_in(web, pool, console.admin, lang="en")
    page = f"/en/admin/people/{staff.id}"

    saved = await submit(
        web,
        page,
        page,
        {
            "full_name": "Arman Bekov",
            "roles": ["instructor", "lab_manager"],
            "managed_labs": console.lab["slug"],
        },
    )
    assert saved.status_code == 303, saved.text
    shown = await web.get(page)
    assert 'value="lab_manager" checked' in shown.text
    assert f'value="{console.lab["slug"]}" checked' in shown.text
    assert "Arman Bekov" in shown.text

    async with browser_for(settings) as theirs:
        await sign_in(theirs, pool, staff)
        off = await submit(web, page, f"{page}/deactivate", {})
        on = await submit(web, page, f"{page}/reactivate", {})
        assert off.status_code == on.status_code == 303
        assert (await theirs.get("/en/account")).status_code == 303, "the old session stays ended"
    assert "Switched on again" in (await web.get(on.headers["location"])).text
    assert await pool.fetchval("select is_active from people where id = $1", staff.id) is True

    # an admin cannot switch themselves off: the page says so and nothing changes
    mine = f"/en/admin/people/{console.admin.id}"
    refused = await submit(web, mine, f"{mine}/deactivate", {})
    assert refused.status_code == 200
    assert await pool.fetchval("select is_active from people where id = $1", console.admin.id) is True


async def test_admin_adds_a_lab_gives_it_a_manager_and_archives_it(
    web: Client, pool: asyncpg.Pool, console: Console, make: Factory
) -> None:
    staff = await make.person("instructor", organization_id=console.host["id"])
    await sign_in(web, pool, console.admin, lang="kk")
    slug = unique("foundry")
    form = {
        "host": console.host["slug"],
        "slug": slug,
        "name.kk": "Құю зертханасы",
        "name.en": "Foundry lab",
        "capacity": "25",
        "timezone": "Asia/Almaty",
        "languages": ["kk", "ru"],
        "min_notice_hours": "48",
        "max_advance_days": "180",
        "building": "Б корпусы",
    }
    refused = await submit(
        web, "/kk/admin/labs/new", "/kk/admin/labs/", {**form, "capacity": "0", "timezone": "Mars/Olympus"}
    )
    assert refused.status_code == 200
    assert "Зертхана бір уақытта қанша адамды сыйғызатынын жазыңыз" in _text(refused.text)
    assert _value(refused.text, "building") == "Б корпусы"

    created = await submit(web, "/kk/admin/labs/new", "/kk/admin/labs/", form)
    assert created.status_code == 303, created.text
    lab_page = f"/kk/admin/labs/{slug}"
    edited = await submit(
        web, lab_page, lab_page, {**form, "name.ru": "Литейная лаборатория", "capacity": "30", "building": ""}
    )
    assert edited.status_code == 303, edited.text
    row = await pool.fetchrow("select name, capacity, building, languages from labs where slug = $1", slug)
    assert row["name"] == {"kk": "Құю зертханасы", "en": "Foundry lab", "ru": "Литейная лаборатория"}
    assert (row["capacity"], row["building"], row["languages"]) == (30, None, ["kk", "ru"])

    added = await submit(web, lab_page, f"{lab_page}/managers", {"person_id": str(staff.id)})
    assert added.status_code == 303, added.text
    person = await pool.fetchrow("select roles from people where id = $1", staff.id)
    assert person["roles"] == ["instructor", "lab_manager"]
    assert str(staff.id) in (await web.get(lab_page)).text.split('id="managers"')[1]
    removed = await submit(web, lab_page, f"{lab_page}/managers", {"remove": str(staff.id)})
    assert removed.status_code == 303
    assert (
        await pool.fetchval(
            "select count(*) from lab_managers m join labs l on l.id = m.lab_id where l.slug = $1", slug
        )
        == 0
    )

    archived = await submit(web, lab_page, f"{lab_page}/archive", {})
    assert archived.status_code == 303
    assert await pool.fetchval("select is_archived from labs where slug = $1", slug) is True


async def test_audit_log_filters_by_object_person_and_day(
    web: Client, pool: asyncpg.Pool, console: Console, client: Client
) -> None:
    await client.patch(
        f"/api/v1/organizations/{console.college['slug']}",
        json={"city": "Караганда"},
        headers=console.admin.headers,
    )
    await sign_in(web, pool, console.admin, lang="ru")
    today = datetime.now(UTC).date()

    by_object = await web.get("/ru/admin/audit", params={"object": f"organization:{console.college['slug']}"})
    by_person = await web.get("/ru/admin/audit", params={"actor": console.admin.email})
    by_old_days = await web.get(
        "/ru/admin/audit",
        params={
            "object": f"organization:{console.college['slug']}",
            "from": (today - timedelta(days=30)).isoformat(),
            "to": (today - timedelta(days=2)).isoformat(),
        },
    )
    bad = await web.get("/ru/admin/audit", params={"from": "вчера", "object": "no-colon"})

    assert "organization.update" in by_object.text
    assert "Караганда" in by_object.text
    assert "organization.update" in by_person.text
    assert "organization.update" not in by_old_days.text
    assert "Нет подходящих изменений." in by_old_days.text
    assert bad.status_code == 200
    assert "Введите дату, например 2027-02-15." in _text(bad.text)
    assert _value(bad.text, "object") == "no-colon"


LAB_CAPACITY = {
    "kk": "Зертхана бір уақытта қанша адамды сыйғызатынын жазыңыз: 1-ден бастап бүтін сан.",
    "ru": "Укажите, сколько человек вмещает лаборатория: целое число от 1.",
    "en": "Enter how many people the lab holds: a whole number from 1.",
}
ONE_LANGUAGE = {
    "kk": "Кемінде бір тілді белгілеңіз.",
    "ru": "Отметьте хотя бы один язык.",
    "en": "Tick at least one language.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_person_and_lab_forms_refuse_in_the_page_language(
    web: Client, pool: asyncpg.Pool, console: Console, lang: str
) -> None:
    await sign_in(web, pool, console.admin, lang=lang)
    person_page = f"/{lang}/admin/people/{console.director.id}"
    lab_page = f"/{lang}/admin/labs/{console.lab['slug']}"

    person = await submit(
        web, person_page, person_page, {"full_name": "Жаңа Есім", "roles": ["director", "admin"]}
    )
    lab = await submit(
        web,
        lab_page,
        lab_page,
        {"name.ru": "Новое имя", "capacity": "-3", "timezone": "Asia/Almaty", "min_notice_hours": "24"},
    )

    assert person.status_code == lab.status_code == 200
    assert HOST_ROLES_ONLY[lang] in _text(person.text)
    assert _value(person.text, "full_name") == "Жаңа Есім"
    assert 'value="admin" checked' in person.text
    assert LAB_CAPACITY[lang] in _text(lab.text)
    assert ONE_LANGUAGE[lang] in _text(lab.text)
    assert _value(lab.text, "name.ru") == "Новое имя"
    assert await pool.fetchval("select roles from people where id = $1", console.director.id) == ["director"]
    assert await pool.fetchval("select capacity from labs where id = $1", console.lab["id"]) == 30


async def test_saving_a_manager_keeps_an_archived_lab_they_run(
    web: Client, pool: asyncpg.Pool, console: Console, make: Factory, client: Client
) -> None:
    manager = await make.person(
        "lab_manager", organization_id=console.host["id"], lab_ids=(console.lab["id"],)
    )
    archived = await client.post(f"/api/v1/labs/{console.lab['slug']}/archive", headers=console.admin.headers)
    assert archived.status_code == 200, archived.text
    await sign_in(web, pool, console.admin)
    page = f"/en/admin/people/{manager.id}"
    form = await web.get(page)
    assert f'value="{console.lab["slug"]}" checked' in form.text

    saved = await submit(
        web,
        page,
        page,
        {"full_name": "Renamed Manager", "roles": "lab_manager", "managed_labs": console.lab["slug"]},
    )

    assert saved.status_code == 303, saved.text
    assert await pool.fetchval("select count(*) from lab_managers where person_id = $1", manager.id) == 1
