"""HTTP routes for audit."""

from __future__ import annotations

route_handlers: list[object] = []
