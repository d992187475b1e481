"""A structural check of iCalendar bytes for what the parsers let through (RFC 5545).

Rejects: a bare LF or CR, a line over 75 octets, a fold inside a UTF-8 character, a ``TZID`` without
its ``VTIMEZONE``, a floating date-time, an ``RRULE`` ``UNTIL`` that is not UTC, a ``VEVENT`` without
``UID`` or ``DTSTAMP``, unbalanced ``BEGIN``/``END``.
"""

from __future__ import annotations

import re

MAX_OCTETS = 75
_DATE_TIME_PROPERTIES = {
    "DTSTART",
    "DTEND",
    "DUE",
    "RECURRENCE-ID",
    "EXDATE",
    "RDATE",
    "DTSTAMP",
    "LAST-MODIFIED",
    "CREATED",
    "COMPLETED",
}
_UTC_ONLY = {"DTSTAMP", "LAST-MODIFIED", "CREATED", "COMPLETED"}
_DATE_TIME = re.compile(r"^\d{8}T\d{6}Z?$")
_UNTIL = re.compile(r"(?:^|;)UNTIL=([^;]*)")


def _split_params(head: str) -> tuple[str, dict[str, str]]:
    name, *raw = re.findall(r'(?:[^;"]|"[^"]*")+', head)
    params: dict[str, str] = {}
    for item in raw:
        key, _, value = item.partition("=")
        params[key.upper()] = value.strip('"')
    return name.upper(), params


def _content_line(line: str) -> tuple[str, dict[str, str], str]:
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            name, params = _split_params(line[:index])
            return name, params, line[index + 1 :]
    raise ValueError(f"not a content line: {line[:40]!r}")


def problems(data: bytes) -> list[str]:
    """Everything wrong with ``data``; an empty list means it passes."""
    found: list[str] = []
    if not data.endswith(b"\r\n"):
        found.append("does not end with CRLF")
    physical = data.split(b"\r\n")
    if physical and physical[-1] == b"":
        physical.pop()
    for number, raw in enumerate(physical, 1):
        if b"\n" in raw:
            found.append(f"line {number}: bare LF")
        if b"\r" in raw:
            found.append(f"line {number}: bare CR")
        if len(raw) > MAX_OCTETS:
            found.append(f"line {number}: {len(raw)} octets (more than {MAX_OCTETS})")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            found.append(f"line {number}: a fold splits a UTF-8 character (or the text is not UTF-8)")
    if found:
        return found

    logical: list[str] = []
    for raw in physical:
        text = raw.decode("utf-8")
        if text[:1] in (" ", "\t") and logical:
            logical[-1] += text[1:]
        else:
            logical.append(text)

    stack: list[str] = []
    defined_tzids: set[str] = set()
    used_tzids: set[str] = set()
    event_props: set[str] = set()
    for line in logical:
        try:
            name, params, value = _content_line(line)
        except ValueError as exc:
            found.append(str(exc))
            continue
        if name == "BEGIN":
            stack.append(value.upper())
            if value.upper() == "VEVENT":
                event_props = set()
            continue
        if name == "END":
            if not stack or stack[-1] != value.upper():
                found.append(f"END:{value} does not close {stack[-1] if stack else 'anything'}")
                continue
            if stack.pop() == "VEVENT":
                for required in ("UID", "DTSTAMP"):
                    if required not in event_props:
                        found.append(f"a VEVENT has no {required}")
            continue
        inside = stack[-1] if stack else ""
        if inside == "VEVENT":
            event_props.add(name)
        if inside == "VTIMEZONE" and name == "TZID":
            defined_tzids.add(value)
        if "TZID" in params:
            used_tzids.add(params["TZID"])
        in_timezone = "VTIMEZONE" in stack
        if (
            name in _DATE_TIME_PROPERTIES
            and not in_timezone
            and params.get("VALUE", "DATE-TIME") == "DATE-TIME"
        ):
            for item in value.split(","):
                if not _DATE_TIME.match(item):
                    found.append(f"{name}: {item!r} is not a date-time")
                elif not item.endswith("Z") and ("TZID" not in params or name in _UTC_ONLY):
                    found.append(f"{name}: floating time {item!r}")
        if name == "RRULE":
            for until in _UNTIL.findall(value):
                if "T" in until and not until.endswith("Z"):
                    found.append(f"RRULE UNTIL {until!r} is not UTC")
    if stack:
        found.append(f"unclosed {', '.join(stack)}")
    for tzid in sorted(used_tzids - defined_tzids):
        found.append(f"TZID {tzid!r} has no VTIMEZONE")
    return found


def assert_valid(data: bytes) -> None:
    found = problems(data)
    assert not found, "\n".join(found)
