"""Every message a page can show is translated in kk, ru and en, with every plural form."""

from __future__ import annotations

import pytest

from labbook.schemas import LANGUAGES
from labbook.web import catalogs
from labbook.web.i18n import Gettext, translations


def test_the_pages_have_messages_to_translate() -> None:
    found = catalogs.extract()
    assert len(found) > 100
    assert "Sign in" in found
    assert any(isinstance(m.msgid, tuple) for m in found.values()), "counts use ngettext"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang: str) -> None:
    assert catalogs.problems(lang) == []


def test_plural_forms_follow_each_language() -> None:
    russian = Gettext("ru")
    assert russian.plain_n("%(num)s lab", "%(num)s labs", 1) == "1 лаборатория"
    assert russian.plain_n("%(num)s lab", "%(num)s labs", 3) == "3 лаборатории"
    assert russian.plain_n("%(num)s lab", "%(num)s labs", 5) == "5 лабораторий"
    assert russian.plain_n("%(num)s lab", "%(num)s labs", 21) == "21 лаборатория"
    kazakh = Gettext("kk")
    # Kazakh nouns stay singular after a number.
    assert kazakh.plain_n("%(num)s lab", "%(num)s labs", 1) == "1 зертхана"
    assert kazakh.plain_n("%(num)s lab", "%(num)s labs", 5) == "5 зертхана"
    assert Gettext("en").plain_n("%(num)s lab", "%(num)s labs", 2) == "2 labs"


def test_a_missing_message_is_caught(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The check itself can fail: a catalog without a page's message is reported."""
    empty = tmp_path / "locales"
    for lang in LANGUAGES:
        (empty / lang / "LC_MESSAGES").mkdir(parents=True)
    monkeypatch.setattr(catalogs, "LOCALES", empty)
    reported = catalogs.problems("kk")
    assert any("missing 'Sign in'" in line for line in reported)


def test_catalogs_load_for_every_language() -> None:
    for lang in LANGUAGES:
        assert translations(lang).gettext("Sign out") != ""
    assert translations("kk").gettext("Sign out") == "Шығу"


def test_a_message_may_name_its_variable_message() -> None:
    """A lab's reply is shown as "The lab says: %(message)s"; the name must not clash with gettext's."""
    assert Gettext("en").plain("The lab says: %(message)s", message="Welcome!") == "The lab says: Welcome!"
