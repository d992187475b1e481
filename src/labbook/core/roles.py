"""The roles a person may hold. The database's ``ck_people_roles`` names the same four."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    ADMIN = "admin"
    LAB_MANAGER = "lab_manager"
    DIRECTOR = "director"
    INSTRUCTOR = "instructor"


# Roles that act on a host university's labs; a visiting college has no use for them.
HOST_ROLES: Final = frozenset({Role.ADMIN, Role.LAB_MANAGER})
