"""Shared msgspec building blocks: the base Struct and reusable constrained types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

T = TypeVar("T")


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
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
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


class Page(Out, Generic[T]):
    """One page of a list, with the total count across all pages."""

    items: list[T]
    total: int
    limit: int
    offset: int


def to_builtins(value: object) -> object:
    """Plain JSON-able values, e.g. for audit before/after snapshots."""
    return msgspec.to_builtins(value)
