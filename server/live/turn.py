"""Time-limited TURN credentials in coturn's REST format (``use-auth-secret``), issued at join.

username = "<expiry unix time>:<user>", password = base64(HMAC-SHA1(secret, username)); coturn
recomputes the password from its shared secret and refuses the username once it has expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from server.config import Settings


@dataclass(frozen=True, slots=True)
class IceServer:
    """One entry of ``RTCConfiguration.iceServers`` as the browser wants it."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"urls": self.urls}
        if self.username is not None:
            out["username"], out["credential"] = self.username, self.credential
        return out


def turn_credentials(secret: str, user: str, ttl: int, now: datetime) -> tuple[str, str]:
    """coturn REST credentials valid for ``ttl`` seconds from ``now``."""
    if not secret:
        raise ValueError("no TURN secret configured")
    if ttl <= 0:
        raise ValueError("TURN credential lifetime must be positive")
    username = f"{int(now.timestamp()) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, participant_id: str, now: datetime) -> list[IceServer]:
    """STUN as configured, and TURN with fresh credentials when a secret is set."""
    servers = [IceServer(list(settings.stun_urls))] if settings.stun_urls else []
    secret = settings.turn_secret.get_secret_value()
    if settings.turn_urls and secret:
        username, password = turn_credentials(
            secret, participant_id, settings.turn_ttl_seconds, now
        )
        servers.append(IceServer(list(settings.turn_urls), username, password))
    return servers
