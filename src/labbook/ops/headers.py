"""Headers every reply carries, set in one place for API, feeds, pages, static files and the explorer.

A ``before_send`` hook sees every reply Litestar sends, including the router's own 404 and 405,
which never pass through route middleware.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

API = "/api/v1/"
# Replies under these carry personal data or a secret shown once: no cache may keep a copy.
_PERSONAL = frozenset({"me", "people", "bookings", "visit-requests", "audit"})
EXPLORER = "/schema"
# Swagger UI starts from an inline script holding the schema and styles its widgets inline;
# everything else it loads comes from /schema/assets.
EXPLORER_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def is_personal(path: str) -> bool:
    """Whether an API reply on ``path`` may hold personal data or a secret."""
    if not path.startswith(API):
        return False
    segments = path[len(API) :].strip("/").split("/")
    return segments[0] in _PERSONAL or segments[-1] == "bookings"


def allowed_methods(scope: Scope) -> str | None:
    """The methods of the route that answered, for ``Allow`` on OPTIONS.

    Litestar's own OPTIONS handler lists only the methods of the first handlers registered on a
    path when several controllers share it (litestar-org/litestar#4169); the app's final routes
    know them all.
    """
    template = scope.get("path_template")
    for route in scope["app"].routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return ", ".join(sorted(route.methods))
    return None


_date = (0, "")


def http_date() -> str:
    """``Date`` for now: formatted once a second, not once a reply."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second, usegmt=True))
    return _date[1]


async def set_reply_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    path: str = scope["path"]
    headers = list(message.get("headers", ()))
    present = {bytes(name).lower() for name, _ in headers}
    added: list[tuple[bytes, str]] = []
    if b"date" not in present:
        # RFC 9110 §6.6.1; the server's own Date header is switched off so that a feed's
        # Last-Modified and its Date come from one clock reading (see feeds.routes).
        added.append((b"date", http_date()))
    if b"x-content-type-options" not in present:
        added.append((b"x-content-type-options", "nosniff"))
    if scope.get("method") == "OPTIONS" and b"allow" in present and (methods := allowed_methods(scope)):
        added.append((b"allow", methods))
    if path.startswith(API):
        if is_personal(path):
            added.append((b"cache-control", "no-store"))
        if message["status"] == 401 and b"www-authenticate" not in present:
            added.append((b"www-authenticate", "Bearer"))
    if path == EXPLORER or path.startswith(EXPLORER + "/"):
        added.append((b"content-security-policy", EXPLORER_POLICY))
    if not added:
        return
    replaced = {name for name, _ in added} & present
    if replaced:
        headers = [(n, v) for n, v in headers if bytes(n).lower() not in replaced]
    headers.extend((name, value.encode("latin-1")) for name, value in added)
    message["headers"] = headers
