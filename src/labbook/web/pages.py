"""Rendering a page: the template context every page shares, cookies, redirects and error pages."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig

from labbook.accounts.signin import WebSession
from labbook.clock import Clock
from labbook.errors import LabbookError
from labbook.schemas import LANGUAGES
from labbook.settings import Settings
from labbook.visits.rows import VisitRequestRow
from labbook.web import qr
from labbook.web.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, Formats, Gettext, first_upper, localized

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSRF_COOKIE = "lb_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "_csrf"
ONE_YEAR = 365 * 24 * 3600


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Each page passes its own language's gettext in the context; these only fix the calling style.
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(qr.TEMPLATE_GLOBALS)
    environment.filters["first_upper"] = first_upper
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def page_lang(request: Request[Any, Any, Any]) -> str:
    lang = request.path_params.get("lang") or request.url.path.split("/")[1]
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


# Addresses for programs; everything else that is not found is answered with a page for people.
PROGRAM_PREFIXES = frozenset({"api", "feeds", "schema", "static", "health", "ready"})


def is_page_path(path: str) -> bool:
    return path.split("/")[1] not in PROGRAM_PREFIXES


def web_session(request: Request[Any, Any, Any]) -> WebSession | None:
    session: WebSession | None = request.state.get("web_session")
    return session


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def now_of(request: Request[Any, Any, Any]) -> datetime:
    """What time it is for this page: a reading of the app's clock (``labbook.clock``)."""
    clock: Clock = request.app.state.clock
    return clock()


def csrf_token(request: Request[Any, Any, Any]) -> tuple[str, bool]:
    """The token forms must carry, and whether it is new (then the cookie must be set).

    Signed in, it is derived from the session secret; before sign-in it is a random double-submit
    cookie. Either way a page on another site cannot read it, so it cannot forge our forms.
    """
    session = web_session(request)
    if session is not None:
        return session.csrf_token, False
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing, False
    return secrets.token_urlsafe(32), True


def in_language(request: Request[Any, Any, Any], lang: str) -> str:
    """This page's address in another language (the switcher keeps you where you are)."""
    parts = request.url.path.split("/", 2)
    rest = parts[2] if len(parts) > 2 else ""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"/{lang}/{rest}{query}"


def cookie(settings: Settings, key: str, value: str, *, max_age: int | None, httponly: bool = True) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path="/",
        httponly=httponly,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def render(request: Request[Any, Any, Any], template: str, *, status: int = 200, **context: Any) -> Template:
    """A page in the request's language, with what every page needs in its context."""
    lang = page_lang(request)
    settings = settings_of(request)
    token, new_token = csrf_token(request)
    gettext = Gettext(lang)
    cookies = []
    if new_token:
        cookies.append(cookie(settings, CSRF_COOKIE, token, max_age=None))
    if request.cookies.get(LANG_COOKIE) != lang:
        cookies.append(cookie(settings, LANG_COOKIE, lang, max_age=ONE_YEAR, httponly=False))
    shared = {
        **gettext.callables(),
        "lang": lang,
        "languages": [(code, LANGUAGE_NAMES[code], in_language(request, code)) for code in LANGUAGES],
        "me": web_session(request),
        "csrf_field": CSRF_FIELD,
        "csrf_token": token,
        "f": Formats(lang),
        "language_name": gettext.language,
        "t": lambda texts: localized(texts, lang),
        "path": request.url.path,
        "query": lambda **params: urlencode({k: v for k, v in params.items() if v not in (None, "")}),
    }
    return Template(
        template_name=template,
        context={**shared, **context},
        status_code=status,
        cookies=cookies,
        headers={"Cache-Control": "no-store"} if shared["me"] else None,
    )


def see_other(url: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """POST-redirect-GET: a reload of the next page never posts twice."""
    return Redirect(url, status_code=303, cookies=cookies or [])


def login_url(request: Request[Any, Any, Any]) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/{page_lang(request)}/login?{urlencode({'next': here})}"


def page_not_found(request: Request[Any, Any, Any]) -> Response[Any]:
    return render(request, "error.html", status=404, status_code=404, slug="not-found")


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Web routes answer errors with a page in the page's language, never with JSON."""
    if isinstance(exc, LabbookError):
        status, slug = exc.status, exc.slug
    elif isinstance(exc, HTTPException):
        status, slug = exc.status_code, "http"
    else:
        raise exc
    if not is_page_path(request.url.path):
        # A program's address: programs get the API's problem+json.
        problem = {"type": f"/problems/{slug}", "title": "Not found", "status": status, "detail": str(exc)}
        return Response(problem, status_code=status, media_type="application/problem+json")
    if status == 401:
        return see_other(login_url(request))
    if status >= 500:
        raise exc
    return render(request, "error.html", status=status, status_code=status, slug=slug)


def visit_request_shown(row: VisitRequestRow) -> dict[str, Any]:
    """A visit request for a page: its windows as (start, end) instants instead of ISO text."""
    return {
        **msgspec.structs.asdict(row),
        "windows": [
            (datetime.fromisoformat(w["starts_at"]), datetime.fromisoformat(w["ends_at"]))
            for w in row.windows
        ],
    }
