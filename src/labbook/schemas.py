"""Shared msgspec building blocks: the base Struct and reusable constrained types."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal, overload

import msgspec
from msgspec import Meta

from labbook.errors import ValidationFailed


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every request body: unknown fields are rejected rather than ignored."""


class Out(msgspec.Struct, kw_only=True):
    """Every reply body."""


Language = Literal["kk", "ru", "en"]
LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")

Slug = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length=80,
        description="lowercase letters, digits and single hyphens",
        examples=["welding-institute"],
    ),
]
# At least one character that is not white space: a name of only spaces names nobody.
ShortText = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")]
LongText = Annotated[str, Meta(max_length=10_000)]
# Names and descriptions in any of labbook's languages: {"kk": "...", "ru": "...", "en": "..."}.
LocalizedName = Annotated[
    dict[Language, Annotated[str, Meta(min_length=1, max_length=300)]],
    Meta(min_length=1, examples=[{"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding"}]),
]
LocalizedText = dict[Language, Annotated[str, Meta(max_length=10_000)]]
PositiveInt = Annotated[int, Meta(gt=0, le=1_000_000)]
# A naive datetime is refused: "10:00" means nothing without a zone or offset.
AwareDatetime = Annotated[datetime, Meta(tz=True)]
Email = Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9 ()\-]{5,32}$")]


_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An unencoded "+05:00" in a query string arrives as " 05:00"; a space can mean nothing else there.
_SPACED_OFFSET = re.compile(r"(T[\d:.]+) (\d{2}:?\d{2})$")


@overload
def date_or_instant(name: str, text: str) -> date | datetime: ...
@overload
def date_or_instant(name: str, text: None) -> None: ...
@overload
def date_or_instant(name: str, text: str | None) -> date | datetime | None: ...
def date_or_instant(name: str, text: str | None) -> date | datetime | None:
    """A query bound given as a local date (``2026-09-01``) or an instant with an offset, or a 422.

    A bare date means midnight in the lab's time zone; the caller knows which lab that is.
    """
    if text is None:
        return None
    try:
        if _BARE_DATE.match(text):
            return date.fromisoformat(text)
        instant = msgspec.convert(_SPACED_OFFSET.sub(r"\1+\2", text), datetime)
    except (ValueError, msgspec.ValidationError):
        raise ValidationFailed.field(
            name, "give a date (2026-09-01) or a time with an offset (2026-09-01T10:00:00+05:00)"
        ) from None
    if instant.tzinfo is None:
        raise ValidationFailed.field(name, "give a time zone offset, e.g. 2026-09-01T00:00:00+05:00")
    return instant


def to_builtins(value: object) -> object:
    """Plain JSON-able values, e.g. for audit before/after snapshots."""
    return msgspec.to_builtins(value)
