"""Loading the demo story into the database, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from labbook.accounts.security import hash_secret
from labbook.accounts.signin import hash_password
from labbook.audit import service as audit
from labbook.demo import repository
from labbook.demo.story import MARKER_ORGANIZATION, Story, build_story, demo_id

# Every demo person signs in with this password (demo only, never in production).
DEMO_PASSWORD = "labbook-demo"


async def load_demo(conn: asyncpg.Connection, *, now: datetime | None = None) -> str:
    """Load the demo data unless it is there already; returns a summary for the console.

    The first load decides every date (relative to ``now``); later loads change nothing. An advisory
    lock makes concurrent loads safe: the second waits for the first, then finds the data present.
    """
    story = build_story(now or datetime.now(UTC))
    password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
    async with conn.transaction():
        await repository.lock(conn)
        if await repository.is_loaded(conn, MARKER_ORGANIZATION):
            # Demo data loaded before people could sign in gets its passwords now.
            await repository.set_missing_passwords(conn, [p.id for p in story.people], password_hash)
            loaded = await repository.loaded_at(conn)
            since = f" (loaded {loaded:%Y-%m-%d %H:%M} UTC)" if loaded else ""
            return _summary(story, f"demo data already present{since}; nothing changed", dates=False)
        counts = await _insert(conn, story)
        await repository.set_missing_passwords(conn, [p.id for p in story.people], password_hash)
        await audit.record(conn, None, "demo.load", "demo", MARKER_ORGANIZATION, after=counts)
    return _summary(story, "demo data loaded", dates=True)


async def _insert(conn: asyncpg.Connection, story: Story) -> dict[str, int]:
    org_ids: dict[str, int] = {}
    for org in story.organizations:
        org_ids[org.slug] = await repository.insert_organization(
            conn,
            slug=org.slug,
            name=org.name,
            kind=org.kind,
            city=org.city,
            country=org.country,
            website=org.website,
            description=org.description,
        )

    lab_ids: dict[str, int] = {}
    for lab in story.labs:
        lab_ids[lab.slug] = await repository.insert_lab(
            conn,
            organization_id=org_ids[lab.organization],
            slug=lab.slug,
            name=lab.name,
            description=lab.description,
            building=lab.building,
            room=lab.room,
            address=lab.address,
            timezone=lab.timezone,
            capacity=lab.capacity,
            languages=lab.languages,
            min_visitor_age=lab.min_visitor_age,
            safety_notes=lab.safety_notes,
            accessibility=lab.accessibility,
        )
        await repository.insert_opening_hours(conn, lab_ids[lab.slug], lab.hours)

    unit_ids: dict[tuple[str, int], int] = {}
    for eq in story.equipment:
        numbered = await repository.insert_equipment(
            conn,
            lab_id=lab_ids[eq.lab],
            slug=eq.slug,
            kind=eq.kind,
            name=eq.name,
            description=eq.description,
            units=eq.units,
            seats_per_unit=eq.seats_per_unit,
            requires_induction=eq.requires_induction,
        )
        unit_ids.update({(eq.slug, number): unit_id for number, unit_id in numbered.items()})

    for person in story.people:
        await repository.insert_person(
            conn,
            person_id=person.id,
            organization_id=org_ids[person.organization],
            email=person.email,
            full_name=person.full_name,
            phone=person.phone,
            roles=list(person.roles),
        )
        for lab_slug in person.labs:
            await repository.insert_lab_manager(conn, lab_ids[lab_slug], person.id)
        if person.token:
            await repository.insert_access_token(conn, person.id, hash_secret(person.token), person.token[:8])

    def person_id(key: str | None) -> UUID | None:
        return story.person(key).id if key else None

    for series in story.series:
        await repository.insert_series(
            conn,
            series_id=series.id,
            lab_id=lab_ids[series.lab],
            kind=series.kind,
            title=series.title,
            description=series.description,
            timezone=next(lab.timezone for lab in story.labs if lab.slug == series.lab),
            local_start=series.local_start,
            duration=series.duration,
            weekdays=list(series.weekdays),
            count=series.count,
            capacity=series.capacity,
            instructor_id=person_id(series.instructor),
            requires_approval=series.requires_approval,
            created_by=story.person(series.created_by).id,
        )

    for slot in story.slots:
        await repository.insert_slot(
            conn,
            (
                slot.id,
                lab_ids[slot.lab],
                demo_id(f"series/{slot.series}") if slot.series else None,
                slot.occurrence_start,
                slot.kind,
                slot.title,
                slot.description,
                slot.starts_at,
                slot.ends_at,
                slot.capacity,
                story.seats_taken(slot.key),
                slot.visibility,
                org_ids[slot.organization] if slot.organization else None,
                slot.booking_deadline,
                slot.requires_approval,
                person_id(slot.instructor),
                slot.status,
                slot.sequence,
                story.person(slot.created_by).id,
            ),
            [unit_ids[unit] for unit in slot.units],
        )

    await repository.insert_bookings(
        conn,
        [
            (
                booking.id,
                demo_id(f"slot/{booking.slot}"),
                org_ids[booking.organization],
                person_id(booking.booked_by),
                demo_id(f"group/{booking.group}") if booking.group else None,
                booking.headcount,
                booking.contact,
                story.person(booking.booked_by).email if booking.booked_by else None,
                story.person(booking.booked_by).phone if booking.booked_by else None,
                booking.language,
                booking.age_group,
                booking.notes,
                booking.status,
                booking.status_message,
                booking.sequence,
            )
            for booking in story.bookings
        ],
    )

    for request in story.visit_requests:
        requester = story.person(request.requested_by) if request.requested_by else None
        await repository.insert_visit_request(
            conn,
            (
                request.id,
                lab_ids[request.lab],
                org_ids[request.organization],
                requester.id if requester else None,
                request.kind,
                [{"starts_at": s.isoformat(), "ends_at": e.isoformat()} for s, e in request.windows],
                request.headcount,
                request.age_group,
                request.language,
                request.purpose,
                request.contact,
                requester.email if requester else None,
                requester.phone if requester else None,
            ),
        )

    return {
        "organizations": len(story.organizations),
        "labs": len(story.labs),
        "equipment": len(story.equipment),
        "people": len(story.people),
        "slot_series": len(story.series),
        "slots": len(story.slots),
        "bookings": len(story.bookings),
        "visit_requests": len(story.visit_requests),
    }


def _summary(story: Story, headline: str, *, dates: bool) -> str:
    hosts = ", ".join(
        f"{org.slug} ({', '.join(lab.slug for lab in story.labs if lab.organization == org.slug)})"
        for org in story.organizations
        if org.kind == "host_university"
    )
    visitors = ", ".join(org.slug for org in story.organizations if org.kind != "host_university")
    statuses = sorted({b.status for b in story.bookings})
    lines = [
        headline,
        f"  hosts and labs: {hosts}",
        f"  visiting organizations: {visitors}",
        f"  {len(story.slots)} slots (incl. a weekly argon TIG series of {story.series[0].count}), "
        f"{len(story.bookings)} bookings ({', '.join(statuses)}), "
        f"{len(story.visit_requests)} visit request",
    ]
    if dates:
        lines.append(f"  closed on {story.holiday_date:%Y-%m-%d}: {story.holiday['en']}")
    lines.append(
        f"demo sign-ins (demo only, never in production): every person below, password {DEMO_PASSWORD}"
    )
    lines.append("  and their API token: Authorization: Bearer <token>")
    for person in story.people:
        where = ", ".join(person.labs) or person.organization
        token = person.token or "-"
        lines.append(f"  {person.roles[0]:<12} {person.email:<26} {token:<20} {where}")
    return "\n".join(lines)
