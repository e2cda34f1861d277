"""Case intake (the applicant's links are in ``server.cases.links``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append, canonical_json
from server.cases.hooks import case_opened
from server.cases.models import Case
from server.cases.schemas import CaseIntake
from server.db import new_id, utcnow
from server.errors import BadInput, Conflict
from server.platform.time import shanghai_time

MODE_RANK = {"online_video": 0, "rectification": 0, "offline_onsite": 1}
# Time classes from the shortest promised time to the longest (re-inspection immediate · simple
# 1 h · general 1 working day · complex 3 working days).
PROMISED_TIME_RANK = {"reinspection": 0, "simple": 1, "general": 2, "complex": 3}


@dataclass(frozen=True, slots=True)
class MatterSettings:
    """A matter's catalogue settings that intake needs."""

    code: str
    name_zh: str
    default_mode: str
    default_sla_class: str
    needs_inspection: bool = True


MatterLookup = Callable[[str], MatterSettings | None]


def default_mode_and_class(settings: Sequence[MatterSettings]) -> tuple[str, str]:
    """A joint inspection (联合踏勘) is promised the shortest time among its matters that need
    an inspection, and goes on site if one of them must; matters that need none do not count."""
    inspected = [s for s in settings if s.needs_inspection]
    if not inspected:
        raise BadInput(
            "所选事项都不需要踏勘，无需开立踏勘案件。",
            "None of the matters needs an inspection; no inspection case is needed.",
            field="matters",
        )
    mode = max((s.default_mode for s in inspected), key=MODE_RANK.__getitem__)
    sla_class = min((s.default_sla_class for s in inspected), key=PROMISED_TIME_RANK.__getitem__)
    return mode, sla_class


def intake_fingerprint(body: CaseIntake) -> str:
    # an intake without an e-mail hashes as it did before the field existed
    unset = {"applicant": {"email"}} if not body.applicant.email else None
    dumped = body.model_dump(mode="json", exclude=unset)
    return hashlib.sha256(canonical_json(dumped).encode()).hexdigest()


def _resolve_matters(body: CaseIntake, lookup: MatterLookup) -> list[MatterSettings]:
    found = [(code, lookup(code)) for code in body.matters]
    unknown = [code for code, s in found if s is None]
    if unknown:
        raise BadInput(
            f"未知的踏勘事项：{', '.join(unknown)}。",
            f"Unknown matter(s): {', '.join(unknown)}.",
            field="matters",
        )
    return [s for _, s in found if s is not None]


def _mode_and_class(body: CaseIntake, matters: list[MatterSettings]) -> tuple[str, str]:
    default_mode, default_class = default_mode_and_class(matters)
    mode, sla_class = body.mode or default_mode, body.sla_class or default_class
    overridden = (mode, sla_class) != (default_mode, default_class)
    if overridden and not body.override_reason.strip():
        raise BadInput(
            f"方式或时限类别与事项默认（{default_mode}/{default_class}）不同，请填写理由。",
            f"Mode or class differs from the matter default ({default_mode}/{default_class}); "
            "give an override_reason.",
            field="override_reason",
        )
    return mode, sla_class


def _case_number(case_id: str) -> str:
    day = shanghai_time(utcnow(), "%Y%m%d")
    return f"YTK{day}-{case_id[:6].upper()}"


async def intake(
    session: AsyncSession,
    actor: Actor,
    body: CaseIntake,
    lookup: MatterLookup,
    initial_state: str,
) -> tuple[Case, bool]:
    """Open a case; replaying the same application returns it (``created`` is False)."""
    fingerprint = intake_fingerprint(body)
    existing = await session.scalar(select(Case).where(Case.application_no == body.application_no))
    if existing is not None:
        return _replayed(existing, fingerprint), False
    mode, sla_class = _mode_and_class(body, _resolve_matters(body, lookup))
    case_id = new_id()
    case = Case(
        id=case_id,
        number=_case_number(case_id),
        application_no=body.application_no,
        intake_fingerprint=fingerprint,
        applicant_kind=body.applicant.kind,
        applicant_name=body.applicant.name,
        applicant_id_no=body.applicant.id_no,
        applicant_phone=body.applicant.phone,
        site_address=body.site.address,
        site_lat=body.site.lat,
        site_lng=body.site.lng,
        matters=body.matters,
        scenarios=body.scenarios,
        mode=mode,
        sla_class=sla_class,
        override_reason=body.override_reason,
        state=initial_state,
        extra={"applicant_email": body.applicant.email} if body.applicant.email else {},
    )
    session.add(case)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent intake of the same application won
        raise Conflict(
            "该申请正在被同时受理，请稍后重试。",
            "This application is being received concurrently; retry shortly.",
        ) from exc
    await append(
        session,
        actor,
        "case.received",
        case_id=case.id,
        detail={"application_no": case.application_no, "mode": mode, "sla_class": sla_class},
    )
    await case_opened(session, case, case.created_at)
    return case, True


def _replayed(existing: Case, fingerprint: str) -> Case:
    if existing.intake_fingerprint != fingerprint:
        raise Conflict(
            f"申请号 {existing.application_no} 已受理，且内容与本次不同；如需变更请走变更流程。",
            f"Application {existing.application_no} already exists with different content.",
            case_id=existing.id,
        )
    return existing
