"""What time it is, read in one place.

The app holds one ``Clock`` (``create_app(settings, clock=...)``) and hands it to handlers as the
``clock`` dependency; services that decide by the time of day take ``now`` from it rather than
calling ``datetime.now`` themselves, so a test can move time without touching the machine's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time, always time-zone aware."""
    return datetime.now(UTC)
