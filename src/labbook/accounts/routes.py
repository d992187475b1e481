"""HTTP routes for accounts."""

from __future__ import annotations

route_handlers: list[object] = []
