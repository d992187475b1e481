"""Rows the audit log's queries return."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from labbook.core.rows import Row


class EventRow(Row):
    id: int
    occurred_at: datetime
    actor_id: UUID | None
    actor_name: str | None
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    request_id: str | None
