"""The slots domain's verbs, in one place for routes and pages to import.

Each lives in the room named for what it holds:

- ``rules``: the publishing rules, checked under the lab lock (closures, people capacity, hours);
- ``units``: which equipment units a slot holds;
- ``publishing``: one slot, published, read, edited, cancelled;
- ``series`` and ``series_plan``: recurring series and placing their occurrences;
- ``availability``: a lab's free windows and units.
"""

from __future__ import annotations

from labbook.slots.availability import MAX_AVAILABILITY_DAYS, free_stations, lab_availability
from labbook.slots.publishing import (
    cancel_slot,
    create_slot_in,
    get_slot_for,
    list_slots,
    publish_slot,
    update_slot,
    viewer,
)
from labbook.slots.rules import (
    BLOCKING_KINDS,
    MAX_SLOT_LENGTH,
    PEOPLE_KINDS,
    CapacityBelowSeatsTaken,
    EquipmentOutOfService,
    SeriesConflict,
)
from labbook.slots.series import (
    SeriesChangeResult,
    SeriesCreateResult,
    SeriesView,
    cancel_series,
    create_series,
    get_series_for,
    preview_series,
    update_series,
)

__all__ = [
    "BLOCKING_KINDS",
    "MAX_AVAILABILITY_DAYS",
    "MAX_SLOT_LENGTH",
    "PEOPLE_KINDS",
    "CapacityBelowSeatsTaken",
    "EquipmentOutOfService",
    "SeriesChangeResult",
    "SeriesConflict",
    "SeriesCreateResult",
    "SeriesView",
    "cancel_series",
    "cancel_slot",
    "create_series",
    "create_slot_in",
    "free_stations",
    "get_series_for",
    "get_slot_for",
    "lab_availability",
    "list_slots",
    "preview_series",
    "publish_slot",
    "update_series",
    "update_slot",
    "viewer",
]
