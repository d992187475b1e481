"""Idempotency-Key for POST requests: a retry gets the first answer and creates nothing new.

The first request with a key runs normally; its answer (status, headers, body) is remembered for
24 hours under the key and the caller's access token (its id, so ``bearer x`` and ``Bearer  x`` are
one caller). A retry with the same key and the same request gets that answer again, marked
``Idempotent-Replayed: true``; the same key with a different request is refused with 422. A replay
first passes the same guard as the request did: a revoked token gets 401, a person who has lost the
route's role gets 403. Concurrent duplicates queue on a PostgreSQL advisory lock, so even simultaneous
retries run the request once, across every worker. Without a bearer token (a page signed in by
cookie, an anonymous caller) nothing tells callers apart, so the key is ignored.

Remembered headers and bodies are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
token's secret, which the database never holds: a reply that carries a secret shown once (a new access
token) cannot be read from the table without the token, and a changed row is refused, not replayed.
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
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, HTTPReceiveMessage, HTTPScope, Message, Receive, Scope, Send

from labbook.accounts.security import authorize, bearer_token, principal_for_token
from labbook.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    LabbookError,
    PayloadTooLarge,
    Unauthorized,
)
from labbook.idempotency import repository

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Answers a retry should not get again: a server failure or a rate limit may pass on the next try.
_NOT_REMEMBERED = frozenset({429})
# The first byte of a sealed reply names its scheme, so that a later one can tell its rows apart.
_SEALED_V1 = b"\x01"
_NONCE_BYTES = 12
_HKDF_INFO = b"labbook idempotent reply v1"
_Headers = list[tuple[str, str]]
_REPLY = msgspec.msgpack.Decoder(tuple[_Headers, bytes])


@dataclass(slots=True)
class _Captured:
    status: int | None = None
    headers: _Headers = field(default_factory=list)
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


@dataclass(frozen=True, slots=True)
class _Caller:
    """Whose key it is: one access token, however its header was spelled."""

    scope: bytes
    cipher: AESGCM
    # Before keys were scoped by token, rows were filed under a hash of the raw header.
    legacy_scope: bytes


async def _caller(scope: HTTPScope) -> _Caller | None:
    """The access token behind the request, or ``None`` when the key cannot be honoured.

    Without a usable bearer token the request runs as if it had no key: the guard then answers a
    malformed, unknown or revoked token, and a caller without one has nothing to scope a key by.
    """
    try:
        secret = bearer_token(ASGIConnection(scope))
    except Unauthorized:
        return None
    if secret is None:
        return None
    state = scope["app"].state
    principal = await principal_for_token(state.pool, state.principals, secret)
    if principal is None or principal.token_id is None:
        return None
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode())
    return _Caller(
        scope=principal.token_id.bytes,
        cipher=AESGCM(key),
        legacy_scope=hashlib.sha256(_header(scope, b"authorization") or b"").digest(),
    )


def _seal(caller: _Caller, row: bytes, headers: _Headers, body: bytes) -> bytes:
    """Headers and body under the caller's key, bound to their row (token, key, request)."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    plain = msgspec.msgpack.encode((headers, body))
    return _SEALED_V1 + nonce + caller.cipher.encrypt(nonce, plain, row)


def _open(caller: _Caller, row: bytes, sealed: bytes) -> tuple[_Headers, bytes]:
    version, nonce, cipher = sealed[:1], sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        if version != _SEALED_V1:
            raise InvalidTag
        return _REPLY.decode(caller.cipher.decrypt(nonce, cipher, row))
    except (InvalidTag, msgspec.DecodeError):
        raise _unusable() from None


def _unusable() -> Conflict:
    return Conflict(
        "this Idempotency-Key was used before, but its first answer cannot be given again; "
        "nothing was run now: use a new key to make the request anew"
    )


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


async def _replay(stored: asyncpg.Record, caller: _Caller, row: bytes, send: Send) -> None:
    headers, body = _open(caller, row, stored["response_body"])
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": stored["status_code"], "headers": [*raw, REPLAYED]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


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


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            raw_key = _header(scope, HEADER)
            if raw_key is not None:
                http = cast("HTTPScope", scope)
                try:
                    key = _key(raw_key)
                    caller = await _caller(http)
                    if caller is not None:
                        await _run_once(app, http, receive, send, key, caller)
                        return
                except (
                    BadRequest,
                    Conflict,
                    Forbidden,
                    IdempotencyKeyReused,
                    PayloadTooLarge,
                    Unauthorized,
                ) as exc:
                    await _send_problem(send, exc)
                    return
        await app(scope, receive, send)

    return middleware


async def _run_once(
    app: ASGIApp, scope: HTTPScope, receive: Receive, send: Send, key: str, caller: _Caller
) -> None:
    """Run the request unless an answer for this key is remembered; remember the answer."""
    state = scope["app"].state
    pool = state.pool
    body = await _read_body(receive, state.settings.max_body_bytes, _header(scope, b"content-length"))
    if body is None:
        return
    request_hash = _digest(
        scope["method"].encode(), scope["raw_path"] or scope["path"].encode(), scope["query_string"], body
    )
    row = _digest(caller.scope, key.encode("latin-1"), request_hash)
    lock_id = int.from_bytes(_digest(caller.scope, key.encode("latin-1"))[:8], "big", signed=True)

    async with _slots(state, pool), pool.acquire() as conn, conn.transaction():
        await repository.lock(conn, lock_id)
        stored = await repository.find(conn, caller.scope, key, RETENTION)
        if stored is not None:
            # A replay skips the app and its guard; without this, a revoked token or a person who
            # has lost the route's role could still fetch what the request once gave, such as a
            # new token's secret.
            await authorize(ASGIConnection(scope), scope["route_handler"])
            if stored["request_hash"] != request_hash:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for a different request; "
                    "use a new key for a new request"
                )
            await _replay(stored, caller, row, send)
            return
        if await repository.find(conn, caller.legacy_scope, key, RETENTION) is not None:
            # Its reply was sealed without authentication under the old scheme and is not trusted;
            # running the request again could do twice what the first request did.
            raise _unusable()

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
                    (bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
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
                scope=caller.scope,
                key=key,
                method=scope["method"],
                path=scope["path"],
                request_hash=request_hash,
                status_code=captured.status,
                body=_seal(caller, row, captured.headers, b"".join(captured.chunks)),
            )
