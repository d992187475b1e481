"""Signing in and out, and the one-time links that let people set their password: invitations, resets."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import signin
from labbook.accounts.schemas import Login, PasswordResetRequest, PasswordSet
from labbook.accounts.security import SESSION_COOKIE
from labbook.core.access import AUTHENTICATED, PUBLIC
from labbook.core.principal import Principal
from labbook.errors import LabbookError
from labbook.notifications import service as mail
from labbook.settings import Settings
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.pages import cookie, now_of, page_lang, render, see_other
from labbook.web.problems import explain

Flag = Annotated[int | None, QueryParameter(ge=0, le=1)]
# The optional messages (labbook.notifications.messages.OPTIONAL) as pages name and explain them.
MESSAGE_KINDS = {
    "booking_received": (
        N_("Receipts"),
        N_("A message that the lab has received our booking. The lab's answer comes in any case."),
    ),
    "booking_reminder": (N_("Reminders"), N_("A reminder before a confirmed visit.")),
    "lab_digest": (
        N_("Tomorrow's visits"),
        N_("For lab managers: every evening, the groups coming to the lab the next day."),
    ),
}


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
        return await _link_page(request, pool, token, "auth/invitation.html")

    @post("/invitations/{token:str}", opt={"access": PUBLIC})
    async def accept_invitation(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        token: FromPath[str],
    ) -> Template | Redirect:
        return await _set_password(request, pool, settings, token, "auth/invitation.html")

    @get("/password-reset", opt={"access": PUBLIC})
    async def reset_form(self, request: Request[Any, Any, Any], sent: Flag = None) -> Template:
        return render(request, "auth/reset_request.html", values={}, errors={}, problem=None, sent=bool(sent))

    @post("/password-reset", opt={"access": PUBLIC})
    async def request_reset(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        """The same answer whether or not the address has an account: only the mail tells."""
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, PasswordResetRequest, lang)
            await signin.request_password_reset(pool, settings, data.email, now=now_of(request))
        except forms.FormInvalid as exc:
            return render(
                request, "auth/reset_request.html", values=posted, errors=exc.errors, problem=None, sent=False
            )
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            return render(
                request,
                "auth/reset_request.html",
                status=exc.status,
                values=posted,
                errors=errors,
                problem=problem,
                sent=False,
            )
        return see_other(f"/{lang}/password-reset?sent=1")

    @get("/password-reset/{token:str}", opt={"access": PUBLIC})
    async def reset(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> Template:
        return await _link_page(request, pool, token, "auth/reset.html")

    @post("/password-reset/{token:str}", opt={"access": PUBLIC})
    async def reset_password(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        token: FromPath[str],
    ) -> Template | Redirect:
        """A new password ends every session the person had, and signs this browser in."""
        return await _set_password(request, pool, settings, token, "auth/reset.html")


async def _link_page(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, token: str, template: str
) -> Template:
    """The password form of a one-time link; a used, expired or unknown link is a 404 page."""
    holder = await signin.link_holder(pool, token, now=now_of(request))
    return render(request, template, holder=holder, errors={}, problem=None)


async def _set_password(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, settings: Settings, token: str, template: str
) -> Template | Redirect:
    """The password form of a one-time link: refused, it is shown again; accepted, the person is in."""
    lang, now = page_lang(request), now_of(request)
    holder = await signin.link_holder(pool, token, now=now)
    posted = await forms.values(request)
    try:
        data = forms.decode(posted, PasswordSet, lang)
        secret = await signin.accept_link(
            pool, settings, token, data.password, now=now, user_agent=request.headers.get("user-agent")
        )
    except forms.FormInvalid as exc:
        return render(request, template, holder=holder, errors=exc.errors, problem=None)
    return _signed_in(settings, secret, f"/{lang}/")


class UnsubscribePages(Controller):
    """The link in an optional message that turns its kind off, without signing in (RFC 8058)."""

    path = "/{lang:str}/unsubscribe"

    @get("/{token:str}", opt={"access": PUBLIC})
    async def unsubscribe_page(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> Template:
        """Asks first: a mail program or a virus scanner that opens links must not unsubscribe anyone."""
        target = await mail.unsubscribe_target(pool, token)
        return render(request, "auth/unsubscribe.html", target=target, kind=MESSAGE_KINDS[target.kind])

    @post("/{token:str}", opt={"access": PUBLIC, "csrf": False})
    async def unsubscribe(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> Redirect:
        """The button on the page, or the mail program's one-click POST; either turns the kind off."""
        await mail.unsubscribe(pool, token)
        return see_other(f"/{page_lang(request)}/unsubscribe/{token}")
