"""Idempotency-Key support for POST requests (see DESIGN.md §4.5)."""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return middleware
