"""Composing a message: what mail programs read back from it (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from labbook.notifications import mail


@pytest.mark.parametrize(
    "subject",
    [
        "Бронирование подтверждено: Экскурсия в Институт сварки, 9 декабря 2026",
        "Растауды күтетін жаңа бронь: Сарыарқа тау-кен колледжі, 17 желтоқсан 2026",
        "Booking confirmed: Argon welding practice, 16 February 2027",
    ],
)
def test_a_long_subject_reads_back_word_for_word(subject: str) -> None:
    raw = mail.compose(
        sender="labbook@labbook.test",
        recipient="director@example.kz",
        subject=subject,
        text="текст",
        html="<p>текст</p>",
        language="ru",
        message_id="<1@labbook.test>",
        date=datetime.now(UTC),
        unsubscribe="https://labbook.test/ru/account",
    )
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == subject
    assert mail.read(raw).subject == subject
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
