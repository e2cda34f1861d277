"""Request and response bodies for login, staff administration and API clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    StringConstraints,
    model_validator,
)

from server.auth import clients
from server.auth.clients import ClientScope, IssuedKey
from server.auth.models import ApiClient, Role
from server.auth.passwords import MIN_PASSWORD_LENGTH

# 执法证号: letters, digits and a few separators (some carry a province character)
BadgeNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[\w\-/（）()]*$")
]


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
    phone: str
    badge_number: str  # 执法证号
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
    badge_number: BadgeNumber = ""  # 执法证号, shown to the applicant
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    organisation: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    badge_number: BadgeNumber | None = None
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


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100)
    scopes: list[ClientScope] = Field(min_length=1)


class ApiClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    scopes: list[ClientScope] | None = Field(default=None, min_length=1)


class ApiClientOut(BaseModel):
    id: str
    name: str
    scopes: list[ClientScope]
    active: bool
    created_at: datetime
    rotated_at: datetime | None
    last_used_at: datetime | None


class ApiClientKeyOut(ApiClientOut):
    key: str  # shown only in this response; present it as ``Authorization: Bearer <key>``


def client_out(client: ApiClient) -> ApiClientOut:
    return ApiClientOut(
        id=client.id,
        name=client.name,
        scopes=[ClientScope(s) for s in sorted(clients.scopes_of(client))],
        active=client.active,
        created_at=client.created_at,
        rotated_at=client.rotated_at,
        last_used_at=client.last_used_at,
    )


def key_out(issued: IssuedKey) -> ApiClientKeyOut:
    return ApiClientKeyOut(**client_out(issued.client).model_dump(), key=issued.key)
