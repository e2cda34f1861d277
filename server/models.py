"""Imports every ORM model so ``Base.metadata`` is complete (for migrations and checks)."""

from server.appointments.models import Appointment, Slot
from server.assignment.models import Draw, InspectorConflict, InspectorProfile
from server.audit.models import AuditHead, AuditRecord
from server.auth.models import LoginThrottle, Staff, StaffSession
from server.cases.models import Case, CaseInspector, CaseLink
from server.closure import models as closure_models
from server.db import Base
from server.evidence import models as evidence_models
from server.inspection import models as inspection_models
from server.notifications import models as notification_models
from server.opinions import models as opinion_models
from server.oversight import models as oversight_models
from server.rectification import models as rectification_models
from server.sla import models as sla_models
from server.supervision import models as supervision_models
from server.uploads import models as upload_models

__all__ = [
    "Appointment",
    "AuditHead",
    "AuditRecord",
    "Base",
    "Case",
    "CaseInspector",
    "CaseLink",
    "Draw",
    "InspectorConflict",
    "InspectorProfile",
    "LoginThrottle",
    "Slot",
    "Staff",
    "StaffSession",
    "closure_models",
    "evidence_models",
    "inspection_models",
    "notification_models",
    "opinion_models",
    "oversight_models",
    "rectification_models",
    "sla_models",
    "supervision_models",
    "upload_models",
]
