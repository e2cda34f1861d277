"""Development secrets, generated on first run into the data dir and never committed."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from server.config import PLACEHOLDER, Settings

SECRET_NAMES = ("secret_key", "s3_access_key", "s3_secret_key")


def _load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {
        "secret_key": secrets.token_urlsafe(32),
        "s3_access_key": "ci" + secrets.token_hex(9),
        "s3_secret_key": secrets.token_urlsafe(30),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


def with_dev_secrets(settings: Settings) -> Settings:
    """Fill placeholder secrets from ``data_dir/dev-secrets.json`` outside production."""
    if not settings.is_development:
        return settings
    missing = [n for n in SECRET_NAMES if getattr(settings, n).get_secret_value() == PLACEHOLDER]
    if not missing:
        return settings
    values = _load_or_create(settings.data_dir / "dev-secrets.json")
    return settings.model_copy(update={n: SecretStr(values[n]) for n in missing})
