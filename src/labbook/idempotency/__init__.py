"""Idempotency-Key support for POST requests (see DESIGN.md §4.5)."""

from labbook.idempotency.middleware import idempotency_middleware

__all__ = ["idempotency_middleware"]
