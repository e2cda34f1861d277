"""The checklist catalogue as the server uses it: loaded once at start-up, refused if invalid."""

from __future__ import annotations

import asyncio
from pathlib import Path

from checklists.loader import CatalogueError, load_catalogue
from checklists.schema import Catalogue
from server.cases.service import MatterLookup, MatterSettings


class InvalidCatalogue(RuntimeError):
    """The app refuses to start on a catalogue that does not validate."""


async def load(path: Path | None) -> Catalogue:
    try:
        return await asyncio.to_thread(load_catalogue, path)
    except CatalogueError as exc:
        lines = "\n".join(f"  {issue}" for issue in exc.errors)
        raise InvalidCatalogue(
            f"检查项目录无效，拒绝启动 / the checklist catalogue is invalid:\n{lines}"
        ) from exc


def matter_lookup(catalogue: Catalogue) -> MatterLookup:
    by_code = {
        m.code: MatterSettings(
            m.code, m.name, m.default_mode.value, m.default_sla.value, m.needs_inspection
        )
        for m in catalogue.matters
    }
    return by_code.get
