"""Who is calling: a logged-in staff member, the applicant holding a case link, or an API client
(a machine such as the approval system, with scopes instead of a role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.audit.service import Actor
from server.auth.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "applicant", "client"]
    id: str  # staff id, the link id for an applicant, the API client's id
    role: Role | None = None
    case_id: str | None = None  # the one case an applicant may see
    display_name: str = ""
    session_id: str = ""
    scopes: frozenset[str] = frozenset()  # an API client's scopes (``auth.clients``)

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"
