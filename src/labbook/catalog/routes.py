"""HTTP routes for catalog."""

from __future__ import annotations

route_handlers: list[object] = []
