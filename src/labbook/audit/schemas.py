"""Reply bodies for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from labbook.schemas import Out


class Actor(Out):
    id: UUID
    name: str


class AuditEntry(Out):
    id: int
    occurred_at: datetime
    actor: Actor | None
    """``null`` for changes made from the command line or by labbook itself."""
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    request_id: str | None


class AuditPage(Out):
    items: list[AuditEntry]
    next_before_id: int | None
    """Pass as ``before_id`` to read the next (older) page; ``null`` on the last page."""
