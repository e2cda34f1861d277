"""Bearer tokens: random, prefixed by kind, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

STAFF_PREFIX = "st_"
APPLICANT_PREFIX = "ap_"
CLIENT_PREFIX = "ak_"  # API clients (machines): 256-bit keys, rotatable


def new_token(prefix: str, nbytes: int = 32) -> tuple[str, str]:
    """Return ``(token, hash)``; ``nbytes`` of randomness (≥ 16 = 128 bits)."""
    if nbytes < 16:
        raise ValueError("tokens need at least 128 bits of randomness")
    token = prefix + secrets.token_urlsafe(nbytes)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
