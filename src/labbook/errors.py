"""One error hierarchy for labbook; ``app.py`` maps it to RFC 9457 problem+json in one place.

Every HTTP-facing error carries a stable ``type`` (``/problems/<slug>``) that clients may branch on,
a ``status``, a human ``detail`` and optional structured members (``errors``, ``conflicts``, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar


class LabbookError(Exception):
    """Base of every error labbook raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **members: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.members = members

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"


class ConfigurationError(LabbookError):
    """A setting is missing or malformed; raised at start, never during a request."""

    slug = "configuration"
    title = "Configuration error"


class BadRequest(LabbookError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(LabbookError):
    """Input is well-formed but wrong. ``errors`` is a list of ``{"field": ..., "message": ...}``."""

    status = 422
    slug = "validation"
    title = "Validation failed"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None, **members: Any) -> None:
        super().__init__(detail, errors=errors or [], **members)

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class Unauthorized(LabbookError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class Forbidden(LabbookError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFound(LabbookError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(LabbookError):
    """The request clashes with the current state (duplicate slug, object in use, ...)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class IllegalTransition(Conflict):
    """A state change that the state machine does not allow; ``current_status`` says where it is."""

    slug = "illegal-transition"
    title = "Illegal state transition"


class SlotFull(Conflict):
    slug = "slot-full"
    title = "Not enough seats left"


class UnitTaken(Conflict):
    """Equipment units are held by another slot at an overlapping time; ``conflicts`` lists them."""

    slug = "unit-taken"
    title = "Equipment unit already held"


class LabCapacityExceeded(Conflict):
    slug = "lab-capacity"
    title = "More people than the lab holds"


class TooFewStations(Conflict):
    """A training group larger than its stations hold (units × trainees per unit)."""

    slug = "too-few-stations"
    title = "More trainees than the stations hold"


class LabClosed(Conflict):
    """The time overlaps a closure of the lab."""

    slug = "lab-closed"
    title = "Lab closed at that time"


class OutsideOpeningHours(Conflict):
    slug = "outside-opening-hours"
    title = "Outside the lab's opening hours"


class BookingWindowClosed(Conflict):
    """Too late (deadline, minimum notice) or too early (maximum advance) to book."""

    slug = "booking-window"
    title = "Outside the booking window"


class IdempotencyKeyReused(LabbookError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class PayloadTooLarge(LabbookError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class UnsupportedMediaType(LabbookError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class RateLimited(LabbookError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(LabbookError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL cannot be reached, is restarting, or does not answer in time; worth a retry later."""

    slug = "database-unavailable"
    title = "Database unavailable"
    retry_after: ClassVar[int] = 5
