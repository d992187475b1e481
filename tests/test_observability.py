"""Access logs never carry a private feed's secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from labbook.observability import JsonFormatter, redact_path


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_log() -> Iterator[_Lines]:
    logger = logging.getLogger("labbook.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_private_feed_secret_stays_out_of_the_access_log(client, make, access_log: _Lines) -> None:
    director = await make.person("director")
    created = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=director.headers
    )
    assert created.status_code == 201, created.text
    secret = created.json()["token"]

    feed = await client.get(f"/feeds/private/{secret}.ics")

    assert feed.status_code == 200
    logged = [line for line in access_log.lines if "/feeds/private/" in line]
    assert len(logged) == 1
    assert secret not in logged[0]
    assert secret[4:] not in logged[0]
    assert f"/feeds/private/{secret[:8]}…" in logged[0]


def test_redact_path_cuts_only_the_private_feed_token() -> None:
    assert redact_path("/feeds/private/lbf_abcdefghijklmnop.ics") == "/feeds/private/lbf_abcd…"
    assert redact_path("/feeds/private/lbf_abcdefghijklmnop.ics/x") == "/feeds/private/lbf_abcd…/x"
    assert redact_path("//feeds//private/lbf_abcdefghijklmnop.ics") == "//feeds//private/lbf_abcd…"
    assert redact_path("/feeds/labs/welding.ics") == "/feeds/labs/welding.ics"
    assert redact_path("/api/v1/slots") == "/api/v1/slots"
