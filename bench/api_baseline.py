"""The app as ``bench.api_load`` serves it: today's app plus the baseline code paths, callable
side by side in the same process and the same run.

``/bench/baseline/cases`` is the case list as it was before paging (issue #19): every visible
case, newest first (at most 500), and one inspector query per case; a dispatcher's "filtered
page" was this whole list, filtered in the browser. ``/bench/baseline/cases/{id}`` is the case
detail as it was: the case, then its inspectors in a second query (each through the ORM).

Run by uvicorn: ``uvicorn --factory bench.api_baseline:create_bench_app`` (settings from the
``CLOUDINSPECT_*`` environment, as for the real app).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from sqlalchemy import select

from server.app import create_app
from server.cases.access import CaseView, current_inspectors, visible_to
from server.cases.models import Case
from server.cases.schemas import CaseOut, case_out
from server.deps import PrincipalDep, SessionDep
from server.errors import not_found

baseline = APIRouter(prefix="/bench/baseline", include_in_schema=False)


@baseline.get("/cases")
async def old_list(principal: PrincipalDep, session: SessionDep) -> list[CaseOut]:
    cases = (
        await session.scalars(
            select(Case).where(visible_to(principal)).order_by(Case.created_at.desc()).limit(500)
        )
    ).all()
    return [case_out(CaseView(c, await current_inspectors(session, c.id))) for c in cases]


@baseline.get("/cases/{case_id}")
async def old_detail(
    principal: PrincipalDep, session: SessionDep, case_id: Annotated[str, Path(max_length=64)]
) -> CaseOut:
    case = await session.scalar(select(Case).where(Case.id == case_id, visible_to(principal)))
    if case is None:
        raise not_found("该案件", "Case")
    return case_out(CaseView(case, await current_inspectors(session, case_id)))


def create_bench_app() -> FastAPI:
    app = create_app()
    before = len(app.router.routes)
    app.include_router(baseline)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added  # ahead of the console's static mount at "/"
    return app
