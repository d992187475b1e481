"""HTTP routes for feeds."""

from __future__ import annotations

route_handlers: list[object] = []
