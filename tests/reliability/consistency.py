"""What must hold in the database after a kill -9 and a restart (drills #13, #28, #29).

Read-only checks on what the server left: cases in legal states whose state, audit records
and SLA clock agree; an intact audit chain; SQLite's own integrity and foreign-key checks;
uploads with exactly one evidence each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.models import AuditRecord
from server.audit.service import verify_chain
from server.cases.models import Case
from server.cases.states import CaseState
from server.evidence.models import Evidence
from server.sla.models import SlaClockRow
from server.uploads.models import Upload


@dataclass
class Findings:
    """Everything found wrong (empty lists = consistent) and what was counted."""

    problems: list[str] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


async def database_health(session: AsyncSession, findings: Findings) -> None:
    """Audit chain intact; on SQLite also ``integrity_check`` and ``foreign_key_check``."""
    report = await verify_chain(session)
    findings.counted["audit_records"] = report.checked
    if not report.ok:
        findings.problems.append(f"audit chain broken at {report.broken_at}: {report.reason}")
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL enforces foreign keys at every commit
    integrity = (await session.execute(text("PRAGMA integrity_check"))).scalars().all()
    if list(integrity) != ["ok"]:
        findings.problems.append(f"integrity_check: {integrity[:5]}")
    orphans = (await session.execute(text("PRAGMA foreign_key_check"))).all()
    if orphans:
        findings.problems.append(f"foreign_key_check: {len(orphans)} rows, e.g. {orphans[:3]}")


async def cancel_consistency(
    session: AsyncSession, case_ids: Iterable[str], acknowledged: set[str], findings: Findings
) -> None:
    """Each case is received or cancelled; cancelled ⇔ one cancel audit record ⇔ clock
    stopped; every acknowledged cancel is there."""
    ids = list(case_ids)
    rows = await session.execute(select(Case.id, Case.state).where(Case.id.in_(ids)))
    states = dict(rows.all())
    audited = await session.execute(
        select(AuditRecord.case_id, AuditRecord.detail).where(
            AuditRecord.action == "case.transition", AuditRecord.case_id.in_(ids)
        )
    )
    cancels = Counter(case_id for case_id, detail in audited if detail.get("action") == "cancel")
    clocks = {
        row.case_id: row
        for row in (
            await session.scalars(select(SlaClockRow).where(SlaClockRow.case_id.in_(ids)))
        ).all()
    }
    for case_id in ids:
        state = states.get(case_id)
        cancelled = state == CaseState.cancelled
        clock = clocks.get(case_id)
        if state not in (CaseState.received, CaseState.cancelled):
            findings.problems.append(f"{case_id}: state {state!r}")
        if cancels[case_id] != (1 if cancelled else 0):
            findings.problems.append(f"{case_id}: {state} with {cancels[case_id]} transitions")
        if clock is None or clock.active == cancelled or (clock.stopped_at is None) == cancelled:
            findings.problems.append(f"{case_id}: {state} but clock {_clock(clock)}")
        if case_id in acknowledged and not cancelled:
            findings.problems.append(f"{case_id}: acknowledged cancel lost")
    findings.counted["cancelled"] = sum(1 for s in states.values() if s == CaseState.cancelled)


def _clock(row: SlaClockRow | None) -> str:
    if row is None:
        return "missing"
    return f"active={row.active} stopped_at={row.stopped_at}"


async def upload_consistency(
    session: AsyncSession, case_id: str, acknowledged: dict[str, str], findings: Findings
) -> None:
    """Every acknowledged upload has its evidence (same id); no upload has two evidences."""
    rows = (await session.scalars(select(Upload).where(Upload.case_id == case_id))).all()
    by_key = {row.idempotency_key: row for row in rows}
    for key, evidence_id in acknowledged.items():
        row = by_key.get(key)
        if row is None or row.status != "finalized" or row.evidence_id != evidence_id:
            findings.problems.append(f"upload {key}: acknowledged {evidence_id}, stored {row!r}")
    evidences = int(
        await session.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.case_id == case_id)
        )
        or 0
    )
    finalized = sum(1 for row in rows if row.status == "finalized")
    findings.counted.update(uploads=len(rows), finalized=finalized, evidence=evidences)
    if evidences != finalized:
        findings.problems.append(f"{evidences} evidence rows for {finalized} finalized uploads")


async def check(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    cancels: tuple[list[str], set[str]] | None = None,
    uploads: tuple[str, dict[str, str]] | None = None,
) -> Findings:
    findings = Findings()
    async with sessionmaker() as session:
        await database_health(session, findings)
        if cancels is not None:
            await cancel_consistency(session, cancels[0], cancels[1], findings)
        if uploads is not None:
            await upload_consistency(session, uploads[0], uploads[1], findings)
    return findings
