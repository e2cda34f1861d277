"""``cloudinspect catalog validate [path]``: check the catalogue files before they ship."""

from __future__ import annotations

import sys
from pathlib import Path

from checklists.loader import DEFAULT_CATALOGUE_DIR, load_catalogue, validate_catalogue


def validate_command(path: Path | None) -> int:
    """Print every problem (``file:line: 中文 / English``); exit status 0 when valid, else 1."""
    directory = path or DEFAULT_CATALOGUE_DIR
    issues = validate_catalogue(directory)
    if issues:
        for issue in issues:
            print(issue, file=sys.stderr)
        print(
            f"目录无效：{len(issues)} 处问题 / catalogue invalid: {len(issues)} problem(s)",
            file=sys.stderr,
        )
        return 1
    catalogue = load_catalogue(directory)
    items = len(catalogue.shared_items) + sum(len(m.items) for m in catalogue.matters)
    codes = "、".join(m.code for m in catalogue.matters)
    print(
        f"目录有效 / catalogue valid: version {catalogue.version}, "
        f"{len(catalogue.matters)} matters ({codes}), {items} items, "
        f"fingerprint {catalogue.fingerprint[:12]}"
    )
    return 0
