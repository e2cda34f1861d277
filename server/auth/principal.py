"""Who is calling: a logged-in staff member or the applicant holding a case link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.audit.service import Actor
from server.auth.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "applicant"]
    id: str  # staff id, or the link id for an applicant
    role: Role | None = None
    case_id: str | None = None  # the one case an applicant may see
    display_name: str = ""
    session_id: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"
