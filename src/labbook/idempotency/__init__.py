"""Idempotency-Key support for POST requests (docs/architecture.md, rule 5)."""

from labbook.idempotency.middleware import idempotency_middleware

__all__ = ["idempotency_middleware"]
