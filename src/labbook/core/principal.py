"""Who is calling: the person behind a valid token or session, and the object-level rules on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from labbook.core.roles import Role
from labbook.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Principal:
    """The person behind a valid token."""

    person_id: UUID
    organization_id: int
    roles: frozenset[Role]
    managed_lab_ids: frozenset[int] = field(default_factory=frozenset)
    token_id: UUID | None = None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def manages(self, lab_id: int) -> bool:
        return self.is_admin or (Role.LAB_MANAGER in self.roles and lab_id in self.managed_lab_ids)

    def require_lab(self, lab_id: int) -> None:
        if not self.manages(lab_id):
            raise Forbidden("only this lab's managers or an admin may do that")

    def acts_for(self, organization_id: int) -> bool:
        return self.is_admin or (Role.DIRECTOR in self.roles and self.organization_id == organization_id)

    def require_organization(self, organization_id: int) -> None:
        if not self.acts_for(organization_id):
            raise Forbidden("only this organization's directors or an admin may do that")

    def is_party_to(self, organization_id: int, lab_id: int) -> bool:
        """May see an arrangement between an organization and a lab (a booking, a visit request)."""
        return self.acts_for(organization_id) or self.manages(lab_id)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only an admin may do that")
