"""Request and response bodies for login and staff administration."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, model_validator

from server.auth.models import Role
from server.auth.passwords import MIN_PASSWORD_LENGTH


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    display_name: str
    role: Role
    organisation: str
    active: bool


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    staff: StaffOut


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    organisation: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=32)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    organisation: str | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=200)


class UnlockIn(BaseModel):
    """Whose login back-off to clear: a username (from every address), an address, or both."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, min_length=1, max_length=64)
    address: IPvAnyAddress | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.username is None and self.address is None:
            raise ValueError("username or address is required / 请填写用户名或地址")
        return self


class UnlockOut(BaseModel):
    cleared: int  # counters removed
