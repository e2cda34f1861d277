"""Run the benchmarks: ``python -m bench`` runs each in its quick mode; ``python -m bench NAME
[ARGS]`` runs one with its own options (see bench/README.md)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def names() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and not m.ispkg
    )


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(names()))
        return 0
    if argv and argv[0] not in names():
        print(f"no benchmark {argv[0]!r}; there are: {', '.join(names())}", file=sys.stderr)
        return 2
    if argv:
        return subprocess.call([sys.executable, "-m", f"bench.{argv[0]}", *argv[1:]])
    status = 0
    for name in names():
        print(f"== bench.{name} --quick", flush=True)
        status |= subprocess.call([sys.executable, "-m", f"bench.{name}", "--quick"])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
