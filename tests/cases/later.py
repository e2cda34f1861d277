"""Moving the clock the applicant's link is checked against, without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.auth import service as auth_service
from server.db import utcnow


def link_clock_at(monkeypatch: pytest.MonkeyPatch, ahead: timedelta) -> datetime:
    """From now on, links are checked ``ahead`` of the real time (the seam: the ``utcnow``
    that ``server.auth.service`` reads); returns the moment they are checked at."""
    monkeypatch.setattr(auth_service, "utcnow", lambda: utcnow() + ahead)
    return utcnow() + ahead
