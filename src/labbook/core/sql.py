"""Small helpers for building query parameters, shared by the repositories."""

from __future__ import annotations


def like_pattern(text: str) -> str:
    """``text`` with LIKE's wildcards escaped, so ``%`` and ``_`` match themselves.

    The escape character is the backslash, PostgreSQL's default for LIKE and ILIKE.
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
