"""Keeping the message catalogs complete: what the pages say, and what each language still lacks.

    python -m labbook.web.catalogs check     # list messages missing or untranslated in any language
    python -m labbook.web.catalogs update    # add new messages (untranslated) to the right catalog

Messages from ``templates/<audience>/``, ``<audience>.py`` and ``<audience>_<part>.py`` go to
``<audience>.po``; everything shared (the layout, forms, errors) goes to ``common.po``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from labbook.schemas import LANGUAGES
from labbook.web.i18n import LOCALES

WEB = Path(__file__).parent
COMMON = "common"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


@dataclass(frozen=True, slots=True)
class Message:
    msgid: str | tuple[str, str]
    audience: str
    where: str

    @property
    def key(self) -> str:
        return self.msgid[0] if isinstance(self.msgid, tuple) else self.msgid


def _audience(path: Path) -> str:
    relative = path.relative_to(WEB)
    if relative.parts[0] == "templates" and len(relative.parts) > 2:
        return relative.parts[1]
    # ``manager_series.py`` speaks to the same audience as ``manager.py``.
    stem = relative.stem.split("_")[0]
    if relative.suffix == ".py" and (LOCALES / "en" / "LC_MESSAGES" / f"{stem}.po").exists():
        return stem
    return COMMON


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted((WEB / "templates").rglob("*.html")):
        yield path, "jinja2.ext:babel_extract"
    for path in sorted(WEB.glob("*.py")):
        yield path, "python"


def extract() -> dict[str, Message]:
    """Every message the pages can show, keyed by msgid (the first place it appears wins)."""
    found: dict[str, Message] = {}
    for path, method in _sources():
        options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "yes", "lstrip_blocks": "yes"}
        for lineno, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            msgid = message if isinstance(message, str) else (message[0], message[1])
            entry = Message(msgid, _audience(path), f"{path.relative_to(WEB)}:{lineno}")
            existing = found.get(entry.key)
            if existing is None or (entry.audience == COMMON and existing.audience != COMMON):
                found[entry.key] = entry
    return found


def load(lang: str, audience: str) -> Catalog:
    path = LOCALES / lang / "LC_MESSAGES" / f"{audience}.po"
    if not path.exists():
        return Catalog(locale=lang, project="labbook", copyright_holder="labbook authors", fuzzy=False)
    with path.open("rb") as source:
        return read_po(source, locale=lang)


def problems(lang: str) -> list[str]:
    """What is wrong with one language's catalogs: missing, untranslated or malformed messages."""
    found = extract()
    audiences = {m.audience for m in found.values()}
    catalogs = {a: load(lang, a) for a in audiences}
    wrong = []
    for message in found.values():
        entry = catalogs[message.audience].get(message.key)
        if entry is None:
            wrong.append(f"{lang}: missing {message.key!r} ({message.where}, {message.audience}.po)")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(strings):
            wrong.append(f"{lang}: untranslated {message.key!r} ({message.audience}.po)")
        if isinstance(message.msgid, tuple) != isinstance(entry.id, tuple):
            form = "plural" if isinstance(message.msgid, tuple) else "singular"
            wrong.append(f"{lang}: {message.key!r} must be {form}")
    for catalog in catalogs.values():
        for entry, errors in catalog.check():
            wrong.extend(f"{lang}: {entry.id!r}: {error}" for error in errors)
    return wrong


def update() -> None:
    """Add every new message, untranslated, to the catalog it belongs to in each language."""
    found = extract()
    for lang in LANGUAGES:
        by_audience: dict[str, Catalog] = {}
        for message in found.values():
            catalog = by_audience.setdefault(message.audience, load(lang, message.audience))
            if catalog.get(message.key) is None:
                empty: str | tuple[str, ...] = (
                    ("",) * catalog.num_plurals if isinstance(message.msgid, tuple) else ""
                )
                catalog.add(message.msgid, empty, flags=("python-format",) if "%(" in message.key else ())
        for audience, catalog in by_audience.items():
            path = LOCALES / lang / "LC_MESSAGES" / f"{audience}.po"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as target:
                write_po(
                    target, catalog, width=110, omit_header=False, sort_output=False, include_lineno=False
                )


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "check"
    if verb == "update":
        update()
        return 0
    wrong = [line for lang in LANGUAGES for line in problems(lang)]
    print("\n".join(wrong) or "every message is translated in kk, ru and en")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
