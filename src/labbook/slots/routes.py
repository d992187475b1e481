"""HTTP routes for slots."""

from __future__ import annotations

route_handlers: list[object] = []
