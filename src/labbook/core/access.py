"""Named access policies: the ``opt={"access": ...}`` every route declares.

* ``PUBLIC`` — anyone, with or without a token;
* ``AUTHENTICATED`` — any valid token (or, on pages, a session);
* a tuple of roles — a valid token whose person holds one of them.

A handler without a declaration answers 500 and fails the route × role test: no route ships undecided.
Object-level rules (a lab manager edits only their labs) live in the services, via ``Principal``.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

from labbook.core.roles import Role

Access: TypeAlias = Literal["public", "authenticated"] | tuple[Role, ...]

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"

ADMIN: Final = (Role.ADMIN,)
# Who runs labs: their managers, and admins for every lab.
LAB_STAFF: Final = (Role.ADMIN, Role.LAB_MANAGER)
# Who books seats and asks for visits for an organization.
BOOKERS: Final = (Role.DIRECTOR, Role.ADMIN)
# Who decides on bookings and visit requests.
MANAGERS: Final = (Role.LAB_MANAGER, Role.ADMIN)
# Who looks after an organization's own record and people.
ORGANIZATION_STAFF: Final = (Role.ADMIN, Role.DIRECTOR)
DIRECTORS: Final = (Role.DIRECTOR,)
