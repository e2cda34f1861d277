"""Staff accounts, their login sessions, and the login throttle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    inspector = "inspector"
    reviewer = "reviewer"
    window = "window"
    head = "head"  # 科室负责人: answers supervision orders, approves special procedures


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.admin: ("系统管理员", "Administrator"),
    Role.dispatcher: ("调度员", "Dispatcher"),
    Role.inspector: ("踏勘人员", "Inspector"),
    Role.reviewer: ("审核人员", "Reviewer"),
    Role.window: ("窗口人员", "Window staff"),
    Role.head: ("科室负责人", "Department head"),
}


class Staff(IdMixin, TimestampMixin, Base):
    """A bureau employee who logs in to the console."""

    __tablename__ = "staff"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    badge_number: Mapped[str] = mapped_column(String(32), default="")  # 执法证号
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StaffSession(IdMixin, TimestampMixin, Base):
    """One login. The bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "staff_sessions"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failure counters per username+address and per address (see ``auth.throttle``)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    last_failed_at: Mapped[datetime | None]


class ApiClient(IdMixin, TimestampMixin, Base):
    """A machine caller (e.g. the approval system) with scopes; its key is stored hashed."""

    __tablename__ = "api_clients"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated ``ClientScope`` values
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    rotated_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
