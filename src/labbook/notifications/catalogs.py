"""Keeping the e-mail catalogs complete, as ``labbook.web.catalogs`` does for the pages.

python -m labbook.notifications.catalogs check     # list messages missing or untranslated
python -m labbook.notifications.catalogs update    # add new messages (untranslated) to mail.po
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from labbook.notifications.messages import HERE, LOCALES, TEMPLATES
from labbook.schemas import LANGUAGES

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(TEMPLATES.iterdir()):
        yield path, "jinja2.ext:babel_extract"
    yield HERE / "messages.py", "python"


def extract() -> dict[str, tuple[str | tuple[str, str], str]]:
    """Every message e-mail can show (a plural as its two English forms), with where it first appears."""
    found: dict[str, tuple[str | tuple[str, str], str]] = {}
    options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "yes", "lstrip_blocks": "yes"}
    for path, method in _sources():
        for lineno, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            msgid = message if isinstance(message, str) else (message[0], message[1])
            key = msgid if isinstance(msgid, str) else msgid[0]
            found.setdefault(key, (msgid, f"{path.relative_to(HERE)}:{lineno}"))
    return found


def _path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "mail.po"


def load(lang: str) -> Catalog:
    if not _path(lang).exists():
        return Catalog(locale=lang, project="labbook", copyright_holder="labbook authors", fuzzy=False)
    with _path(lang).open("rb") as source:
        return read_po(source, locale=lang)


def problems(lang: str) -> list[str]:
    catalog = load(lang)
    wrong = []
    for key, (_msgid, where) in extract().items():
        entry = catalog.get(key)
        if entry is None:
            wrong.append(f"{lang}: missing {key!r} ({where}, mail.po)")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(strings):
            wrong.append(f"{lang}: untranslated {key!r} (mail.po)")
    for entry, errors in catalog.check():
        wrong.extend(f"{lang}: {entry.id!r}: {error}" for error in errors)
    return wrong


def update() -> None:
    found = extract()
    for lang in LANGUAGES:
        catalog = load(lang)
        for key, (msgid, _where) in found.items():
            if catalog.get(key) is None:
                empty: str | tuple[str, ...] = ("",) * catalog.num_plurals if isinstance(msgid, tuple) else ""
                catalog.add(msgid, empty, flags=("python-format",) if "%(" in key else ())
        _path(lang).parent.mkdir(parents=True, exist_ok=True)
        with _path(lang).open("wb") as target:
            write_po(target, catalog, width=110, omit_header=False, sort_output=False, include_lineno=False)


def main(argv: list[str]) -> int:
    if (argv[0] if argv else "check") == "update":
        update()
        return 0
    wrong = [line for lang in LANGUAGES for line in problems(lang)]
    print("\n".join(wrong) or "every e-mail message is translated in kk, ru and en")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
