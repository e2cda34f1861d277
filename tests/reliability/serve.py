"""Entry point of the drills' server process: the app under uvicorn, as ``cloudinspect run``
serves it (without migrating or creating demo data: the test database is migrated already).

``DRILL_COMMIT_DELAY_MS`` makes every database commit wait that long first, as a slow disk's
fsync would. It widens the moment between a response and a late commit, so a drill against
code that answered before committing (issue #13 defect 1) loses acknowledged writes every
time instead of once in a while.
"""

from __future__ import annotations

import os
import time
from typing import Any

import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine

from server.app import create_app
from server.config import Settings

DELAY_VARIABLE = "DRILL_COMMIT_DELAY_MS"


def slow_commits(seconds: float) -> None:
    def wait(_connection: Any) -> None:
        time.sleep(seconds)  # blocks the loop too, as a stalled fsync does

    event.listen(Engine, "commit", wait)


def main() -> None:
    delay_ms = float(os.environ.get(DELAY_VARIABLE, "0"))
    if delay_ms > 0:
        slow_commits(delay_ms / 1000)
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
