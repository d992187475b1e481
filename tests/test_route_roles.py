"""Every route × every role: who may call it, asserted over real HTTP against a real database.

The routes are enumerated from the app itself; a route that is registered but missing from ``CASES``
fails ``test_every_route_has_a_decision``, so no endpoint ships without someone deciding who may call it.

"Allowed" means the request got past authorization (any status but 401, 403 and 404 — a 409 or 422
from the business rules still proves the caller was let in). "Denied" means 401 (no token), 403
(wrong role or not their object) or 404 (a private object the caller may not know exists).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.notifications import outbox
from labbook.notifications import service as notifications
from labbook.settings import Settings
from tests.factories import Factory, Person

ALMATY = ZoneInfo("Asia/Almaty")

PERSONAS = ("anonymous", "admin", "manager", "other_manager", "director", "other_director", "instructor")
EVERYONE = frozenset(PERSONAS)
SIGNED_IN = EVERYONE - {"anonymous"}
DENIED = {401, 403, 404}


@dataclass
class World:
    """One fresh set of objects per route, so a destructive call cannot spoil another route's check."""

    people: dict[str, Person]
    host: str
    college: str
    lab: str
    equipment: str
    slot_id: str
    series_id: str
    booking_id: str
    visit_id: str
    director_token_id: str
    director_feed_token_id: str
    director_feed_token: str
    invitation_path: str
    start: datetime
    induction_id: str
    trainee_id: str
    counter: list[int] = field(default_factory=lambda: [0])
    mail_message_id: str = ""
    webhook_id: str = ""
    webhook_delivery_id: str = ""
    unsubscribe_token: str = ""

    def later(self, hours: int = 0) -> tuple[str, str]:
        """A fresh one-hour window each call, far from every other object in the world."""
        self.counter[0] += 1
        begin = self.start + timedelta(days=3 + self.counter[0], hours=hours)
        return begin.isoformat(), (begin + timedelta(hours=1)).isoformat()


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def build_world(make: Factory, client: AsyncTestClient[Litestar]) -> World:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"], capacity=500)
    other_lab = await make.lab(organization_id=host["id"])
    equipment = await make.equipment(lab_id=lab["id"], units=6)
    college = await make.organization(kind="college")
    other_college = await make.organization(kind="school")
    people = {
        "admin": await make.person("admin", organization_id=host["id"]),
        "manager": await make.person("lab_manager", organization_id=host["id"], lab_ids=(lab["id"],)),
        "other_manager": await make.person(
            "lab_manager", organization_id=host["id"], lab_ids=(other_lab["id"],)
        ),
        "director": await make.person("director", organization_id=college["id"]),
        "other_director": await make.person("director", organization_id=other_college["id"]),
        "instructor": await make.person("instructor", organization_id=host["id"]),
    }
    admin, director = people["admin"].headers, people["director"].headers
    # 10:00 in the lab's zone two days ahead: a slot started at this hour of the clock ran past local
    # midnight when the suite ran late in the evening, and showed in the next day's listing too
    day = datetime.now(ALMATY).date() + timedelta(days=2)
    start = datetime.combine(day, time(10), ALMATY).astimezone(UTC)

    async def created(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.text)
        result: dict[str, Any] = response.json()
        return result

    slot = await created(
        "/api/v1/slots",
        {
            "lab": lab["slug"],
            "kind": "tour",
            "title": {"en": "Open tour"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 50,
        },
        admin,
    )
    series_start = start + timedelta(days=200)
    series = await created(
        "/api/v1/series",
        {
            "lab": lab["slug"],
            "kind": "training",
            "title": {"kk": "Дәнекерлеу практикасы"},
            "starts_at": series_start.isoformat(),
            "ends_at": (series_start + timedelta(hours=3)).isoformat(),
            "capacity": 12,
            "recurrence": {"freq": "weekly", "count": 3},
        },
        admin,
    )
    booking = await created(
        f"/api/v1/slots/{slot['id']}/bookings",
        {"headcount": 5, "contact_name": "Aruzhan", "language": "kk"},
        director,
    )
    window = start + timedelta(days=100)
    visit = await created(
        "/api/v1/visit-requests",
        {
            "lab": lab["slug"],
            "windows": [
                {"starts_at": window.isoformat(), "ends_at": (window + timedelta(hours=2)).isoformat()}
            ],
            "headcount": 10,
            "language": "ru",
            "purpose": "Экскурсия для студентов",
            "contact_name": "Aruzhan",
        },
        director,
    )
    director_token = await created("/api/v1/me/tokens", {"name": "spare"}, director)
    invitation = await created(f"/api/v1/people/{people['instructor'].id}/invitations", {}, admin)
    feed_token = await created("/api/v1/me/feed-tokens", {"kind": "organization"}, director)
    webhook = await created(
        "/api/v1/webhooks", {"url": "https://example.kz/hook", "events": ["booking.created"]}, admin
    )
    # the booking's e-mail and webhook delivery, written as the job worker writes them
    change = notifications.BookingChange(
        booking_id=UUID(booking["id"]), status="confirmed", previous_status=None, sequence=0
    )
    await notifications.write_booking_notices(make.pool, Settings(), change)
    mail_message_id = await make.pool.fetchval(
        "select id::text from mail_messages where booking_id = $1", booking["id"]
    )
    webhook_delivery_id = await make.pool.fetchval(
        "select id::text from webhook_deliveries where endpoint_id = $1", UUID(webhook["id"])
    )
    # an optional message to the director, with the one-click link it carries
    unsubscribe_token = secrets.token_urlsafe(32)
    await make.pool.execute(
        """insert into mail_messages (dedupe_key, message_id, kind, recipient, language, subject, raw,
                                      unsubscribe_hash)
           values ($1, $2, 'booking_reminder', $3, 'en', 'Reminder', '', $4)""",
        f"roles:{unsubscribe_token}",
        f"<{unique_slug('roles')}@labbook.test>",
        people["director"].email,
        outbox.unsubscribe_hash(unsubscribe_token),
    )
    trainee = await make.pool.fetchval(
        "insert into trainees (organization_id, full_name) values ($1, 'Roles Trainee') returning id",
        college["id"],
    )
    induction = await make.pool.fetchval(
        """insert into inductions (trainee_id, equipment_id, granted_at, expires_at, reason)
           values ($1, $2, now(), now() + interval '1 year', 'by hand') returning id""",
        trainee,
        equipment["id"],
    )
    return World(
        people=people,
        host=host["slug"],
        college=college["slug"],
        lab=lab["slug"],
        equipment=equipment["slug"],
        slot_id=slot["id"],
        series_id=series["series"]["id"],
        booking_id=booking["id"],
        visit_id=visit["id"],
        director_token_id=director_token["id"],
        director_feed_token_id=feed_token["id"],
        director_feed_token=feed_token["token"],
        invitation_path=invitation["url"].split("://", 1)[1].split("/", 1)[1],
        start=start,
        mail_message_id=mail_message_id,
        webhook_id=webhook["id"],
        webhook_delivery_id=webhook_delivery_id,
        induction_id=str(induction),
        trainee_id=str(trainee),
        unsubscribe_token=unsubscribe_token,
    )


Url = Callable[[World], str]
Body = Callable[[World], Any] | None


@dataclass(frozen=True)
class Case:
    method: str
    route: str
    allowed: frozenset[str]
    url: Url
    body: Body = None
    # a route whose answer is the same for everyone, e.g. the explorer's page for unknown paths
    everyone_gets: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.route)

    @property
    def is_page(self) -> bool:
        """Pages answer people: a form body, and "sign in first" is a redirect to the login page."""
        return self.route == "/" or self.route.startswith("/{lang:str}")


def case(
    method: str,
    route: str,
    allowed: set[str] | frozenset[str],
    url: Url,
    body: Body = None,
    everyone_gets: int | None = None,
) -> Case:
    return Case(method, route, frozenset(allowed), url, body, everyone_gets)


def slot_body(w: World) -> dict[str, Any]:
    begin, end = w.later()
    return {"lab": w.lab, "kind": "tour", "title": {"ru": "Экскурсия"}, "starts_at": begin, "ends_at": end}


def series_body(w: World) -> dict[str, Any]:
    begin, end = w.later(hours=6)
    return {
        "lab": w.lab,
        "kind": "training",
        "title": {"en": "Welding"},
        "starts_at": begin,
        "ends_at": end,
        "capacity": 4,
        "recurrence": {"freq": "daily", "count": 2},
    }


def booking_body(w: World) -> dict[str, Any]:
    return {"headcount": 1, "contact_name": "Daniyar", "language": "ru"}


def visit_body(w: World) -> dict[str, Any]:
    begin, end = w.later(hours=12)
    return {
        "lab": w.lab,
        "windows": [{"starts_at": begin, "ends_at": end}],
        "headcount": 8,
        "language": "en",
        "purpose": "Round table",
        "contact_name": "Daniyar",
    }


def visit_form(w: World) -> dict[str, Any]:
    """The visit-request page's form: a window as a local date and times in the lab's zone."""
    begin, end = (datetime.fromisoformat(t).astimezone(ALMATY) for t in w.later(hours=12))
    return {
        "lab": w.lab,
        "date": begin.date().isoformat(),
        "starts_at": begin.strftime("%H:%M"),
        "ends_at": end.strftime("%H:%M"),
        "headcount": "8",
        "language": "en",
        "kind": "tour",
        "purpose": "Round table",
        "contact_name": "Daniyar",
    }


MANAGERS = {"admin", "manager"}
DIRECTORS = {"admin", "director", "other_director"}
BOOKING_PARTIES = {"admin", "manager", "director"}
V1 = "/api/v1"

CASES: list[Case] = [
    case("GET", "/health", EVERYONE, lambda w: "/health"),
    case("GET", "/ready", EVERYONE, lambda w: "/ready"),
    # organizations
    case("GET", f"{V1}/organizations", EVERYONE, lambda w: f"{V1}/organizations"),
    case(
        "POST",
        f"{V1}/organizations",
        {"admin"},
        lambda w: f"{V1}/organizations",
        lambda w: {"slug": unique_slug("org"), "name": {"kk": "Колледж"}, "kind": "college"},
    ),
    case("GET", f"{V1}/organizations/{{slug:str}}", EVERYONE, lambda w: f"{V1}/organizations/{w.college}"),
    case(
        "PATCH",
        f"{V1}/organizations/{{slug:str}}",
        {"admin", "director"},
        lambda w: f"{V1}/organizations/{w.college}",
        lambda w: {"city": "Almaty"},
    ),
    case(
        "POST",
        f"{V1}/organizations/{{slug:str}}/archive",
        {"admin"},
        lambda w: f"{V1}/organizations/{w.college}/archive",
    ),
    case(
        "POST",
        f"{V1}/organizations/{{slug:str}}/unarchive",
        {"admin"},
        lambda w: f"{V1}/organizations/{w.college}/unarchive",
    ),
    # labs
    case("GET", f"{V1}/labs", EVERYONE, lambda w: f"{V1}/labs"),
    case(
        "POST",
        f"{V1}/labs",
        {"admin"},
        lambda w: f"{V1}/labs",
        lambda w: {"slug": unique_slug("lab"), "host": w.host, "name": {"en": "Lab"}, "capacity": 10},
    ),
    case("GET", f"{V1}/labs/{{slug:str}}", EVERYONE, lambda w: f"{V1}/labs/{w.lab}"),
    case(
        "PATCH",
        f"{V1}/labs/{{slug:str}}",
        MANAGERS,
        lambda w: f"{V1}/labs/{w.lab}",
        lambda w: {"capacity": 400},
    ),
    case("POST", f"{V1}/labs/{{slug:str}}/archive", MANAGERS, lambda w: f"{V1}/labs/{w.lab}/archive"),
    case(
        "GET", f"{V1}/labs/{{slug:str}}/opening-hours", EVERYONE, lambda w: f"{V1}/labs/{w.lab}/opening-hours"
    ),
    case(
        "PUT",
        f"{V1}/labs/{{slug:str}}/opening-hours",
        MANAGERS,
        lambda w: f"{V1}/labs/{w.lab}/opening-hours",
        lambda w: [{"weekday": 1, "opens_at": "09:00", "closes_at": "18:00"}],
    ),
    case(
        "GET", f"{V1}/labs/{{slug:str}}/availability", EVERYONE, lambda w: f"{V1}/labs/{w.lab}/availability"
    ),
    # equipment
    case("GET", f"{V1}/labs/{{slug:str}}/equipment", EVERYONE, lambda w: f"{V1}/labs/{w.lab}/equipment"),
    case(
        "POST",
        f"{V1}/labs/{{slug:str}}/equipment",
        MANAGERS,
        lambda w: f"{V1}/labs/{w.lab}/equipment",
        lambda w: {"slug": unique_slug("lathe"), "kind": "lathe", "name": {"en": "Lathe"}, "units": 2},
    ),
    case(
        "GET",
        f"{V1}/labs/{{slug:str}}/equipment/{{equipment:str}}",
        EVERYONE,
        lambda w: f"{V1}/labs/{w.lab}/equipment/{w.equipment}",
    ),
    case(
        "PATCH",
        f"{V1}/labs/{{slug:str}}/equipment/{{equipment:str}}",
        MANAGERS,
        lambda w: f"{V1}/labs/{w.lab}/equipment/{w.equipment}",
        lambda w: {"requires_induction": True},
    ),
    case(
        "POST",
        f"{V1}/labs/{{slug:str}}/equipment/{{equipment:str}}/archive",
        MANAGERS,
        lambda w: f"{V1}/labs/{w.lab}/equipment/{w.equipment}/archive",
    ),
    # accounts
    case("GET", f"{V1}/me", SIGNED_IN, lambda w: f"{V1}/me"),
    case("GET", f"{V1}/me/tokens", SIGNED_IN, lambda w: f"{V1}/me/tokens"),
    case("GET", f"{V1}/me/notifications", SIGNED_IN, lambda w: f"{V1}/me/notifications"),
    case(
        "PATCH",
        f"{V1}/me/notifications",
        SIGNED_IN,
        lambda w: f"{V1}/me/notifications",
        lambda w: {"booking_reminder": False},
    ),
    case(
        "POST",
        f"{V1}/password-resets",
        EVERYONE,
        lambda w: f"{V1}/password-resets",
        lambda w: {"email": f"{unique_slug('nobody')}@example.kz"},
    ),
    case(
        "POST",
        f"{V1}/password-resets/{{token:str}}",
        EVERYONE,
        lambda w: f"{V1}/password-resets/{w.invitation_path.rsplit('/', 1)[1]}",
        lambda w: {"password": "short"},
    ),
    case("POST", f"{V1}/me/tokens", SIGNED_IN, lambda w: f"{V1}/me/tokens", lambda w: {"name": "laptop"}),
    case(
        "POST",
        f"{V1}/me/tokens/{{token_id:uuid}}/revoke",
        {"director"},
        lambda w: f"{V1}/me/tokens/{w.director_token_id}/revoke",
    ),
    case("GET", f"{V1}/people", {"admin", "director", "other_director"}, lambda w: f"{V1}/people"),
    case(
        "POST",
        f"{V1}/people",
        {"admin"},
        lambda w: f"{V1}/people",
        lambda w: {
            "organization": w.college,
            "email": f"{unique_slug('new')}@example.kz",
            "full_name": "Ерлан Жаңа",
            "roles": ["director"],
        },
    ),
    case(
        "GET",
        f"{V1}/people/{{person_id:uuid}}",
        {"admin", "director"},
        lambda w: f"{V1}/people/{w.people['director'].id}",
    ),
    case(
        "PATCH",
        f"{V1}/people/{{person_id:uuid}}",
        {"admin"},
        lambda w: f"{V1}/people/{w.people['director'].id}",
        lambda w: {"phone": "+7 701 000 00 00"},
    ),
    case(
        "POST",
        f"{V1}/people/{{person_id:uuid}}/deactivate",
        {"admin"},
        lambda w: f"{V1}/people/{w.people['instructor'].id}/deactivate",
    ),
    case(
        "POST",
        f"{V1}/people/{{person_id:uuid}}/reactivate",
        {"admin"},
        lambda w: f"{V1}/people/{w.people['instructor'].id}/reactivate",
    ),
    case(
        "POST",
        f"{V1}/people/{{person_id:uuid}}/invitations",
        {"admin"},
        lambda w: f"{V1}/people/{w.people['director'].id}/invitations",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/people/{{person_id:uuid}}/tokens",
        {"admin"},
        lambda w: f"{V1}/people/{w.people['director'].id}/tokens",
        lambda w: {"name": "issued"},
    ),
    case("GET", f"{V1}/audit", {"admin"}, lambda w: f"{V1}/audit"),
    # slots and series
    case("GET", f"{V1}/slots", EVERYONE, lambda w: f"{V1}/slots"),
    case("POST", f"{V1}/slots", MANAGERS, lambda w: f"{V1}/slots", slot_body),
    case("GET", f"{V1}/slots/{{slot_id:uuid}}", EVERYONE, lambda w: f"{V1}/slots/{w.slot_id}"),
    case(
        "PATCH",
        f"{V1}/slots/{{slot_id:uuid}}",
        MANAGERS,
        lambda w: f"{V1}/slots/{w.slot_id}",
        lambda w: {"capacity": 60},
    ),
    case(
        "POST",
        f"{V1}/slots/{{slot_id:uuid}}/cancel",
        MANAGERS,
        lambda w: f"{V1}/slots/{w.slot_id}/cancel",
        lambda w: {},
    ),
    case("POST", f"{V1}/series", MANAGERS, lambda w: f"{V1}/series", series_body),
    case("POST", f"{V1}/series/preview", MANAGERS, lambda w: f"{V1}/series/preview", series_body),
    case("GET", f"{V1}/series/{{series_id:uuid}}", EVERYONE, lambda w: f"{V1}/series/{w.series_id}"),
    case(
        "PATCH",
        f"{V1}/series/{{series_id:uuid}}",
        MANAGERS,
        lambda w: f"{V1}/series/{w.series_id}",
        lambda w: {"capacity": 10},
    ),
    case(
        "POST",
        f"{V1}/series/{{series_id:uuid}}/cancel",
        MANAGERS,
        lambda w: f"{V1}/series/{w.series_id}/cancel",
        lambda w: {},
    ),
    # bookings
    case(
        "POST",
        f"{V1}/slots/{{slot_id:uuid}}/bookings",
        DIRECTORS,
        lambda w: f"{V1}/slots/{w.slot_id}/bookings",
        booking_body,
    ),
    case(
        "POST",
        f"{V1}/series/{{series_id:uuid}}/bookings",
        DIRECTORS,
        lambda w: f"{V1}/series/{w.series_id}/bookings",
        booking_body,
    ),
    case("GET", f"{V1}/bookings", SIGNED_IN, lambda w: f"{V1}/bookings"),
    case(
        "GET",
        f"{V1}/bookings/{{booking_id:uuid}}",
        BOOKING_PARTIES,
        lambda w: f"{V1}/bookings/{w.booking_id}",
    ),
    case(
        "POST",
        f"{V1}/bookings/{{booking_id:uuid}}/confirm",
        MANAGERS,
        lambda w: f"{V1}/bookings/{w.booking_id}/confirm",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/bookings/{{booking_id:uuid}}/decline",
        MANAGERS,
        lambda w: f"{V1}/bookings/{w.booking_id}/decline",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/bookings/{{booking_id:uuid}}/cancel",
        BOOKING_PARTIES,
        lambda w: f"{V1}/bookings/{w.booking_id}/cancel",
        lambda w: {},
    ),
    # visit requests
    case("GET", f"{V1}/visit-requests", SIGNED_IN, lambda w: f"{V1}/visit-requests"),
    case("POST", f"{V1}/visit-requests", DIRECTORS, lambda w: f"{V1}/visit-requests", visit_body),
    case(
        "GET",
        f"{V1}/visit-requests/{{request_id:uuid}}",
        BOOKING_PARTIES,
        lambda w: f"{V1}/visit-requests/{w.visit_id}",
    ),
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/accept",
        MANAGERS,
        lambda w: f"{V1}/visit-requests/{w.visit_id}/accept",
        lambda w: {"window_number": 1},
    ),
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/decline",
        MANAGERS,
        lambda w: f"{V1}/visit-requests/{w.visit_id}/decline",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/propose",
        MANAGERS,
        lambda w: f"{V1}/visit-requests/{w.visit_id}/propose",
        lambda w: dict(zip(("starts_at", "ends_at"), w.later(), strict=True)),
    ),
    # answering a proposal: the request's own organization (a 409 while none is open), or an admin
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/proposal/accept",
        {"admin", "director"},
        lambda w: f"{V1}/visit-requests/{w.visit_id}/proposal/accept",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/proposal/decline",
        {"admin", "director"},
        lambda w: f"{V1}/visit-requests/{w.visit_id}/proposal/decline",
        lambda w: {},
    ),
    case(
        "POST",
        f"{V1}/visit-requests/{{request_id:uuid}}/cancel",
        {"admin", "director"},
        lambda w: f"{V1}/visit-requests/{w.visit_id}/cancel",
        lambda w: {},
    ),
    # rosters, attendance and inductions (the world's booking is a tour: 409 once let in)
    case(
        "GET",
        f"{V1}/bookings/{{booking_id:uuid}}/roster",
        BOOKING_PARTIES,
        lambda w: f"{V1}/bookings/{w.booking_id}/roster",
    ),
    case(
        "PUT",
        f"{V1}/bookings/{{booking_id:uuid}}/roster",
        BOOKING_PARTIES,
        lambda w: f"{V1}/bookings/{w.booking_id}/roster",
        lambda w: {"trainees": [{"full_name": "Aidana"}]},
    ),
    case(
        "PUT",
        f"{V1}/bookings/{{booking_id:uuid}}/attendance",
        MANAGERS,
        lambda w: f"{V1}/bookings/{w.booking_id}/attendance",
        lambda w: {"outcome": "no_show"},
    ),
    case(
        "GET",
        f"{V1}/inductions",
        {"admin", "manager", "other_manager", "director", "other_director"},
        lambda w: f"{V1}/inductions",
    ),
    case(
        "POST",
        f"{V1}/inductions",
        MANAGERS,
        lambda w: f"{V1}/inductions",
        lambda w: {
            "trainee_id": "00000000-0000-0000-0000-000000000001",
            "lab": w.lab,
            "equipment": w.equipment,
            "reason": "inducted elsewhere",
        },
    ),
    case(
        "POST",
        f"{V1}/inductions/{{induction_id:uuid}}/revoke",
        MANAGERS,
        lambda w: f"{V1}/inductions/{w.induction_id}/revoke",
        lambda w: {"reason": "unsafe"},
    ),
    case(
        "PUT",
        f"{V1}/slots/{{slot_id:uuid}}/induction",
        MANAGERS,
        lambda w: f"{V1}/slots/{w.slot_id}/induction",
        lambda w: {"is_induction": True},
    ),
    case(
        "POST",
        f"{V1}/trainees/{{trainee_id:uuid}}/merge",
        # only the managers of a lab the trainee's organization booked: the other lab's manager gets a 404
        MANAGERS,
        # merged into itself: a 422 once let in, and the trainee stays for the next caller
        lambda w: f"{V1}/trainees/{w.trainee_id}/merge",
        lambda w: {"into": w.trainee_id},
    ),
    case("GET", f"{V1}/no-show-rates", MANAGERS | {"other_manager"}, lambda w: f"{V1}/no-show-rates"),
    case(
        "GET",
        f"{V1}/reports/outreach",
        MANAGERS | {"other_manager"},
        lambda w: f"{V1}/reports/outreach?from=2026-01-01&to=2026-12-31",
    ),
    case(
        "GET",
        f"{V1}/reports/utilization",
        MANAGERS | {"other_manager"},
        lambda w: f"{V1}/reports/utilization?from=2026-01-01&to=2026-03-31&by=month",
    ),
    # feeds: public ones need nothing; a private feed's token is its only credential
    case("GET", "/feeds/labs/{lab_file:str}", EVERYONE, lambda w: f"/feeds/labs/{w.lab}.ics"),
    case("HEAD", "/feeds/labs/{lab_file:str}", EVERYONE, lambda w: f"/feeds/labs/{w.lab}.ics"),
    case(
        "GET",
        "/feeds/labs/{lab:str}/equipment/{equipment_file:str}",
        EVERYONE,
        lambda w: f"/feeds/labs/{w.lab}/equipment/{w.equipment}.ics",
    ),
    case(
        "HEAD",
        "/feeds/labs/{lab:str}/equipment/{equipment_file:str}",
        EVERYONE,
        lambda w: f"/feeds/labs/{w.lab}/equipment/{w.equipment}.ics",
    ),
    case(
        "GET",
        "/feeds/private/{token_file:str}",
        EVERYONE,
        lambda w: f"/feeds/private/{w.director_feed_token}.ics",
    ),
    case(
        "HEAD",
        "/feeds/private/{token_file:str}",
        EVERYONE,
        lambda w: f"/feeds/private/{w.director_feed_token}.ics",
    ),
    case("GET", f"{V1}/feeds/labs/{{lab:str}}", EVERYONE, lambda w: f"{V1}/feeds/labs/{w.lab}"),
    case("GET", f"{V1}/me/feed-tokens", SIGNED_IN, lambda w: f"{V1}/me/feed-tokens"),
    case(
        "POST",
        f"{V1}/me/feed-tokens",
        SIGNED_IN,
        lambda w: f"{V1}/me/feed-tokens",
        lambda w: {"kind": "person"},
    ),
    case(
        "POST",
        f"{V1}/me/feed-tokens/{{token_id:uuid}}/revoke",
        {"director"},
        lambda w: f"{V1}/me/feed-tokens/{w.director_feed_token_id}/revoke",
    ),
    # pages for people (see tests/web for what each shows)
    case("GET", "/", EVERYONE, lambda w: "/", everyone_gets=303),
    case("GET", "/{lang:str}", EVERYONE, lambda w: "/en/"),
    case("GET", "/{lang:str}/labs/{lab:str}", EVERYONE, lambda w: f"/kk/labs/{w.lab}"),
    case("GET", "/{lang:str}/labs/{lab:str}/calendar", EVERYONE, lambda w: f"/ru/labs/{w.lab}/calendar"),
    case("GET", "/{lang:str}/slots/{slot_id:str}", EVERYONE, lambda w: f"/en/slots/{w.slot_id}"),
    case("GET", "/{lang:str}/series/{series_id:str}", EVERYONE, lambda w: f"/en/series/{w.series_id}"),
    case("GET", "/{lang:str}/login", EVERYONE, lambda w: "/en/login"),
    case(
        "POST",
        "/{lang:str}/login",
        EVERYONE,
        lambda w: "/en/login",
        lambda w: {"email": "nobody@example.kz", "password": "wrong password"},
    ),
    case("POST", "/{lang:str}/logout", EVERYONE, lambda w: "/en/logout"),
    case("POST", "/{lang:str}/logout/everywhere", SIGNED_IN, lambda w: "/en/logout/everywhere"),
    case("GET", "/{lang:str}/invitations/{token:str}", EVERYONE, lambda w: f"/{w.invitation_path}"),
    case(
        "POST",
        "/{lang:str}/invitations/{token:str}",
        EVERYONE,
        lambda w: f"/{w.invitation_path}",
        lambda w: {"password": "short"},
    ),
    case("GET", "/{lang:str}/password-reset", EVERYONE, lambda w: "/en/password-reset"),
    case(
        "POST",
        "/{lang:str}/password-reset",
        EVERYONE,
        lambda w: "/en/password-reset",
        lambda w: {"email": f"{unique_slug('nobody')}@example.kz"},
    ),
    case(
        "GET",
        "/{lang:str}/password-reset/{token:str}",
        EVERYONE,
        lambda w: f"/en/password-reset/{w.invitation_path.rsplit('/', 1)[1]}",
    ),
    case(
        "POST",
        "/{lang:str}/password-reset/{token:str}",
        EVERYONE,
        lambda w: f"/en/password-reset/{w.invitation_path.rsplit('/', 1)[1]}",
        lambda w: {"password": "short"},
    ),
    case(
        "GET",
        "/{lang:str}/unsubscribe/{token:str}",
        EVERYONE,
        lambda w: f"/en/unsubscribe/{w.unsubscribe_token}",
    ),
    case(
        "POST",
        "/{lang:str}/unsubscribe/{token:str}",
        EVERYONE,
        lambda w: f"/en/unsubscribe/{w.unsubscribe_token}",
        lambda w: {"List-Unsubscribe": "One-Click"},
    ),
    case("GET", "/{lang:str}/slots/{slot_id:uuid}/book", DIRECTORS, lambda w: f"/en/slots/{w.slot_id}/book"),
    case(
        "POST",
        "/{lang:str}/slots/{slot_id:uuid}/book",
        DIRECTORS,
        lambda w: f"/en/slots/{w.slot_id}/book",
        lambda w: {"headcount": "1", "contact_name": "Daniyar", "language": "ru"},
    ),
    case(
        "GET",
        "/{lang:str}/series/{series_id:uuid}/book",
        DIRECTORS,
        lambda w: f"/en/series/{w.series_id}/book",
    ),
    case(
        "POST",
        "/{lang:str}/series/{series_id:uuid}/book",
        DIRECTORS,
        lambda w: f"/en/series/{w.series_id}/book",
        lambda w: {"headcount": "1", "contact_name": "Daniyar", "language": "kk"},
    ),
    case("GET", "/{lang:str}/bookings", DIRECTORS, lambda w: "/en/bookings"),
    case(
        "GET",
        "/{lang:str}/bookings/{booking_id:uuid}",
        {"admin", "director"},
        lambda w: f"/en/bookings/{w.booking_id}",
    ),
    case(
        "GET",
        "/{lang:str}/bookings/{booking_id:uuid}/cancel",
        {"admin", "director"},
        lambda w: f"/en/bookings/{w.booking_id}/cancel",
    ),
    case(
        "POST",
        "/{lang:str}/bookings/{booking_id:uuid}/cancel",
        {"admin", "director"},
        lambda w: f"/en/bookings/{w.booking_id}/cancel",
        lambda w: {"reason": "the bus broke down"},
    ),
    case("GET", "/{lang:str}/visit-requests/new", DIRECTORS, lambda w: f"/en/visit-requests/new?lab={w.lab}"),
    case("POST", "/{lang:str}/visit-requests", DIRECTORS, lambda w: "/en/visit-requests", visit_form),
    case("GET", "/{lang:str}/visit-requests", DIRECTORS, lambda w: "/en/visit-requests"),
    case(
        "POST",
        "/{lang:str}/visit-requests/{request_id:uuid}/cancel",
        {"admin", "director"},
        lambda w: f"/en/visit-requests/{w.visit_id}/cancel",
    ),
    # answering the lab's proposal: the request's organization (the page says none waits), or an admin
    case(
        "POST",
        "/{lang:str}/visit-requests/{request_id:uuid}/proposal",
        {"admin", "director"},
        lambda w: f"/en/visit-requests/{w.visit_id}/proposal",
        lambda w: {"answer": "accept"},
    ),
    case("GET", "/{lang:str}/account", SIGNED_IN, lambda w: "/en/account"),
    case(
        "POST",
        "/{lang:str}/account/messages",
        SIGNED_IN,
        lambda w: "/en/account/messages",
        lambda w: {"booking_received": "true"},
    ),
    case(
        "POST",
        "/{lang:str}/account",
        SIGNED_IN,
        lambda w: "/en/account",
        lambda w: {"full_name": "Жаңа Есім", "language": "kk"},
    ),
    case(
        "POST",
        "/{lang:str}/account/password",
        SIGNED_IN,
        lambda w: "/en/account/password",
        lambda w: {"current_password": "not my password", "password": "a long new password"},
    ),
    case("POST", "/{lang:str}/account/feed", {"director", "other_director"}, lambda w: "/en/account/feed"),
    case(
        "POST",
        "/{lang:str}/account/feed/{token_id:uuid}/revoke",
        {"director"},
        lambda w: f"/en/account/feed/{w.director_feed_token_id}/revoke",
    ),
    # every manager has a desk (showing their own labs); answering another lab's booking changes nothing
    case("GET", "/{lang:str}/manage", MANAGERS | {"other_manager"}, lambda w: "/en/manage/"),
    case(
        "POST",
        "/{lang:str}/manage/bookings",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/bookings",
        lambda w: {"confirm_one": str(w.booking_id)},
    ),
    case(
        "GET", "/{lang:str}/manage/slots/new", MANAGERS | {"other_manager"}, lambda w: "/en/manage/slots/new"
    ),
    # another lab's manager is refused by the page itself (a 200 saying to choose one of their labs)
    case(
        "POST",
        "/{lang:str}/manage/slots",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/slots/",
        lambda w: {"lab": w.lab, "kind": "tour", "title.en": "x", "date": "2000-01-01"},
    ),
    case(
        "GET",
        "/{lang:str}/manage/series/new",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/series/new",
    ),
    # another lab's manager is told to choose one of their own labs (a 200), and nothing is written
    case(
        "POST",
        "/{lang:str}/manage/series/preview",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/series/preview",
        lambda w: {"lab": w.lab, "kind": "tour", "title.en": "x", "date": "2000-01-01"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/series",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/series/",
        lambda w: {"lab": w.lab, "kind": "tour", "title.en": "x", "date": "2000-01-01"},
    ),
    case(
        "GET",
        "/{lang:str}/manage/series/{series_id:uuid}",
        MANAGERS,
        lambda w: f"/en/manage/series/{w.series_id}",
    ),
    case(
        "GET", "/{lang:str}/manage/slots/{slot_id:uuid}", MANAGERS, lambda w: f"/en/manage/slots/{w.slot_id}"
    ),
    # without "confirm" both only show the bookings the change would reach
    case(
        "POST",
        "/{lang:str}/manage/slots/{slot_id:uuid}/edit",
        MANAGERS,
        lambda w: f"/en/manage/slots/{w.slot_id}/edit",
        lambda w: {"date": "2031-01-06", "starts_at": "10:00", "ends_at": "11:00", "title.en": "Tour"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/slots/{slot_id:uuid}/cancel",
        MANAGERS,
        lambda w: f"/en/manage/slots/{w.slot_id}/cancel",
    ),
    case(
        "POST",
        "/{lang:str}/manage/visit-requests/{request_id:uuid}/decline",
        MANAGERS,
        lambda w: f"/en/manage/visit-requests/{w.visit_id}/decline",
    ),
    # the admin console: admins only, every page and form
    *[
        case("GET", f"/{{lang:str}}/admin{route}", {"admin"}, url)
        for route, url in [
            ("", lambda w: "/en/admin/"),
            ("/organizations", lambda w: "/kk/admin/organizations/?kind=school"),
            ("/organizations/new", lambda w: "/ru/admin/organizations/new"),
            ("/organizations/{slug:str}", lambda w: f"/en/admin/organizations/{w.college}"),
            ("/people", lambda w: "/en/admin/people/?role=director"),
            ("/people/new", lambda w: "/en/admin/people/new"),
            ("/people/{person_id:uuid}", lambda w: f"/en/admin/people/{w.people['instructor'].id}"),
            ("/labs", lambda w: "/en/admin/labs/"),
            ("/labs/new", lambda w: "/en/admin/labs/new"),
            ("/labs/{slug:str}", lambda w: f"/en/admin/labs/{w.lab}"),
            ("/audit", lambda w: f"/en/admin/audit?object=lab:{w.lab}"),
        ]
    ],
    case(
        "POST",
        "/{lang:str}/admin/organizations",
        {"admin"},
        lambda w: "/en/admin/organizations/",
        lambda w: {"slug": unique_slug("school"), "kind": "school", "name.kk": "Мектеп"},
    ),
    case(
        "POST",
        "/{lang:str}/admin/organizations/{slug:str}",
        {"admin"},
        lambda w: f"/en/admin/organizations/{w.college}",
        lambda w: {"kind": "college", "name.en": "Renamed college"},
    ),
    *[
        case("POST", f"/{{lang:str}}/admin/organizations/{{slug:str}}/{verb}", {"admin"}, url)
        for verb, url in [
            ("archive", lambda w: f"/en/admin/organizations/{w.college}/archive"),
            ("unarchive", lambda w: f"/en/admin/organizations/{w.college}/unarchive"),
        ]
    ],
    case(
        "POST",
        "/{lang:str}/admin/people",
        {"admin"},
        lambda w: "/en/admin/people/",
        lambda w: {
            "organization": w.college,
            "email": f"{unique_slug('invited')}@college.kz",
            "full_name": "Invited Person",
            "roles": "director",
            "days": "7",
        },
    ),
    case(
        "POST",
        "/{lang:str}/admin/people/{person_id:uuid}",
        {"admin"},
        lambda w: f"/en/admin/people/{w.people['instructor'].id}",
        lambda w: {"full_name": "Renamed Instructor", "roles": "instructor"},
    ),
    *[
        case("POST", f"/{{lang:str}}/admin/people/{{person_id:uuid}}/{verb}", {"admin"}, url, body)
        for verb, url, body in [
            ("deactivate", lambda w: f"/en/admin/people/{w.people['instructor'].id}/deactivate", None),
            ("reactivate", lambda w: f"/en/admin/people/{w.people['instructor'].id}/reactivate", None),
            (
                "invitations",
                lambda w: f"/en/admin/people/{w.people['instructor'].id}/invitations",
                lambda w: {"days": "3"},
            ),
        ]
    ],
    case(
        "POST",
        "/{lang:str}/admin/labs",
        {"admin"},
        lambda w: "/en/admin/labs/",
        lambda w: {
            "host": w.host,
            "slug": unique_slug("lab"),
            "name.en": "New lab",
            "capacity": "20",
            "timezone": "Asia/Almaty",
            "languages": "ru",
            "min_notice_hours": "24",
            "max_advance_days": "365",
        },
    ),
    case(
        "POST",
        "/{lang:str}/admin/labs/{slug:str}",
        {"admin"},
        lambda w: f"/en/admin/labs/{w.lab}",
        lambda w: {
            "name.en": "Renamed lab",
            "capacity": "500",
            "timezone": "Asia/Almaty",
            "languages": "ru",
            "min_notice_hours": "24",
            "max_advance_days": "365",
        },
    ),
    case(
        "POST",
        "/{lang:str}/admin/labs/{slug:str}/archive",
        {"admin"},
        lambda w: f"/en/admin/labs/{w.lab}/archive",
    ),
    case(
        "POST",
        "/{lang:str}/admin/labs/{slug:str}/managers",
        {"admin"},
        lambda w: f"/en/admin/labs/{w.lab}/managers",
        lambda w: {"person_id": str(w.people["instructor"].id)},
    ),
    # a lab's calendars and settings: its managers and admins (another lab's manager gets 403)
    case(
        "GET",
        "/{lang:str}/manage/labs/{lab:str}/calendar",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/calendar",
    ),
    case(
        "GET",
        "/{lang:str}/manage/labs/{lab:str}/calendar/month",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/calendar/month",
    ),
    case(
        "GET",
        "/{lang:str}/manage/labs/{lab:str}/stations",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/stations",
    ),
    case(
        "GET",
        "/{lang:str}/manage/labs/{lab:str}/settings",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/",
    ),
    case(
        "POST",
        "/{lang:str}/manage/labs/{lab:str}/settings/details",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/details",
        lambda w: {"name.en": "Welding lab", "capacity": "500", "languages": "en"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/labs/{lab:str}/settings/booking-rules",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/booking-rules",
        lambda w: {"min_notice_hours": "0", "max_advance_days": "3650", "reminder_hours": "24"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/labs/{lab:str}/settings/opening-hours",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/opening-hours",
        lambda w: {"opens_at.1.0": "09:00"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/labs/{lab:str}/settings/equipment/{equipment:str}",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/equipment/{w.equipment}",
        lambda w: {"units": "6", "seats_per_unit": "2"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/labs/{lab:str}/settings/feed",
        MANAGERS,
        lambda w: f"/en/manage/labs/{w.lab}/settings/feed",
        lambda w: {"name": "office"},
    ),
    # the visit-request pages: every manager has a list (of their own labs); one request is its lab's
    case("GET", "/{lang:str}/manage/visits", MANAGERS | {"other_manager"}, lambda w: "/en/manage/visits/"),
    case(
        "GET",
        "/{lang:str}/manage/visits/{request_id:uuid}",
        MANAGERS,
        lambda w: f"/en/manage/visits/{w.visit_id}",
    ),
    case(
        "POST",
        "/{lang:str}/manage/visits/{request_id:uuid}/accept",
        MANAGERS,
        lambda w: f"/en/manage/visits/{w.visit_id}/accept",
        lambda w: {"window_number": "1"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/visits/{request_id:uuid}/decline",
        MANAGERS,
        lambda w: f"/en/manage/visits/{w.visit_id}/decline",
        lambda w: {"message": "not this term"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/visits/{request_id:uuid}/propose",
        MANAGERS,
        lambda w: f"/en/manage/visits/{w.visit_id}/propose",
        lambda w: {"date": w.later()[0][:10], "starts_at": "10:00", "ends_at": "11:00"},
    ),
    case(
        "POST",
        f"{V1}/webhooks",
        {"admin"},
        lambda w: f"{V1}/webhooks",
        lambda w: {"url": "https://example.kz/other", "events": ["booking.confirmed"]},
    ),
    case("GET", f"{V1}/webhooks", {"admin"}, lambda w: f"{V1}/webhooks"),
    case(
        "GET",
        f"{V1}/webhooks/{{endpoint_id:uuid}}/deliveries",
        {"admin"},
        lambda w: f"{V1}/webhooks/{w.webhook_id}/deliveries",
    ),
    case(
        "POST",
        f"{V1}/webhooks/deliveries/{{delivery_id:uuid}}/replay",
        {"admin"},
        lambda w: f"{V1}/webhooks/deliveries/{w.webhook_delivery_id}/replay",
    ),
    case("GET", "/{lang:str}/admin/outbox", {"admin"}, lambda w: "/en/admin/outbox/"),
    case(
        "GET",
        "/{lang:str}/admin/outbox/{message_id:uuid}",
        {"admin"},
        lambda w: f"/en/admin/outbox/{w.mail_message_id}",
    ),
    # rosters and attendance (the world's booking is a tour: the page says it has no roster)
    case(
        "GET",
        "/{lang:str}/bookings/{booking_id:uuid}/roster",
        BOOKING_PARTIES,
        lambda w: f"/en/bookings/{w.booking_id}/roster",
    ),
    case(
        "POST",
        "/{lang:str}/bookings/{booking_id:uuid}/roster",
        BOOKING_PARTIES,
        lambda w: f"/en/bookings/{w.booking_id}/roster",
        lambda w: {"trainees.0.full_name": "Aidana"},
    ),
    case(
        "GET",
        "/{lang:str}/manage/attendance",
        MANAGERS | {"other_manager", "instructor"},
        lambda w: "/en/manage/attendance/",
    ),
    case(
        "GET",
        "/{lang:str}/manage/attendance/week",
        MANAGERS | {"other_manager", "instructor"},
        lambda w: "/en/manage/attendance/week",
    ),
    case(
        "GET",
        "/{lang:str}/manage/attendance/sessions/{slot_id:uuid}",
        # the world's session names no instructor: an instructor opening their own session is
        # checked in tests/web/test_attendance_pages.py
        MANAGERS,
        lambda w: f"/en/manage/attendance/sessions/{w.slot_id}",
    ),
    case(
        "POST",
        "/{lang:str}/manage/attendance/{booking_id:uuid}",
        MANAGERS,
        lambda w: f"/en/manage/attendance/{w.booking_id}",
        lambda w: {"outcome": "no_show"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/attendance/sessions/{slot_id:uuid}",
        MANAGERS,
        lambda w: f"/en/manage/attendance/sessions/{w.slot_id}",
        lambda w: {"is_induction": "1"},
    ),
    # inductions: every manager sees their own equipment's; granting, revoking and merging reach only
    # the lab the college booked
    case(
        "GET",
        "/{lang:str}/manage/inductions",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/inductions/",
    ),
    case(
        "POST",
        "/{lang:str}/manage/inductions",
        MANAGERS,
        lambda w: "/en/manage/inductions/",
        lambda w: {"trainee_id": w.trainee_id, "equipment": f"{w.lab}/{w.equipment}", "reason": "by hand"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/inductions/{induction_id:uuid}/revoke",
        MANAGERS,
        lambda w: f"/en/manage/inductions/{w.induction_id}/revoke",
        lambda w: {"reason": "left the college"},
    ),
    case(
        "POST",
        "/{lang:str}/manage/inductions/merge",
        MANAGERS,
        # merged into itself: a refusal on the page once let in
        lambda w: "/en/manage/inductions/merge",
        lambda w: {"trainee_id": w.trainee_id, "into": w.trainee_id},
    ),
    # every manager reports on their own labs
    case(
        "GET",
        "/{lang:str}/manage/reports/outreach",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/outreach",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/outreach/charts/{chart:str}",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/outreach/charts/kinds.svg",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/outreach.csv",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/outreach.csv",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/outreach.xlsx",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/outreach.xlsx",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/utilization",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/utilization/",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/utilization/chart.svg",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/utilization/chart.svg",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/utilization/export.csv",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/utilization/export.csv",
    ),
    case(
        "GET",
        "/{lang:str}/manage/reports/utilization/export.xlsx",
        MANAGERS | {"other_manager"},
        lambda w: "/en/manage/reports/utilization/export.xlsx",
    ),
    case("GET", "/{lang:str}/{rest:path}", EVERYONE, lambda w: "/kk/no/such/page", everyone_gets=404),
    case("GET", "/static/{file_path:path}", EVERYONE, lambda w: "/static/labbook.css"),
    case("HEAD", "/static/{file_path:path}", EVERYONE, lambda w: "/static/labbook.css"),
    # the API explorer and its own assets
    case("GET", "/schema", EVERYONE, lambda w: "/schema"),
    case("GET", "/schema/{path:str}", EVERYONE, lambda w: "/schema/no-such-page", everyone_gets=404),
    case("GET", "/schema/openapi.json", EVERYONE, lambda w: "/schema/openapi.json"),
    case("GET", "/schema/oauth2-redirect.html", EVERYONE, lambda w: "/schema/oauth2-redirect.html"),
    case("GET", "/schema/assets/{file_path:path}", EVERYONE, lambda w: "/schema/assets/swagger-ui.css"),
    case("HEAD", "/schema/assets/{file_path:path}", EVERYONE, lambda w: "/schema/assets/swagger-ui.css"),
]


LOGIN_REDIRECT = 401  # a page's "sign in first" (303 to the login page) counts as the API's 401


async def page_request(
    client: AsyncTestClient[Litestar], method: str, url: str, headers: dict[str, str], body: Any
) -> Any:
    """A page request as a browser makes it: a form with the CSRF token from the page's cookie."""
    data = None
    if method == "POST":
        await client.get("/en/login", follow_redirects=False)
        data = {**(body or {}), "_csrf": client.cookies.get("lb_csrf")}
    response = await client.request(method, url, headers=headers, data=data, follow_redirects=False)
    if response.status_code == 303 and "/login?" in response.headers["location"]:
        response.status_code = LOGIN_REDIRECT
    return response


def registered_routes(app: Litestar) -> set[tuple[str, str]]:
    """(method, path) for every handler the app registers, except Litestar's generated OPTIONS."""
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method != "OPTIONS":
                    found.add((method, route.path))
    return found


def test_every_route_has_a_decision(app: Litestar) -> None:
    decided = {c.key for c in CASES}
    registered = registered_routes(app)
    assert registered - decided == set(), "routes without a decision in CASES"
    assert decided - registered == set(), "CASES name routes the app no longer has"


def test_every_handler_declares_access(app: Litestar) -> None:
    undeclared = [
        (sorted(getattr(h, "http_methods", ())), r.path)
        for r in app.routes
        for h in getattr(r, "route_handlers", [])
        if "OPTIONS" not in getattr(h, "http_methods", ()) and "access" not in h.opt
    ]
    assert undeclared == []


@pytest.mark.parametrize("checked", CASES, ids=lambda c: f"{c.method} {c.route}")
async def test_route_allows_exactly_its_roles(
    checked: Case, client: AsyncTestClient[Litestar], make: Factory
) -> None:
    world = await build_world(make, client)
    # Denied callers go first so that a destructive call by an allowed one cannot mask a denial.
    order = sorted(PERSONAS, key=lambda p: p in checked.allowed)
    outcomes: dict[str, int] = {}
    for persona in order:
        headers = {} if persona == "anonymous" else world.people[persona].headers
        body = checked.body(world) if checked.body else None
        if checked.is_page:
            response = await page_request(client, checked.method, checked.url(world), headers, body)
        else:
            response = await client.request(
                checked.method, checked.url(world), headers=headers, json=body if body is not None else None
            )
        outcomes[persona] = response.status_code
        assert response.status_code < 500, (persona, response.text)
    if checked.everyone_gets is not None:
        assert set(outcomes.values()) == {checked.everyone_gets}, outcomes
        return
    wrong = {
        persona: status
        for persona, status in outcomes.items()
        if (persona in checked.allowed) == (status in DENIED)
    }
    assert wrong == {}, f"allowed={sorted(checked.allowed)} outcomes={outcomes}"
    if "anonymous" not in checked.allowed:
        assert outcomes["anonymous"] == 401
