"""The structural checker rejects each kind of damage and accepts well-formed feeds."""

from __future__ import annotations

import pytest

from tests.feeds.icscheck import problems

GOOD = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    "BEGIN:VTIMEZONE\r\nTZID:Asia/Almaty\r\nBEGIN:STANDARD\r\nDTSTART:20240301T000000\r\n"
    "TZOFFSETFROM:+0600\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\nUID:a@labbook\r\nDTSTAMP:20240101T000000Z\r\n"
    "DTSTART;TZID=Asia/Almaty:20240305T100000\r\nDTEND;TZID=Asia/Almaty:20240305T120000\r\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20240402T050000Z\r\n"
    "SUMMARY:Аргонмен дәнекерлеу сабағы\r\n"
    " : жалғасы\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_accepts_a_well_formed_feed() -> None:
    assert problems(GOOD.encode()) == []


def test_accepts_a_fold_between_utf8_characters() -> None:
    data = GOOD.replace("SUMMARY:Аргонмен", "SUMMARY:Арг\r\n онмен").encode()
    assert problems(data) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.replace(b"VERSION:2.0\r\n", b"VERSION:2.0\n"), "bare LF"),
        (lambda d: d.replace(b"SUMMARY:", b"SUMMARY:" + b"x" * 70), "octets"),
        (
            lambda d: d.replace(
                "SUMMARY:А".encode(), b"SUMMARY:" + "А".encode()[:1] + b"\r\n " + "А".encode()[1:]
            ),
            "splits a UTF-8",
        ),
        (lambda d: d.replace(b"TZID:Asia/Almaty\r\n", b"TZID:Asia/Qostanay\r\n"), "has no VTIMEZONE"),
        (lambda d: d.replace(b"DTEND;TZID=Asia/Almaty:", b"DTEND:"), "floating"),
        (lambda d: d.replace(b"DTSTAMP:20240101T000000Z", b"DTSTAMP:20240101T000000"), "floating"),
        (lambda d: d.replace(b"UNTIL=20240402T050000Z", b"UNTIL=20240402T100000"), "not UTC"),
        (lambda d: d.replace(b"UID:a@labbook\r\n", b""), "no UID"),
        (lambda d: d.replace(b"DTSTAMP:20240101T000000Z\r\n", b""), "no DTSTAMP"),
        (lambda d: d.replace(b"END:VEVENT\r\n", b""), "does not close"),
    ],
)
def test_rejects_damaged_feeds(damage: object, message: str) -> None:
    data = damage(GOOD.encode())  # type: ignore[operator]
    assert data != GOOD.encode()
    found = problems(data)
    assert any(message in p for p in found), found
