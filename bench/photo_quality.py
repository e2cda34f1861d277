"""Benchmark: photo quality at capture (``media/quality.py``) on the generated set.

    .venv/bin/python -m bench.photo_quality            # 8 scenes × 10 variants, 5 timed runs
    .venv/bin/python -m bench.photo_quality --quick    # 2 scenes, 1 run; writes nothing

The set is ``tests.images.quality_set``: sharp textured scenes of 1600×1200 (an uploaded
photo's display size) and their Gaussian-blurred, darkened and overexposed variants, each
encoded as a JPEG as a phone would send it. For every photo it records the measured numbers
and the flags, and prints how far apart the classes lie on each number (the separation the
thresholds sit in). Time per photo, both measured in the same run, alternating:

* ``baseline: decode``: ``cv2.imdecode`` of the JPEG in colour, nothing else;
* ``quality``: ``assess_encoded``, what finalize runs (reduced grey decode + the measures).

Writes ``bench/results/photo_quality.json`` + ``.md`` and the "Photo quality" section of
``bench/README.md`` (only that section).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from media import quality
from tests.images import QUALITY_CLASSES, encoded, quality_set

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START = "<!-- photo_quality:start -->"
END = "<!-- photo_quality:end -->"
NUMBERS = ("sharpness", "mean", "dark_share", "white_share")
SHOWN = {"sharpness": "{:.0f}", "mean": "{:.1f}", "dark_share": "{:.2f}", "white_share": "{:.2f}"}


def _decode(data: bytes) -> None:
    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _assess(data: bytes) -> None:
    quality.assess_encoded(data)


def _time_per_photo(photos: list[bytes], work: Callable[[bytes], None]) -> float:
    started = time.perf_counter()
    for data in photos:
        work(data)
    return (time.perf_counter() - started) / len(photos)


def measure(seeds: int) -> list[dict[str, Any]]:
    rows = []
    for kind, variant, picture in quality_set(range(seeds)):
        data = encoded(picture)
        measured = quality.assess_encoded(data)
        expected = [] if kind == "sharp" else [kind]
        rows.append(
            {
                "class": kind,
                "variant": variant,
                "bytes": len(data),
                **{name: getattr(measured, name) for name in NUMBERS},
                "flags": list(measured.flags),
                "right": list(measured.flags) == expected,
            }
        )
    return rows


def separation(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per class and number: [min, median, max]."""
    out: dict[str, dict[str, list[float]]] = {}
    for kind in QUALITY_CLASSES:
        mine = [r for r in rows if r["class"] == kind]
        out[kind] = {
            name: [
                round(min(r[name] for r in mine), 3),
                round(statistics.median(r[name] for r in mine), 3),
                round(max(r[name] for r in mine), 3),
            ]
            for name in NUMBERS
        }
    return out


def timing(seeds: int, runs: int) -> dict[str, float]:
    photos = [encoded(picture) for _, _, picture in quality_set(range(seeds))]
    samples: dict[str, list[float]] = {"baseline: decode": [], "quality": []}
    for _ in range(runs):  # alternate so background load hits both alike
        samples["baseline: decode"].append(_time_per_photo(photos, _decode))
        samples["quality"].append(_time_per_photo(photos, _assess))
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def run(seeds: int, runs: int) -> dict[str, Any]:
    rows = measure(seeds)
    sharp = [r["sharpness"] for r in rows if r["class"] == "sharp"]
    blurred = [r["sharpness"] for r in rows if r["class"] == "blurred"]
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "photos": len(rows),
        "runs": runs,
        "thresholds": quality.PhotoQuality(0, 0, 0, 0, ()).as_dict()["thresholds"],
        "work_side": quality.WORK_SIDE,
        "right": sum(r["right"] for r in rows),
        "wrong": [r for r in rows if not r["right"]],
        "separation": separation(rows),
        "blur_gap": {"sharp_min": min(sharp), "blurred_max": max(blurred)},
        "ms_per_photo": timing(seeds, runs),
    }


def markdown(result: dict[str, Any]) -> str:
    sep, ms, t = result["separation"], result["ms_per_photo"], result["thresholds"]
    lines = [
        f"{result['photos']} generated photos (1600×1200 JPEG, quality 90), "
        f"{result['right']} flagged as their class, {len(result['wrong'])} not; "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}.",
        "",
        "| class | sharpness (min / median / max) | mean | near-black share | near-white share |",
        "|---|---|---|---|---|",
    ]
    for kind, numbers in sep.items():
        cells = [" / ".join(SHOWN[name].format(v) for v in numbers[name]) for name in NUMBERS]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    gap = result["blur_gap"]
    lines += [
        "",
        f"Blur threshold {t['blur_below']:g}: the least sharp sharp scene scores "
        f"{gap['sharp_min']:.0f}, the sharpest blurred one {gap['blurred_max']:.0f}. "
        f"Too dark below mean {t['dark_mean_below']:g} or above {t['dark_share_above']:g} "
        f"near black; overexposed above mean {t['bright_mean_above']:g} or above "
        f"{t['white_share_above']:g} near white.",
        "",
        "| per photo (median of runs) | ms |",
        "|---|---:|",
        *[f"| {name} | {value:.2f} |" for name, value in ms.items()],
    ]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "photo_quality.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "photo_quality.md").write_text(markdown(result))
    text = README.read_text()
    section = f"{START}\n{markdown(result)}{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 scenes, 1 run; writes nothing")
    args = parser.parse_args()
    result = run(2, 1) if args.quick else run(args.seeds, args.runs)
    if not args.quick:
        write(result)
    print(markdown(result))


if __name__ == "__main__":
    main()
