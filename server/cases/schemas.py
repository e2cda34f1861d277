"""Case intake and case views."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.links import IssuedLink
from server.cases.permissions import actions_for
from server.cases.repository import ListedCase
from server.cases.states import STATE_LABELS, CaseState

Seen = TypeVar("Seen", bound="CaseOut")

MATTER_CODE = r"^[A-Za-z][A-Za-z0-9_]{1,40}$"


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["person", "company"]
    name: str = Field(min_length=1, max_length=200)
    id_no: str = Field(default="", max_length=64)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 -]{5,30}$")
    # optional: notices also go out by e-mail when set (and the e-mail channel is configured)
    email: str = Field(default="", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=2, max_length=300)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)


class CaseIntake(BaseModel):
    """What the approval system sends to open a case."""

    model_config = ConfigDict(extra="forbid")
    application_no: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-/]+$")
    applicant: ApplicantIn
    site: SiteIn
    matters: list[str] = Field(min_length=1, max_length=8)
    scenarios: list[str] = Field(default_factory=list, max_length=20)
    mode: Literal["online_video", "offline_onsite", "rectification"] | None = None
    sla_class: Literal["simple", "general", "reinspection", "complex"] | None = None
    override_reason: str = Field(default="", max_length=500)

    @field_validator("matters", "scenarios")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        import re

        for value in values:
            if not re.match(MATTER_CODE, value):
                raise ValueError(f"'{value}' is not a valid code (letters, digits, _)")
        if len(set(values)) != len(values):
            raise ValueError("codes must not repeat")
        return values


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    number: str
    application_no: str
    applicant_kind: str
    applicant_name: str
    applicant_phone: str
    site_address: str
    site_lat: float | None
    site_lng: float | None
    matters: list[str]
    scenarios: list[str]
    mode: str
    sla_class: str
    override_reason: str
    state: str
    created_at: datetime
    updated_at: datetime
    inspector_ids: list[str] = Field(default_factory=list)
    state_zh: str = ""  # the state in words (状态名称), for people
    state_en: str = ""
    # What the calling user may do on the case now (``server.cases.permissions``): the pages
    # show a case action's button only when it is listed here.
    actions: list[str] = Field(default_factory=list)


class CaseListItem(CaseOut):
    """A case as a list row: the running SLA clock's due time and card beside it."""

    due_at: datetime | None = None
    card: str = "none"  # none | yellow | red


class CasePage(BaseModel):
    """One page of the case list and how many cases match in all."""

    items: list[CaseListItem]
    total: int  # counted up to ``repository.COUNT_CAP`` (10,000), not beyond
    total_capped: bool = False  # true: more than ``total`` cases match
    page: int
    limit: int


class LinkOut(BaseModel):
    id: str
    token: str
    url: str
    # None: no fixed end, the link lives as long as the case (see ``server.cases.links``)
    expires_at: datetime | None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500)


class MatterScenarioOut(BaseModel):
    """A scenario a matter offers at intake (named by its catalogue code)."""

    code: str
    name: str
    name_en: str


class MatterOut(BaseModel):
    code: str
    name: str
    name_en: str
    default_mode: str
    default_sla_class: str
    scenarios: list[MatterScenarioOut]


def link_out(issued: IssuedLink) -> LinkOut:
    link = issued.link
    return LinkOut(id=link.id, token=issued.token, url=issued.url, expires_at=link.expires_at)


def case_list_item(listed: ListedCase, caller: Principal) -> CaseListItem:
    """A list row as ``caller`` sees it: the case, its clock's due time and card, the actions."""
    out = _as_seen(CaseListItem.model_validate(listed.view.case), listed.view, caller)
    out.due_at, out.card = listed.due_at, listed.card
    return out


def case_out(view: CaseView, caller: Principal) -> CaseOut:
    """The case as ``caller`` sees it, with the actions they may take on it now."""
    return _as_seen(CaseOut.model_validate(view.case), view, caller)


def _as_seen(out: Seen, view: CaseView, caller: Principal) -> Seen:
    out.inspector_ids = list(view.inspector_ids)
    label = STATE_LABELS[CaseState(view.case.state)]
    out.state_zh, out.state_en = label.zh, label.en
    out.actions = [a.value for a in actions_for(caller, view)]
    return out
