"""HTTP routes for visit requests (served through ``labbook.bookings.routes``)."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
