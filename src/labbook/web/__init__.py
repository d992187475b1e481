"""Pages for people: server-rendered HTML in kk, ru and en, calling the same services as the API."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router

from labbook.errors import LabbookError
from labbook.web.admin import route_handlers as admin_pages
from labbook.web.admin_labs import route_handlers as admin_lab_pages
from labbook.web.admin_outbox import route_handlers as outbox_pages
from labbook.web.admin_people import route_handlers as admin_people_pages
from labbook.web.auth import AuthPages, UnsubscribePages
from labbook.web.director import route_handlers as director_pages
from labbook.web.director_roster import route_handlers as roster_pages
from labbook.web.forms import check_page
from labbook.web.manager import route_handlers as manager_pages
from labbook.web.manager_attendance import route_handlers as attendance_pages
from labbook.web.manager_calendar import route_handlers as calendar_pages
from labbook.web.manager_inductions import route_handlers as induction_pages
from labbook.web.manager_lab import route_handlers as lab_pages
from labbook.web.manager_reports import route_handlers as report_pages
from labbook.web.manager_series import route_handlers as series_pages
from labbook.web.manager_visits import route_handlers as manager_visit_pages
from labbook.web.pages import STATIC, error_page, template_config
from labbook.web.public import PublicPages, choose_language, no_such_page

__all__ = ["STATIC_PATH", "route_handlers", "template_config"]

STATIC_PATH = "/static"

# Pages load nothing from elsewhere and are never framed; inline scripts and styles are not allowed.
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]

pages = Router(
    path="/",
    route_handlers=[
        choose_language,
        PublicPages,
        AuthPages,
        *director_pages,
        *manager_pages,
        *admin_pages,
        *admin_people_pages,
        *admin_lab_pages,
        *calendar_pages,
        *lab_pages,
        *series_pages,
        *manager_visit_pages,
        *outbox_pages,
        *roster_pages,
        *manager_pages,
        *attendance_pages,
        *induction_pages,
        *report_pages,
        UnsubscribePages,
        no_such_page,
    ],
    opt={"web": True},
    guards=[check_page],
    exception_handlers={LabbookError: error_page, HTTPException: error_page},
    response_headers=SECURITY_HEADERS,
    include_in_schema=False,
)

route_handlers: list[Any] = [
    pages,
    create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC],
        opt={"access": "public"},
        include_in_schema=False,
        cache_control=None,
    ),
]
