"""One page of a list, and the bounds every list's ``limit`` and ``offset`` share."""

from __future__ import annotations

from typing import Annotated, Final, Generic, TypeVar

from litestar.params import QueryParameter

from labbook.schemas import Out

T = TypeVar("T")

# Far beyond any real list, and inside what the driver and PostgreSQL accept: larger is a 422 naming it.
MAX_OFFSET: Final = 2**31 - 1
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size (at most 200)")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="items to skip")]


class Page(Out, Generic[T]):
    """One page of a list, with the total count across all pages."""

    items: list[T]
    total: int
    limit: int
    offset: int
