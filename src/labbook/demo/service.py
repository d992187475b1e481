"""Loading the demo story into the database, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from labbook.accounts.security import hash_secret
from labbook.accounts.signin import hash_password
from labbook.attendance import service as attendance
from labbook.attendance.schemas import RosterUpdate, TraineeIn
from labbook.audit import service as audit
from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingCreate
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.demo import repository
from labbook.demo.story import MARKER_ORGANIZATION, Booking, Series, Slot, Story, build_story
from labbook.slots import publishing, recurrence
from labbook.slots import series as series_service
from labbook.slots.schemas import Recurrence, SeriesCreate, SlotCreate, SlotUpdate, UnitRequest
from labbook.timezones import zone
from labbook.visits import service as visits
from labbook.visits.schemas import VisitProposalCreate

# Every demo person signs in with this password (demo only, never in production).
DEMO_PASSWORD = "labbook-demo"


async def load_demo(conn: asyncpg.Connection, *, now: datetime | None = None) -> str:
    """Load the demo data unless it is there already; returns a summary for the console.

    The first load decides every date (relative to ``now``); later loads change nothing. An advisory
    lock makes concurrent loads safe: the second waits for the first, then finds the data present.
    """
    now = now or datetime.now(UTC)
    story = build_story(now)
    password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
    async with conn.transaction():
        await repository.lock(conn)
        if await repository.is_loaded(conn, MARKER_ORGANIZATION):
            # Demo data loaded before people could sign in gets its passwords now.
            await repository.set_missing_passwords(conn, [p.id for p in story.people], password_hash)
            loaded = await repository.loaded_at(conn)
            since = f" (loaded {loaded:%Y-%m-%d %H:%M} UTC)" if loaded else ""
            return _summary(story, f"demo data already present{since}; nothing changed", dates=False)
        counts = await _insert(conn, story, now)
        await repository.set_missing_passwords(conn, [p.id for p in story.people], password_hash)
        await audit.record(conn, None, "demo.load", "demo", MARKER_ORGANIZATION, after=counts)
    return _summary(story, "demo data loaded", dates=True)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """Ids of what the demo wrote so far, by the story's keys."""

    story: Story
    now: datetime
    organizations: dict[str, int]
    labs: dict[str, int]
    slots: dict[str, UUID] = field(default_factory=dict)
    series: dict[str, UUID] = field(default_factory=dict)

    def actor(self, key: str) -> Principal:
        """A story person as the services know people who sign in."""
        person = self.story.person(key)
        return Principal(
            person_id=person.id,
            organization_id=self.organizations[person.organization],
            roles=frozenset(Role(role) for role in person.roles),
            managed_lab_ids=frozenset(self.labs[lab] for lab in person.labs),
        )

    def person_id(self, key: str | None) -> UUID | None:
        return self.story.person(key).id if key else None

    def slot(self, key: str) -> Slot:
        return next(slot for slot in self.story.slots if slot.key == key)


async def _insert(conn: asyncpg.Connection, story: Story, now: datetime) -> dict[str, int]:
    """Write the story: organizations, labs and people as rows; slots, series and bookings through
    the same service verbs as the API, so every rule they check holds for the demo too."""
    organizations, labs = await _insert_catalog(conn, story)
    loaded = _Loaded(story, now, organizations, labs)
    await _insert_people(conn, loaded)
    await _publish(conn, loaded, [s for s in story.slots if s.series is None and s.kind != "closure"])
    for series in story.series:
        await _publish_series(conn, loaded, series)
    for slot in story.slots:
        if slot.is_induction:
            await attendance.set_induction_session_in(
                conn, loaded.actor(slot.created_by), loaded.slots[slot.key], True
            )
    await _book(conn, loaded)
    for slot in story.slots:
        if slot.status == "cancelled":
            reason = next((b.status_message for b in story.bookings if b.slot == slot.key), None)
            await publishing.cancel_slot_in(
                conn, loaded.actor(slot.created_by), loaded.slots[slot.key], reason
            )
    # Closures last: the occurrence on the closed day has been cancelled by now.
    await _publish(conn, loaded, [s for s in story.slots if s.kind == "closure"])
    await _insert_visit_requests(conn, loaded)
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


async def _insert_catalog(conn: asyncpg.Connection, story: Story) -> tuple[dict[str, int], dict[str, int]]:
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
    for eq in story.equipment:
        await repository.insert_equipment(
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
    return org_ids, lab_ids


async def _insert_people(conn: asyncpg.Connection, loaded: _Loaded) -> None:
    for person in loaded.story.people:
        await repository.insert_person(
            conn,
            person_id=person.id,
            organization_id=loaded.organizations[person.organization],
            email=person.email,
            full_name=person.full_name,
            phone=person.phone,
            roles=list(person.roles),
            language=person.language,
        )
        for lab_slug in person.labs:
            await repository.insert_lab_manager(conn, loaded.labs[lab_slug], person.id)
        if person.token:
            await repository.insert_access_token(conn, person.id, hash_secret(person.token), person.token[:8])


def _units(slot: Slot) -> list[UnitRequest]:
    """The story's units as the API asks for them: how many of each equipment."""
    counts = Counter(equipment for equipment, _ in slot.units)
    return [UnitRequest(equipment=equipment, units=units) for equipment, units in counts.items()]


async def _publish(conn: asyncpg.Connection, loaded: _Loaded, slots: list[Slot]) -> None:
    for slot in slots:
        data = msgspec.convert(
            {
                "lab": slot.lab,
                "kind": slot.kind,
                "title": slot.title,
                "description": slot.description,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "capacity": slot.capacity,
                "equipment": _units(slot),
                "visibility": slot.visibility,
                "organization": slot.organization,
                "booking_deadline": slot.booking_deadline,
                "requires_approval": slot.requires_approval,
                "instructor_id": loaded.person_id(slot.instructor),
            },
            SlotCreate,
        )
        lab = await publishing.lab_by_slug(conn, slot.lab)
        row = await publishing.create_slot_in(conn, loaded.actor(slot.created_by), lab, data, now=loaded.now)
        loaded.slots[slot.key] = row["id"]


async def _publish_series(conn: asyncpg.Connection, loaded: _Loaded, series: Series) -> None:
    """Publish the series, then move the occurrences the story moved."""
    occurrences = [slot for slot in loaded.story.slots if slot.series == series.key]
    timezone = next(lab.timezone for lab in loaded.story.labs if lab.slug == series.lab)
    starts_at = recurrence.to_instant(series.local_start, zone(timezone))
    actor = loaded.actor(series.created_by)
    data = msgspec.convert(
        {
            "lab": series.lab,
            "kind": series.kind,
            "title": series.title,
            "description": series.description,
            "starts_at": starts_at,
            "ends_at": starts_at + series.duration,
            "recurrence": Recurrence(freq="weekly", weekdays=list(series.weekdays), count=series.count),
            "capacity": series.capacity,
            "equipment": _units(occurrences[0]),
            "booking_deadline_hours": 24,
            "requires_approval": series.requires_approval,
            "instructor_id": loaded.person_id(series.instructor),
        },
        SeriesCreate,
    )
    created = await series_service.create_series_in(conn, actor, data, now=loaded.now)
    loaded.series[series.key] = created.series.row["id"]
    by_start = {row["occurrence_start"]: row["id"] for row in created.created}
    for slot in occurrences:
        loaded.slots[slot.key] = by_start[slot.occurrence_start]
        if slot.starts_at != slot.occurrence_start:
            moved = msgspec.convert(
                {
                    "starts_at": slot.starts_at,
                    "ends_at": slot.ends_at,
                    "description": slot.description,
                    "booking_deadline": slot.booking_deadline,
                },
                SlotUpdate,
            )
            await publishing.update_slot_in(conn, actor, loaded.slots[slot.key], moved, now=loaded.now)


def _request(booking: Booking) -> BookingCreate:
    return msgspec.convert(
        {
            "headcount": booking.headcount,
            "contact_name": booking.contact,
            "language": booking.language,
            "age_group": booking.age_group,
            "notes": booking.notes,
            "waitlist": booking.status == "waitlisted",
        },
        BookingCreate,
    )


async def _book(conn: asyncpg.Connection, loaded: _Loaded) -> None:
    """Make every booking in the story's order, then answer it as the story says."""
    groups: set[str] = set()
    for booking in loaded.story.bookings:
        me = loaded.actor(booking.booked_by or "admin")
        if booking.group is None:
            slot_id = loaded.slots[booking.slot]
            row = await bookings.book_seats_in(conn, me, slot_id, _request(booking), now=loaded.now)
            await _answer(conn, loaded, booking, row)
            if booking.trainees:
                roster = RosterUpdate(trainees=[TraineeIn(full_name=name) for name in booking.trainees])
                await attendance.save_roster_in(conn, me, row["id"], roster, now=loaded.now)
            continue
        if booking.group in groups:
            continue
        groups.add(booking.group)
        members = [b for b in loaded.story.bookings if b.group == booking.group]
        series_key = loaded.slot(booking.slot).series
        assert series_key is not None
        series_id = loaded.series[series_key]
        _, rows = await bookings.book_series_in(conn, me, series_id, _request(booking), now=loaded.now)
        by_slot = {row["slot_id"]: row for row in rows}
        for member in members:
            await _answer(conn, loaded, member, by_slot[loaded.slots[member.slot]])


async def _answer(
    conn: asyncpg.Connection, loaded: _Loaded, booking: Booking, row: Mapping[str, Any]
) -> None:
    """Take the booking from the status the service gave it to the story's, as its lab or its
    booker would; a booking on a slot the story cancels is cancelled with the slot."""
    slot = loaded.slot(booking.slot)
    wanted = booking.status
    if row["status"] == wanted or (wanted == "cancelled" and slot.status == "cancelled"):
        return
    if row["status"] != "pending" or wanted not in ("confirmed", "declined", "cancelled"):
        raise RuntimeError(f"demo booking {booking.key} came out {row['status']}, not {wanted}")
    action = {"confirmed": "confirm", "declined": "decline", "cancelled": "cancel"}[wanted]
    who = booking.booked_by if action == "cancel" and booking.booked_by else slot.created_by
    await bookings.change_status_in(conn, loaded.actor(who), row["id"], action, booking.status_message)


async def _insert_visit_requests(conn: asyncpg.Connection, loaded: _Loaded) -> None:
    story = loaded.story
    for request in story.visit_requests:
        requester = story.person(request.requested_by) if request.requested_by else None
        await repository.insert_visit_request(
            conn,
            (
                request.id,
                loaded.labs[request.lab],
                loaded.organizations[request.organization],
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
        if request.proposal is not None:
            starts_at, ends_at, message = request.proposal
            await visits.propose_visit_time_in(
                conn,
                loaded.actor("manager"),
                request.id,
                VisitProposalCreate(starts_at=starts_at, ends_at=ends_at, message=message),
                now=loaded.now,
            )


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
        f"{len(story.visit_requests)} visit requests (one answered by the lab with another time)",
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
