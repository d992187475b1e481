"""Webhook payloads and their signatures (Standard Webhooks), free of I/O.

Each delivery carries ``webhook-id`` (the same on every retry and replay, so a receiver can drop
repeats), ``webhook-timestamp`` and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of
``id.timestamp.body`` under the endpoint's secret, computed by the ``standardwebhooks`` library.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import get_args
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from labbook.notifications.schemas import Event

# What an endpoint may subscribe to: the API's ``Event`` values.
EVENTS: tuple[str, ...] = get_args(Event)
# Plain http only to this machine (a receiver under development); everything else must be https.
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_for(status: str, previous_status: str | None) -> str | None:
    """The event a booking change is, if any endpoint can subscribe to it."""
    if previous_status is None:
        return "booking.created"
    return {
        "confirmed": "booking.confirmed",
        "declined": "booking.declined",
        "cancelled": "booking.cancelled",
    }.get(status)


def acceptable_url(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def headers(secret: str, webhook_id: str, at: datetime, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body.decode()),
        "content-type": "application/json",
    }
