"""Signing in and out, and the one-time links that let invited people set their password."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import signin
from labbook.accounts.schemas import Login, PasswordSet
from labbook.accounts.security import SESSION_COOKIE
from labbook.core.access import AUTHENTICATED, PUBLIC
from labbook.core.principal import Principal
from labbook.errors import LabbookError
from labbook.settings import Settings
from labbook.web import forms
from labbook.web.pages import cookie, page_lang, render, see_other
from labbook.web.problems import explain


def _safe_next(lang: str, target: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"/{lang}/"


def _signed_in(settings: Settings, secret: str, target: str) -> Redirect:
    max_age = settings.session_max_days * 24 * 3600
    return see_other(target, cookies=[cookie(settings, SESSION_COOKIE, secret, max_age=max_age)])


def _signed_out(settings: Settings, target: str) -> Redirect:
    return see_other(target, cookies=[cookie(settings, SESSION_COOKIE, "", max_age=0)])


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthPages(Controller):
    path = "/{lang:str}"

    @get("/login", opt={"access": PUBLIC})
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        target: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
    ) -> Template:
        context: dict[str, Any] = {"values": {}, "errors": {}, "problem": None, "next": target or ""}
        return render(request, "auth/login.html", **context)

    @post("/login", opt={"access": PUBLIC})
    async def login(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        target = _safe_next(lang, posted.pop("next", None))
        try:
            data = forms.decode(posted, Login, lang)
            secret = await signin.sign_in(
                pool,
                settings,
                email=data.email,
                password=data.password,
                client=_client(request),
                user_agent=request.headers.get("user-agent"),
            )
        except forms.FormInvalid as exc:
            return self._again(request, posted, target, None, exc.errors)
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            status = exc.status if exc.status == 429 else 200
            return self._again(request, posted, target, problem, errors, status=status)
        return _signed_in(settings, secret, target)

    @staticmethod
    def _again(
        request: Request[Any, Any, Any],
        posted: dict[str, Any],
        target: str,
        problem: str | None,
        errors: dict[str, str],
        status: int = 200,
    ) -> Template:
        values = {"email": posted.get("email", "")}
        return render(
            request,
            "auth/login.html",
            status=status,
            values=values,
            errors=errors,
            problem=problem,
            next=target,
        )

    @post("/logout", opt={"access": PUBLIC})
    async def logout(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            await signin.sign_out(pool, secret)
        return _signed_out(settings, f"/{page_lang(request)}/")

    @post("/logout/everywhere", opt={"access": AUTHENTICATED})
    async def logout_everywhere(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
    ) -> Redirect:
        """End every session of mine, on every device, this one included."""
        await signin.sign_out_everywhere(pool, me)
        return _signed_out(settings, f"/{page_lang(request)}/login")

    @get("/invitations/{token:str}", opt={"access": PUBLIC})
    async def invitation(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> Template:
        holder = await signin.link_holder(pool, token)
        return render(request, "auth/invitation.html", holder=holder, errors={}, problem=None)

    @post("/invitations/{token:str}", opt={"access": PUBLIC})
    async def accept_invitation(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        token: FromPath[str],
    ) -> Template | Redirect:
        lang = page_lang(request)
        holder = await signin.link_holder(pool, token)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, PasswordSet, lang)
            secret = await signin.accept_link(
                pool, settings, token, data.password, user_agent=request.headers.get("user-agent")
            )
        except forms.FormInvalid as exc:
            return render(request, "auth/invitation.html", holder=holder, errors=exc.errors, problem=None)
        return _signed_in(settings, secret, f"/{lang}/")
