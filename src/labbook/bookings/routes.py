"""HTTP routes for bookings."""

from __future__ import annotations

route_handlers: list[object] = []
