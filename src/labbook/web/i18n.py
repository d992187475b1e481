"""Languages of the pages: message catalogs, language negotiation, localized content and formats.

Catalogs are gettext ``.po`` files under ``locales/<lang>/LC_MESSAGES/``, one file per audience
(``common.po``, ``public.po``, ...). They are compiled in memory at start, so the repository holds
only the text translators edit, never a binary ``.mo``.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from labbook.schemas import LANGUAGES
from labbook.timezones import zone

LOCALES = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "kk"
# When a lab wrote no text in the page's language: Russian is read most widely, then Kazakh, English.
FALLBACK = ("ru", "kk", "en")
# Each language in its own words: what the language switcher and the profile's choice show.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def N_(message: str) -> str:
    """Mark a message for the catalogs; it is translated where it is shown."""
    return message


# A language as the page's reader names it: the language of a tour or a training session.
SPOKEN_LANGUAGES = {"kk": N_("Kazakh"), "ru": N_("Russian"), "en": N_("English")}


@cache
def translations(lang: str) -> Translations:
    """Every catalog of one language merged into one ``Translations``."""
    parts = []
    for po in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        parts.append(Translations(fp=compiled))
    if not parts:
        return Translations()
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    return merged


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The language for ``/``: the ``lang`` cookie, then the browser's preference, then Kazakh."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def pick(texts: Mapping[str, str] | None, lang: str) -> tuple[str, str | None]:
    """The text for ``lang`` and the language it is really in (``None`` when there is none)."""
    if not texts:
        return "", None
    for candidate in (lang, *FALLBACK):
        value = texts.get(candidate)
        if value:
            return value, candidate
    return "", None


class Gettext:
    """gettext callables for one language, in the shape Jinja's i18n extension calls them (newstyle)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = translations(lang)

    def plain(self, message: str, /, **variables: Any) -> str:
        text = self._t.gettext(message)
        return text % variables if variables else text

    def plain_n(self, singular: str, plural: str, n: int, /, **variables: Any) -> str:
        variables.setdefault("num", n)
        return self._t.ngettext(singular, plural, n) % variables

    def language(self, code: str) -> str:
        """A language's name in the page's language ("орыс тілі" on a Kazakh page)."""
        return self.plain(SPOKEN_LANGUAGES[code]) if code in SPOKEN_LANGUAGES else code

    def callables(self) -> dict[str, Callable[..., Any]]:
        t = self._t

        @pass_eval_context
        # Positional-only, so that a template may pass a variable called "message" or "n".
        def gettext(ctx: EvalContext, message: str, /, **variables: Any) -> str:
            text = t.gettext(message)
            if ctx.autoescape:
                # A catalog's text is ours, like the template's; the variables are escaped by %.
                text = Markup(text)  # noqa: S704
            return text % variables if variables else text

        @pass_eval_context
        def ngettext(ctx: EvalContext, singular: str, plural: str, n: int, /, **variables: Any) -> str:
            variables.setdefault("num", n)
            text = t.ngettext(singular, plural, n)
            if ctx.autoescape:
                text = Markup(text)  # noqa: S704
            return text % variables

        return {"gettext": gettext, "ngettext": ngettext, "_": gettext}


# One way to write a date on every page; CLDR's own "full" differs by language in what comes first.
DATE_FORMATS = {"full": "EEEE, d MMMM y", "long": "d MMMM y"}


def first_upper(text: str) -> str:
    """ "сейсенбі, 8 желтоқсан" as a heading: only the first letter changes (unlike ``capitalize``)."""
    return text[:1].upper() + text[1:]


class Formats:
    """Dates, times and numbers for one page language, in a lab's time zone."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(lang)

    def datetime(self, value: dt.datetime, tz: str, fmt: str = "d MMMM y, HH:mm") -> str:
        return format_datetime(value, fmt, tzinfo=zone(tz), locale=self.locale)

    def date(self, value: dt.date | dt.datetime, fmt: str = "full", tz: str | None = None) -> str:
        if isinstance(value, dt.datetime) and tz:
            value = value.astimezone(zone(tz))
        return format_date(value, DATE_FORMATS.get(fmt, fmt), locale=self.locale)

    def time(self, value: dt.datetime | dt.time, tz: str | None = None) -> str:
        if isinstance(value, dt.datetime) and tz:
            value = value.astimezone(zone(tz))
        return format_time(value, "HH:mm", locale=self.locale)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: float) -> str:
        return format_percent(value, "#,##0.#%", locale=self.locale)

    def weekday(self, iso_weekday: int) -> str:
        names: Mapping[int, str] = self.locale.days["stand-alone"]["wide"]
        return names[iso_weekday - 1]


def localized(texts: Mapping[str, str] | None, lang: str) -> Markup:
    """Lab content in the page's language; fallback text is marked with its own ``lang`` attribute."""
    text, text_lang = pick(texts, lang)
    if text_lang is None or text_lang == lang:
        return escape(text)
    return Markup('<span lang="{}">{}</span>').format(text_lang, text)
