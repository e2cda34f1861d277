"""Enqueue notifications in the caller's transaction, and read the in-app feed.

``notify`` writes one in-app ``feed`` row per recipient (status ``in_app``: the feed is read
through the API, nothing is sent) and one ``pending`` row per configured external channel;
the outbox job (``jobs.deliver_due``) sends those after the caller commits. A repeated call
for the same ``event`` adds nothing: every row carries a unique ``dedupe_key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Staff
from server.auth.principal import Principal
from server.cases.models import Case
from server.config import Settings
from server.db import new_id, utcnow
from server.errors import not_found
from server.notifications.channels import enabled_channels
from server.notifications.models import Audience, Channel, DeliveryStatus, Notification
from server.notifications.templates import Rendered, render

APPROVAL_RECIPIENT = "approval"
FEED_LIMIT = 200
# External channels each audience can be reached on (besides the in-app feed).
APPLICANT_CHANNELS = (Channel.sms, Channel.wechat, Channel.email)
STAFF_CHANNELS = (Channel.sms, Channel.wechat)


def configured_channels(settings: Settings) -> frozenset[Channel]:
    """The external channels that have a sender; pass this as ``channels``."""
    return enabled_channels(settings)


@dataclass(frozen=True, slots=True)
class Contact:
    """One recipient: where the feed files it, and the addresses external channels use."""

    audience: Audience
    key: str  # phone (applicant), staff id, role name or system key
    phone: str = ""
    email: str = ""

    def address(self, channel: Channel) -> str:
        if channel in (Channel.sms, Channel.wechat):
            return self.phone
        if channel is Channel.email:
            return self.email
        return self.key


def dedupe_key(event: str, audience: str, recipient: str, channel: str) -> str:
    raw = json.dumps([event, audience, recipient, channel], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


async def _applicant_contact(session: AsyncSession, case_id: str | None) -> Contact:
    if case_id is None:
        raise ValueError("notify(applicant=True) needs the case_id")
    case = await session.get(Case, case_id)
    if case is None:
        raise not_found("该案件", "Case")
    email = str(case.extra.get("applicant_email", "")) if case.extra else ""
    return Contact(Audience.applicant, case.applicant_phone, case.applicant_phone, email)


async def _staff_contacts(session: AsyncSession, staff_ids: Sequence[str]) -> list[Contact]:
    if not staff_ids:
        return []
    rows = await session.execute(select(Staff.id, Staff.phone).where(Staff.id.in_(staff_ids)))
    phones = dict(rows.all())
    return [Contact(Audience.staff, sid, phones.get(sid, "")) for sid in dict.fromkeys(staff_ids)]


def _external(contact: Contact, channels: Collection[Channel]) -> list[Channel]:
    reachable = {
        Audience.applicant: APPLICANT_CHANNELS,
        Audience.staff: STAFF_CHANNELS,
    }.get(contact.audience, ())
    return [c for c in reachable if c in channels and contact.address(c)]


@dataclass(frozen=True, slots=True)
class _Enqueue:
    event: str
    case_id: str | None
    rendered: Rendered
    params: dict[str, Any]
    now: datetime

    def row(
        self, audience: str, recipient: str, channel: Channel, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        feed = channel is Channel.feed
        return {
            "id": new_id(),
            "created_at": self.now,
            "case_id": self.case_id,
            "event": self.event,
            "audience": audience,
            "recipient": recipient,
            "channel": channel.value,
            "template": self.rendered.template,
            "params": self.params,
            "text_zh": self.rendered.text_zh,
            "text_en": self.rendered.text_en,
            "body": body,
            "status": (DeliveryStatus.in_app if feed else DeliveryStatus.pending).value,
            "attempts": 0,
            "next_attempt_at": None if feed else self.now,
            "claim": "",
            "last_error": "",
            "delivered_at": None,
            "dedupe_key": dedupe_key(self.event, audience, recipient, channel.value),
        }


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Notification]:
    """Insert the rows whose dedupe key is new; concurrent duplicates are skipped, not errors."""
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    ids = list((await session.scalars(statement)).all())
    if not ids:
        return []
    found = await session.scalars(select(Notification).where(Notification.id.in_(ids)))
    by_id = {n.id: n for n in found}
    return [by_id[i] for i in ids if i in by_id]


async def notify(
    session: AsyncSession,
    *,
    template: str,
    params: Mapping[str, Any],
    event: str,
    channels: Collection[Channel],
    case_id: str | None = None,
    applicant: bool = False,
    staff_ids: Sequence[str] = (),
    roles: Sequence[str] = (),
    webhook: Mapping[str, Any] | None = None,
) -> list[Notification]:
    """Enqueue one message for everyone named; return the rows added (none if seen before).

    ``event`` names the occurrence (e.g. ``f"opinion_issued:{opinion.id}"``): the same event
    enqueued twice is a no-op. ``channels`` are the configured external channels, normally
    ``configured_channels(settings)``. ``webhook`` is the JSON body for the approval system,
    sent only when ``Channel.approval_system`` is configured.
    """
    job = _Enqueue(event, case_id, render(template, params), _json(params), utcnow())
    contacts: list[Contact] = []
    if applicant:
        contacts.append(await _applicant_contact(session, case_id))
    contacts += await _staff_contacts(session, staff_ids)
    contacts += [Contact(Audience.role, str(role)) for role in dict.fromkeys(roles)]
    rows: list[dict[str, Any]] = []
    for contact in contacts:
        rows.append(job.row(contact.audience, contact.key, Channel.feed))
        rows += [
            job.row(contact.audience, contact.address(c), c) for c in _external(contact, channels)
        ]
    if webhook is not None and Channel.approval_system in channels:
        body = _json(webhook)
        rows.append(job.row(Audience.system, APPROVAL_RECIPIENT, Channel.approval_system, body))
    added = await _insert_new(session, rows)
    await session.flush()
    return added


def _json(value: Mapping[str, Any]) -> dict[str, Any]:
    """What the JSON column will hold; refuses values JSON cannot carry, before the insert."""
    try:
        clean: dict[str, Any] = json.loads(json.dumps(dict(value), ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"notification data must be JSON: {exc}") from exc
    return clean


def _feed_query(principal: Principal) -> Select[Notification]:
    query = select(Notification).where(Notification.channel == Channel.feed.value)
    if principal.kind == "applicant":
        return query.where(
            Notification.audience == Audience.applicant.value,
            Notification.case_id == principal.case_id,
        )
    mine = and_(
        Notification.audience == Audience.staff.value, Notification.recipient == principal.id
    )
    if principal.role is None:
        return query.where(mine)
    role = and_(
        Notification.audience == Audience.role.value, Notification.recipient == principal.role
    )
    return query.where(or_(mine, role))


async def feed_for(
    session: AsyncSession, principal: Principal, since: datetime | None = None
) -> list[Notification]:
    """The caller's in-app messages, newest first; ``since`` (aware, see server.timeinputs)
    keeps only later ones."""
    query = _feed_query(principal)
    if since is not None:
        query = query.where(Notification.created_at > since)
    query = query.order_by(Notification.created_at.desc(), Notification.id).limit(FEED_LIMIT)
    return list((await session.scalars(query)).all())


async def deliveries_for_case(session: AsyncSession, case_id: str) -> list[Notification]:
    """Every message of a case on every channel, oldest first: the delivery record."""
    query = (
        select(Notification)
        .where(Notification.case_id == case_id)
        .order_by(Notification.created_at, Notification.channel, Notification.id)
    )
    return list((await session.scalars(query)).all())
