"""No public feed ever shows who booked, whatever the data holds."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.feeds.conftest import ALMATY, PLACE, parse

SECRETS = (
    "Zanzibarcollege",
    "Qwertyov Visitorname",
    "leak-probe@visitor.example",
    "+7 777 123 45 67",
    "Sekretnotes",
)


def _day(days: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


async def test_public_feeds_never_name_visitors(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    org_name, person, email, phone, notes = SECRETS
    visitor = await make.organization(
        name={"kk": org_name, "ru": org_name, "en": org_name}, slug="zanzibarcollege"
    )
    director = await make.person("director", organization_id=visitor["id"], full_name=person, email=email)
    lab = await make.lab(**PLACE)
    tig = await make.equipment(lab_id=lab["id"])
    units = await make.units(tig["id"], 1, 2)
    private_title = {"en": f"Training for {org_name}", "kk": f"{org_name} үшін"}
    public = await make.slot(lab, _day(2), unit_ids=units)
    private = await make.slot(
        lab,
        _day(3),
        organization_id=visitor["id"],
        title=private_title,
        description={"en": f"{person} {email} {phone}"},
        unit_ids=units,
    )
    _series, occurrences = await make.series(
        lab,
        _day(4).replace(tzinfo=None),
        count=3,
        organization_id=visitor["id"],
        title=private_title,
        instructor_id=director.id,
        unit_ids=await make.units(tig["id"], 3),
    )
    for slot in (public, private, occurrences[1]):
        await make.booking(
            slot, visitor["id"], contact_name=person, contact_email=email, contact_phone=phone, notes=notes
        )
    await pool.execute(
        "update bookings set booked_by = $1 where organization_id = $2", director.id, visitor["id"]
    )

    for url in (f"/feeds/labs/{lab['slug']}.ics", f"/feeds/labs/{lab['slug']}/equipment/{tig['slug']}.ics"):
        reply = await client.get(url)
        assert reply.status_code == 200
        events = parse(reply.content).walk("VEVENT")
        assert len(events) >= 3
        unfolded = reply.content.replace(b"\r\n ", b"").decode()
        for secret in SECRETS:
            assert secret.lower() not in unfolded.lower(), (url, secret)
        assert "Брондалған" in unfolded
