"""What each feed says about a slot, a series or a booking: rows in, ``EventSpec``s out, no I/O.

Views: ``lab`` and ``equipment`` are public and never name who booked (a private slot is only an
anonymous "Reserved" busy block); ``organization`` lists one organization's bookings; ``lab_manager``
shows slots with their visitors; ``person`` shows an instructor's or guide's own sessions.

A series is one ``RRULE`` master built from the series row. Each occurrence is compared with what the
master would say for it: cancelled (or outside this view) becomes an ``EXDATE``; anything else that
differs — times, title, capacity, seats left, visitors — becomes a ``RECURRENCE-ID`` override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from labbook.feeds.ics import EventSpec, Recurrence
from labbook.timezones import zone

PUBLIC_VIEWS = ("lab", "equipment")
SEATED_KINDS = ("tour", "training", "event")
UID_DOMAIN = "labbook"
# A feed asked for in one language (``?lang=``) shows text missing in it in Russian, the language read
# most widely, then Kazakh, then English: the same order as the pages.
FALLBACK = ("ru", "kk", "en")

LABELS: dict[str, dict[str, str]] = {
    "reserved": {"kk": "Брондалған", "ru": "Забронировано", "en": "Reserved"},
    "seats_left": {"kk": "Бос орын", "ru": "Свободных мест", "en": "Seats left"},
    "people": {"kk": "адам", "ru": "чел.", "en": "people"},
    "status": {"kk": "Күйі", "ru": "Статус", "en": "Status"},
    "visitors": {"kk": "Келушілер", "ru": "Посетители", "en": "Visitors"},
    "units": {"kk": "Станциялар", "ru": "Станции", "en": "Stations"},
    "pending": {"kk": "қарастырылуда", "ru": "на рассмотрении", "en": "pending"},
    "confirmed": {"kk": "расталды", "ru": "подтверждено", "en": "confirmed"},
    "waitlisted": {"kk": "күту тізімінде", "ru": "в листе ожидания", "en": "waitlisted"},
    "declined": {"kk": "қабылданбады", "ru": "отклонено", "en": "declined"},
    "cancelled": {"kk": "тоқтатылды", "ru": "отменено", "en": "cancelled"},
    "feed_bookings": {"kk": "брондаулар", "ru": "бронирования", "en": "bookings"},
    "feed_labs": {"kk": "зертханалар", "ru": "лаборатории", "en": "labs"},
    "feed_sessions": {"kk": "сабақтар", "ru": "занятия", "en": "sessions"},
}

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ViewContext:
    """What a view adds around the rows: which view, the organizer address, the equipment's name.

    An equipment feed's events show that name, so they carry the equipment row's version too.
    ``language`` is the subscriber's (``?lang=``): every text in it, with the ``FALLBACK`` order; without
    it, each text is in the lab's languages, as feeds have always been.

    Hashable, because it is part of every cache key.
    """

    view: str
    organizer_address: str
    equipment_name: tuple[tuple[str, str], ...] = ()
    equipment_updated_at: datetime | None = None
    equipment_revision: int = 0
    language: str | None = None


@dataclass(frozen=True, slots=True)
class _Content:
    summary: str
    description: str
    location: str
    organizer_name: str
    categories: tuple[str, ...]
    status: str
    is_busy: bool


def label(key: str, language: str) -> str:
    return LABELS[key].get(language) or LABELS[key]["en"]


def reading_order(language: str) -> tuple[str, ...]:
    """``language`` first, then the fallback languages."""
    return (language, *(other for other in FALLBACK if other != language))


def localized(value: Mapping[str, str] | None, languages: Sequence[str]) -> str:
    """The text in the first of ``languages`` that has it, else in any language."""
    if not value:
        return ""
    for language in languages:
        if value.get(language):
            return value[language]
    return next(iter(value.values()), "")


def lab_location(lab: Row, languages: Sequence[str] | None = None) -> str:
    name = localized(lab["name"], languages or lab["languages"])
    parts = [name, lab["building"], lab["room"], lab["address"]]
    return ", ".join(p for p in parts if p)


def _booking_line(booking: Row, view: str, language: str, order: Sequence[str]) -> str:
    name = localized(booking["organization_name"], order)
    parts = [name, f"{booking['headcount']} {label('people', language)}", label(booking["status"], language)]
    if view == "lab_manager":
        parts += [booking["contact_name"], booking["contact_email"], booking["contact_phone"]]
    line = " · ".join(p for p in parts if p)
    if view == "lab_manager" and booking["notes"]:
        line += f" — {booking['notes']}"
    return line


def _content(
    ctx: ViewContext, item: Row, lab: Row, units: Sequence[int], bookings: Sequence[Row]
) -> _Content:
    chosen = ctx.language
    languages: Sequence[str] = reading_order(chosen) if chosen else lab["languages"]
    # the language of labels, and the languages the description speaks in, one block each
    language = chosen or languages[0]
    described: Sequence[str] = (chosen,) if chosen else languages
    cancelled = item["status"] == "cancelled"
    kind = item["kind"]
    anonymous = ctx.view in PUBLIC_VIEWS and item["visibility"] == "private"
    blocks: list[str] = []
    if anonymous:
        summary = label("reserved", language)
        categories: tuple[str, ...] = ("reserved",)
    else:
        summary = localized(item["title"], languages)
        categories = (kind,)
        for one in described:
            if chosen:
                texts = (summary, localized(item["description"], languages))
            else:
                texts = (item["title"].get(one), item["description"].get(one))
            lines = [text for text in texts if text]
            if kind in SEATED_KINDS:
                left = item["capacity"] - item["seats_taken"]
                lines.append(f"{label('seats_left', one)}: {left} / {item['capacity']}")
            if lines:
                blocks.append("\n".join(lines))
    if ctx.view == "equipment":
        equipment = localized(dict(ctx.equipment_name), languages)
        summary = f"{summary} — {equipment} #{', #'.join(str(u) for u in units)}"
    if ctx.view in ("lab_manager", "person") and kind in SEATED_KINDS:
        summary = f"{summary} ({item['seats_taken']}/{item['capacity']})"
    if bookings and ctx.view in ("lab_manager", "person"):
        order = languages if chosen else [language]
        lines = [f"{label('visitors', language)}:"] + [
            f"- {_booking_line(b, ctx.view, language, order)}" for b in bookings
        ]
        blocks.append("\n".join(lines))
    return _Content(
        summary=summary,
        description="\n\n".join(blocks),
        location=lab_location(lab, languages if chosen else None),
        organizer_name=localized(lab["name"], languages),
        categories=categories,
        status="CANCELLED" if cancelled else "CONFIRMED",
        is_busy=not cancelled,
    )


def _spec(
    content: _Content,
    ctx: ViewContext,
    lab: Row,
    *,
    uid: str,
    sequence: int,
    stamp: datetime,
    tzid: str,
    starts_at: datetime,
    ends_at: datetime,
    rrule: Recurrence | None = None,
    exdates: tuple[datetime, ...] = (),
    recurrence_id: datetime | None = None,
) -> EventSpec:
    """The event, versioned also by the lab (and equipment) whose name and address it shows.

    ``sequence`` and ``stamp`` are the row's; the lab's and equipment's ``revision`` count only
    upwards, each time what an event shows of them changes, so their sum with the row's sequence does too.
    """
    stamps = [stamp, lab["updated_at"]]
    if ctx.equipment_updated_at is not None:
        stamps.append(ctx.equipment_updated_at)
    return EventSpec(
        uid=uid,
        sequence=sequence + lab["revision"] + ctx.equipment_revision,
        stamp=max(stamps),
        tzid=tzid,
        starts_at=starts_at,
        ends_at=ends_at,
        summary=content.summary,
        status=content.status,
        description=content.description,
        location=content.location,
        organizer_name=content.organizer_name,
        organizer_address=ctx.organizer_address,
        categories=content.categories,
        is_busy=content.is_busy,
        rrule=rrule,
        exdates=exdates,
        recurrence_id=recurrence_id,
    )


def series_start(series: Row) -> datetime:
    """The first occurrence: the series' wall-clock start in its own time zone."""
    local_start: datetime = series["local_start"]
    return local_start.replace(tzinfo=zone(series["timezone"]))


def _recurrence(series: Row) -> Recurrence:
    return Recurrence(
        freq=series["freq"],
        interval=series["interval"],
        weekdays=tuple(series["weekdays"]) if series["freq"] == "weekly" else (),
        count=series["count"],
        until=series["until"],
    )


def _series_events(
    ctx: ViewContext,
    series: Row,
    occurrences: list[Row],
    lab: Row,
    bookings: Mapping[UUID, Sequence[Row]],
) -> list[EventSpec]:
    uid = f"series-{series['id']}@{UID_DOMAIN}"
    tzid = series["timezone"]
    duration: timedelta = series["duration"]
    series_cancelled = series["status"] == "cancelled"
    shown = [
        o for o in occurrences if o["in_scope"] and not (o["status"] == "cancelled" and not series_cancelled)
    ]
    master_units = shown[0]["units"] if shown else ()
    master_item = {**dict(series), "seats_taken": 0}
    master = _content(ctx, master_item, lab, master_units, ())
    shown_ids = {o["id"] for o in shown}
    excluded = [o for o in occurrences if o["id"] not in shown_ids]
    overrides: list[EventSpec] = []
    for occurrence in shown:
        content = _content(ctx, occurrence, lab, occurrence["units"], bookings.get(occurrence["id"], ()))
        start: datetime = occurrence["occurrence_start"]
        moved = occurrence["starts_at"] != start or occurrence["ends_at"] != start + duration
        if moved or content != master:
            overrides.append(
                _spec(
                    content,
                    ctx,
                    lab,
                    uid=uid,
                    sequence=occurrence["sequence"],
                    stamp=occurrence["updated_at"],
                    tzid=tzid,
                    starts_at=occurrence["starts_at"],
                    ends_at=occurrence["ends_at"],
                    recurrence_id=start,
                )
            )
    first = series_start(series)
    # The slots service raises the series' sequence and updated_at with every change to one of its
    # occurrences (a new EXDATE included), so the series row alone versions the master. Counting
    # EXDATEs here instead would lower SEQUENCE when a split hands cancelled occurrences on.
    master_spec = _spec(
        master,
        ctx,
        lab,
        uid=uid,
        sequence=series["sequence"],
        stamp=series["updated_at"],
        tzid=tzid,
        starts_at=first,
        ends_at=first + duration,
        rrule=_recurrence(series),
        exdates=tuple(sorted(o["occurrence_start"] for o in excluded)),
    )
    return [master_spec, *overrides]


def slot_events(
    ctx: ViewContext,
    slots: Iterable[Row],
    series_by_id: Mapping[UUID, Row],
    labs_by_id: Mapping[int, Row],
    bookings: Mapping[UUID, Sequence[Row]],
) -> list[EventSpec]:
    """Events for a slot view, ordered by start so the output is stable."""
    events: list[EventSpec] = []
    by_series: dict[UUID, list[Row]] = {}
    for slot in slots:
        if slot["series_id"] is not None:
            by_series.setdefault(slot["series_id"], []).append(slot)
            continue
        lab = labs_by_id[slot["lab_id"]]
        content = _content(ctx, slot, lab, slot["units"], bookings.get(slot["id"], ()))
        events.append(
            _spec(
                content,
                ctx,
                lab,
                uid=f"slot-{slot['id']}@{UID_DOMAIN}",
                sequence=slot["sequence"],
                stamp=slot["updated_at"],
                tzid=lab["timezone"],
                starts_at=slot["starts_at"],
                ends_at=slot["ends_at"],
            )
        )
    for series_id, occurrences in by_series.items():
        series = series_by_id[series_id]
        occurrences.sort(key=lambda o: o["occurrence_start"])
        events.extend(_series_events(ctx, series, occurrences, labs_by_id[series["lab_id"]], bookings))
    events.sort(key=order_key)
    return events


def order_key(event: EventSpec) -> tuple[datetime, str]:
    """Events sort by (original) start, then UID; a series' master precedes its overrides."""
    return (event.recurrence_id or event.starts_at, event.uid)


def slot_version(slot: Row, bookings: Sequence[Row]) -> tuple[Any, ...]:
    """Everything about a slot that its events depend on, by data version rather than by content.

    Every change to a slot or booking raises its ``sequence`` and sets ``updated_at``; seats and
    status are named too, so the key holds even for a writer that moved only those.
    """
    return (
        slot["id"],
        slot["sequence"],
        slot["updated_at"],
        slot["seats_taken"],
        slot["status"],
        slot["in_scope"],
        tuple(slot["units"]),
        tuple([(b["id"], b["sequence"], b["updated_at"], b["organization_updated_at"]) for b in bookings])
        if bookings
        else (),
    )


_BOOKING_STATUS = {
    "pending": "TENTATIVE",
    "waitlisted": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "declined": "CANCELLED",
    "cancelled": "CANCELLED",
}


def booking_events(
    ctx: ViewContext, bookings: Iterable[Row], labs_by_id: Mapping[int, Row]
) -> list[EventSpec]:
    """An organization's bookings, one event each, in the booking's language first."""
    events: list[EventSpec] = []
    for booking in bookings:
        lab = labs_by_id[booking["lab_id"]]
        if ctx.language:
            languages: Sequence[str] = reading_order(ctx.language)
        else:
            languages = [
                booking["language"],
                *(lang for lang in lab["languages"] if lang != booking["language"]),
            ]
        language = languages[0]
        status = "cancelled" if booking["slot_status"] == "cancelled" else booking["status"]
        lines = [
            f"{label('status', language)}: {label(status, language)}",
            f"{booking['headcount']} {label('people', language)}",
            lab_location(lab, languages),
        ]
        if booking["contact_name"]:
            lines.append(booking["contact_name"])
        details = localized(booking["description"], languages)
        content = _Content(
            summary=localized(booking["title"], languages),
            description="\n".join(lines) + (f"\n\n{details}" if details else ""),
            location=lab_location(lab, languages),
            organizer_name=localized(lab["name"], languages),
            categories=(booking["kind"],),
            status=_BOOKING_STATUS[status],
            is_busy=status in ("pending", "confirmed", "waitlisted"),
        )
        events.append(
            _spec(
                content,
                ctx,
                lab,
                uid=f"booking-{booking['id']}@{UID_DOMAIN}",
                # both rows only ever count up, so their sum does too, and a moved slot raises it
                sequence=booking["sequence"] + booking["slot_sequence"],
                stamp=max(booking["updated_at"], booking["slot_updated_at"]),
                tzid=lab["timezone"],
                starts_at=booking["starts_at"],
                ends_at=booking["ends_at"],
            )
        )
    events.sort(key=order_key)
    return events
