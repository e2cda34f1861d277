"""Imports every ORM model so ``Base.metadata`` is complete (for migrations and checks)."""

from server.audit.models import AuditHead, AuditRecord
from server.auth.models import LoginThrottle, Staff, StaffSession
from server.cases.models import Case, CaseInspector, CaseLink
from server.db import Base

__all__ = [
    "AuditHead",
    "AuditRecord",
    "Base",
    "Case",
    "CaseInspector",
    "CaseLink",
    "LoginThrottle",
    "Staff",
    "StaffSession",
]
