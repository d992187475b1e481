"""Idempotency-Key for POST requests: a retry gets the first answer and creates nothing new.

The first request with a key runs normally; its answer (status, headers, body) is remembered for
24 hours under the key and the caller (a hash of the ``Authorization`` header). A retry with the same
key and the same request gets that answer again, marked ``Idempotent-Replayed: true``; the same key
with a different request is refused with 422. A replay goes only to a bearer token that still works
(401 otherwise, as the guard answers). Concurrent duplicates queue on a PostgreSQL advisory
lock, so even simultaneous retries run the request once, across every worker.

Remembered bodies are encrypted with a key derived from the caller's ``Authorization`` header, which
the database never sees: a reply that carries a secret shown once (a new access token) does not sit in
the table in plain text.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import asyncpg
import msgspec
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, HTTPReceiveMessage, HTTPScope, Message, Receive, Scope, Send

from labbook.accounts import repository as accounts
from labbook.accounts.security import bearer_token, hash_secret
from labbook.errors import BadRequest, IdempotencyKeyReused, LabbookError, PayloadTooLarge, Unauthorized
from labbook.idempotency import repository

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Answers a retry should not get again: a server failure or a rate limit may pass on the next try.
_NOT_REMEMBERED = frozenset({429})
_NONCE_BYTES = 16


@dataclass(slots=True)
class _Captured:
    status: int | None = None
    headers: list[list[str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False

    @property
    def rememberable(self) -> bool:
        return (
            self.complete
            and self.status is not None
            and self.status < 500
            and self.status not in _NOT_REMEMBERED
        )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _key(raw: bytes) -> str:
    key = raw.decode("latin-1")
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            errors=[{"field": "Idempotency-Key", "message": "1-255 printable ASCII characters"}],
        )
    return key


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes | None:
    """The whole request body, or ``None`` if the client went away while sending it."""
    too_large = PayloadTooLarge(f"the request body is larger than {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += cast("bytes", message.get("body", b""))
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            return bytes(body)


def _digest(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _keystream(secret: bytes, nonce: bytes, length: int) -> bytes:
    return hashlib.shake_256(_digest(b"labbook idempotent reply", secret, nonce)).digest(length)


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def _seal(secret: bytes, body: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + _xor(body, _keystream(secret, nonce, len(body)))


def _open(secret: bytes, sealed: bytes) -> bytes:
    nonce, cipher = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return _xor(cipher, _keystream(secret, nonce, len(cipher)))


def _slots(state: Any, pool: Any) -> asyncio.Semaphore:
    """At most half the pool may wait on or hold an idempotency lock.

    The lock is held on its own pooled connection while the request runs and takes further
    connections; without this bound, enough concurrent keyed requests would hold every connection
    and wait forever for one more.
    """
    slots: asyncio.Semaphore | None = state.get("idempotency_slots")
    if slots is None:
        slots = asyncio.Semaphore(max(1, pool.get_max_size() // 2))
        state["idempotency_slots"] = slots
    return slots


async def _replay(stored: asyncpg.Record, secret: bytes, send: Send) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in stored["response_headers"]
    ]
    await send(
        {"type": "http.response.start", "status": stored["status_code"], "headers": [*headers, REPLAYED]}
    )
    await send(
        {"type": "http.response.body", "body": _open(secret, stored["response_body"]), "more_body": False}
    )


async def _send_problem(send: Send, exc: LabbookError) -> None:
    """The same problem+json the app's error mapping writes, sent from here so every layer sees it."""
    body = msgspec.json.encode(
        {"status": exc.status, "type": exc.type, "title": exc.title, "detail": exc.detail, **exc.members}
    )
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _still_authenticated(conn: asyncpg.Connection, scope: HTTPScope) -> None:
    """Refuse a replay whose bearer token no longer names an active person, as the guard would.

    A replay skips the app and its guard; without this, a revoked token or a deactivated person
    could still fetch what the token was once given, such as a new token's secret.
    """
    token = bearer_token(ASGIConnection(scope))
    if token is not None and await accounts.get_principal_by_token(conn, hash_secret(token)) is None:
        raise Unauthorized("the token is unknown, expired or revoked")


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            raw_key = _header(scope, HEADER)
            if raw_key is not None:
                try:
                    await _run_once(app, cast("HTTPScope", scope), receive, send, _key(raw_key))
                except (BadRequest, IdempotencyKeyReused, PayloadTooLarge, Unauthorized) as exc:
                    await _send_problem(send, exc)
                return
        await app(scope, receive, send)

    return middleware


async def _run_once(app: ASGIApp, scope: HTTPScope, receive: Receive, send: Send, key: str) -> None:
    """Run the request unless an answer for this key is remembered; remember the answer."""
    state = scope["app"].state
    pool = state.pool
    body = await _read_body(receive, state.settings.max_body_bytes, _header(scope, b"content-length"))
    if body is None:
        return
    secret = _header(scope, b"authorization") or b"anonymous"
    caller = hashlib.sha256(secret).digest()
    request_hash = _digest(
        scope["method"].encode(), scope["raw_path"] or scope["path"].encode(), scope["query_string"], body
    )
    lock_id = int.from_bytes(_digest(caller, key.encode("latin-1"))[:8], "big", signed=True)

    async with _slots(state, pool), pool.acquire() as conn, conn.transaction():
        await repository.lock(conn, lock_id)
        stored = await repository.find(conn, caller, key, RETENTION)
        if stored is not None:
            await _still_authenticated(conn, scope)
            if stored["request_hash"] != request_hash:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for a different request; "
                    "use a new key for a new request"
                )
            await _replay(stored, secret, send)
            return

        captured = _Captured()
        delivered = False

        async def receive_body() -> HTTPReceiveMessage:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # type: ignore[return-value]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                captured.headers = [
                    [bytes(n).decode("latin-1"), bytes(v).decode("latin-1")]
                    for n, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                captured.chunks.append(message.get("body", b""))
                captured.complete = not message.get("more_body", False)
            await send(message)

        await app(scope, receive_body, capture)
        if captured.rememberable:
            assert captured.status is not None
            await repository.delete_expired(conn, RETENTION)
            await repository.store(
                conn,
                scope=caller,
                key=key,
                method=scope["method"],
                path=scope["path"],
                request_hash=request_hash,
                status_code=captured.status,
                headers=captured.headers,
                body=_seal(secret, b"".join(captured.chunks)),
            )
