"""Headers every reply carries, set in one place for API, feeds, pages, static files and the explorer.

The outermost middleware sees every reply the app sends, including the router's own 404 and 405,
which never pass through route middleware.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from litestar.routes import HTTPRoute
from litestar.types import Scope

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


def add_reply_headers(scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    """Add (or put right) the headers every reply carries, in ``headers``, a reply's raw header list.

    Called by the outermost middleware (``observability.request_id_middleware``) on every reply's
    start, the router's own 404 and 405 included, rather than as a Litestar ``before_send`` hook,
    which cost a coroutine and a wrapper of its own on every reply.
    """
    path: str = scope["path"]
    has_date = has_nosniff = has_allow = has_authenticate = False
    for raw, _ in headers:
        name = bytes(raw).lower()
        if name == b"date":
            has_date = True
        elif name == b"x-content-type-options":
            has_nosniff = True
        elif name == b"allow":
            has_allow = True
        elif name == b"www-authenticate":
            has_authenticate = True
    if not has_date:
        # RFC 9110 §6.6.1; the server's own Date header is switched off so that a feed's
        # Last-Modified and its Date come from one clock reading (see feeds.routes).
        headers.append((b"date", http_date().encode("latin-1")))
    if not has_nosniff:
        headers.append(_NOSNIFF)
    if has_allow and scope.get("method") == "OPTIONS" and (methods := allowed_methods(scope)):
        headers[:] = [(n, v) for n, v in headers if bytes(n).lower() != b"allow"]
        headers.append((b"allow", methods.encode("latin-1")))
    if path.startswith(API):
        if is_personal(path):
            headers[:] = [(n, v) for n, v in headers if bytes(n).lower() != b"cache-control"]
            headers.append(_NO_STORE)
        if status == 401 and not has_authenticate:
            headers.append(_BEARER)
    if path == EXPLORER or path.startswith(EXPLORER + "/"):
        headers[:] = [(n, v) for n, v in headers if bytes(n).lower() != b"content-security-policy"]
        headers.append((b"content-security-policy", EXPLORER_POLICY.encode("latin-1")))


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_BEARER = (b"www-authenticate", b"Bearer")
