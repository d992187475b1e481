"""Forms: the CSRF check, posted fields into the API's msgspec Structs, and errors in words.

A form's field names are the API's JSON names, so a form decodes into the very Struct the JSON API
takes, and the service behind both sees the same input.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from labbook.errors import Forbidden, LabbookError, NotFound
from labbook.schemas import LANGUAGES
from labbook.web.i18n import N_, Gettext
from labbook.web.pages import CSRF_FIELD, csrf_token

S = TypeVar("S", bound=msgspec.Struct)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# What to tell a person about a field they got wrong, by field name (the API's JSON names).
FIELD_MESSAGES = {
    "email": N_("Enter an email address such as name@example.kz."),
    "password": N_("Use at least 10 characters."),
    "current_password": N_("This is not your current password."),
    "headcount": N_("Enter how many people come: a whole number from 1."),
    "contact_name": N_("Enter the name of the person we can contact."),
    "contact_email": N_("Enter an email address such as name@example.kz."),
    "contact_phone": N_("Enter a phone number such as +7 701 123 45 67."),
    "language": N_("Choose one of the languages offered."),
    "age_group": N_("Describe the group's age in a few words, such as 14-16."),
    "notes": N_("The notes are too long."),
    "purpose": N_("Tell the lab what the visit is for."),
    "kind": N_("Choose what kind of visit you need."),
    "windows": N_("Give at least one time that suits you, ending after it starts."),
    "full_name": N_("Enter your name."),
    "phone": N_("Enter a phone number such as +7 701 123 45 67."),
    "reason": N_("The reason is too long."),
}
GENERIC = N_("Check this value.")
REQUIRED = N_("Fill in this field.")

_AT = re.compile(r"at `\$\.([A-Za-z_]+)")
_REQUIRED = re.compile(r"required field `([A-Za-z_]+)`")


class FormInvalid(Exception):
    """A form that cannot be decoded; ``errors`` maps field names to messages in the page's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


async def check_page(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard of every page: a known language, and a valid CSRF token on every form post."""
    if "lang" in connection.path_params and connection.path_params["lang"] not in LANGUAGES:
        raise NotFound("no such page")
    if connection.scope.get("method") in SAFE_METHODS:
        return
    if handler.opt.get("csrf") is False:
        # A one-click unsubscribe comes from a mail program, with no cookie and no form token: the
        # secret in its address is the proof (RFC 8058), and all it can do is stop some mail.
        return
    assert isinstance(connection, Request)
    form = await connection.form()
    sent = form.get(CSRF_FIELD)
    expected, is_new = csrf_token(connection)
    if is_new or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again")


async def values(request: Request[Any, Any, Any], *, lists: Iterable[str] = ()) -> dict[str, Any]:
    """Posted fields, trimmed, without the CSRF token; fields in ``lists`` always come as lists."""
    form = await request.form()
    many = set(lists)
    found: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        items = [v.strip() if isinstance(v, str) else v for v in form.getall(key)]
        found[key] = items if key in many else items[-1]
    return found


def decode(
    data: dict[str, Any], struct: type[S], lang: str, *, checkboxes: Iterable[str] = (), extra: Any = None
) -> S:
    """The Struct a form means. Empty text is "not given"; a ticked checkbox is ``True``.

    A refusal names every field at fault at once: msgspec stops at the first bad field, so each
    field is first checked on its own against its declared type and constraints.
    """
    cleaned: dict[str, Any] = {k: v for k, v in data.items() if v != "" and v != []}
    for name in checkboxes:
        cleaned[name] = name in cleaned
    if extra:
        cleaned.update(extra)
    gettext = Gettext(lang)
    errors: dict[str, str] = {}
    for field in msgspec.structs.fields(struct):
        if field.encode_name not in cleaned:
            if field.required:
                errors[field.encode_name] = gettext.plain(REQUIRED)
            continue
        try:
            msgspec.convert(cleaned[field.encode_name], field.type, strict=False)
        except msgspec.ValidationError:
            errors[field.encode_name] = gettext.plain(FIELD_MESSAGES.get(field.encode_name, GENERIC))
    if errors:
        raise FormInvalid(errors)
    try:
        return msgspec.convert(cleaned, struct, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT.search(text) or _REQUIRED.search(text)
        field_name = match.group(1) if match else "form"
        message = REQUIRED if _REQUIRED.search(text) else FIELD_MESSAGES.get(field_name, GENERIC)
        raise FormInvalid({field_name: gettext.plain(message)}) from None


def field_errors(exc: LabbookError, lang: str) -> dict[str, str]:
    """A service's field-level refusal (``ValidationFailed.errors``) in the page's language."""
    gettext = Gettext(lang)
    errors = exc.members.get("errors") or []
    found = {}
    for error in errors:
        field = str(error.get("field", "form")).split(".")[0].split("[")[0]
        found[field] = gettext.plain(FIELD_MESSAGES.get(field, GENERIC))
    return found
