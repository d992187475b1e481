"""Structured logs with a request id that follows each request into every log line."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_encode = msgspec.json.Encoder().encode
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("labbook.access")
# A private feed URL carries its bearer secret; logs keep only enough of it to tell feeds apart.
_PRIVATE_FEED_TOKEN = re.compile(r"^(/+feeds/+private/+)([^/]+)")
_TOKEN_SHOWN = 8


def redact_path(path: str) -> str:
    """``path`` fit for a log line: a private feed's token is cut to its first characters and ``…``."""
    return _PRIVATE_FEED_TOKEN.sub(lambda m: f"{m[1]}{m[2][:_TOKEN_SHOWN]}…", path, count=1)


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Every request writes one (the access line), so it is made cheaply:
    the timestamp is formatted once a second and msgspec encodes the line."""

    _second: tuple[int, str] = (-1, "")

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"))
        return self._second[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def request_id_middleware(
    app: ASGIApp, add_headers: Callable[[Scope, int, list[tuple[bytes, bytes]]], None]
) -> ASGIApp:
    """Take ``X-Request-ID`` from the caller (if sane) or make one; echo it and log the request.

    ``add_headers`` completes every reply's headers on the way out, in the same wrapper of ``send``.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                add_headers(scope, status, headers)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                path = redact_path(scope["path"])
                log.info(
                    "%s %s %s",
                    scope.get("method"),
                    path,
                    status,
                    extra={
                        "fields": {
                            "method": scope.get("method"),
                            "path": path,
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
            request_id_var.reset(token)

    return middleware
