"""Vocabulary that more than one domain speaks: kinds of slots and of organizations."""

from __future__ import annotations

from typing import Final

# Slots that people attend: they have seats, bookings and a share of the lab's capacity.
PEOPLE_KINDS: Final = frozenset({"tour", "training", "event"})
# Slots that keep people out: nobody books them, and they may lie outside opening hours.
BLOCKING_KINDS: Final = frozenset({"maintenance", "closure"})

# The kind of organization that owns labs.
HOST_KIND: Final = "host_university"
