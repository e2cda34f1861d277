"""The caller's address: the TCP peer, or what a configured trusted proxy says it forwarded.

One rule for every per-address limit (logins, token lookups, public verification). A client
can write any ``X-Forwarded-For`` it likes, so the header is believed only when the peer is a
proxy listed in ``trusted_proxies``, and only up to the first hop that is not one of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from fastapi import Request

from server.context import AppContext

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _canonical(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def resolve_client_address(peer: str, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client address: walk ``X-Forwarded-For`` from the right while hops are trusted."""
    networks = _networks(tuple(trusted))
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _canonical(hop)
        if address is None:  # garbage written by someone before our proxy: stop believing
            return client
        client = address
        if not _trusted(address, networks):
            return client
    return client


def client_address(request: Request) -> str:
    """The calling client's address for this request (see the module docstring)."""
    peer = request.client.host if request.client else UNKNOWN
    ctx: AppContext = request.app.state.ctx
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return resolve_client_address(peer, forwarded, ctx.settings.trusted_proxies)
