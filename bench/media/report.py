"""Runs the plan, summarises the runs, writes the JSON and prints the table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import av

from bench.media.analysis import fix_empty_recording
from bench.media.common import TARGETS
from bench.media.run import run_once


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiortc
    import psutil

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "av": av.__version__,
        "psutil": psutil.__version__,
        "loadavg_at_start": os.getloadavg(),
    }


KEYS = [
    "server_cores",
    "server_cores_per_room",
    "server_parent_cores",
    "server_busiest_process_cores",
    "implied_capacity_rooms",
    "server_loop_thread_cores",
    "min_subscriber_fps",
    "min_subscriber_audio_pps",
    "late_joiner_first_frame_max_s",
    "join_to_first_frame_median_s",
    "latency_p50_ms",
    "server_rss_growth_mb",
    "publisher_cores",
    "subscriber_cores",
    "machine_busy_cores",
    "decoded_frames_lost",
    "decoded_frames_duplicated",
]


def config_name(run: dict[str, Any]) -> str:
    """``ours@12 (2 workers)``, ``ours@12 (in-process)``, ``stock@1``; `` pinned`` if so."""
    name = f"{run['mode']}@{run['rooms']}"
    if run["mode"] == "ours":
        workers = run.get("workers", 0)  # runs merged from before the workers: in-process
        name += f" ({workers} workers" if workers else " (in-process"
        name += ", uvloop)" if run.get("event_loop") == "uvloop" else ")"
    return name + (" pinned" if run.get("pinned") else "")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(config_name(run), []).append(run)
    out = {}
    for name, group in groups.items():
        ok = [r for r in group if "error" not in r]
        entry: dict[str, Any] = {"runs": len(group), "failed_runs": len(group) - len(ok)}
        for key in KEYS:
            values = [r[key] for r in ok if r.get(key) is not None]
            if values:
                entry[key] = {
                    "min": min(values),
                    "median": statistics.median(values),
                    "max": max(values),
                }
        ingress = [
            min(e["server_received_of_sent"] for e in r["recording"]["per_room"])
            for r in ok
            if r.get("recording", {}).get("per_room")
            and "server_received_of_sent" in r["recording"]["per_room"][0]
        ]
        if ingress:
            entry["server_received_of_sent_worst_room"] = {"min": min(ingress), "max": max(ingress)}
        missing = [r["recording"]["total_missing_vs_sent"] for r in ok if "recording" in r]
        if missing:
            entry["recording_missing_vs_sent"] = {"min": min(missing), "max": max(missing)}
        missing_srv = [
            r["recording"]["total_missing_vs_server_received"]
            for r in ok
            if r.get("recording", {}).get("total_missing_vs_server_received") is not None
        ]
        if missing_srv:
            entry["recording_missing_vs_server_received"] = {
                "min": min(missing_srv),
                "max": max(missing_srv),
            }
        out[name] = entry
    return out


def fmt(entry: dict[str, Any], key: str, digits: int = 3) -> str:
    v = entry.get(key)
    if not v:
        return "n/a"
    if v["min"] == v["max"]:
        return f"{v['median']:.{digits}f}"
    return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}–{v['max']:.{digits}f})"


def failed_note(entry: dict[str, Any]) -> str:
    return f" ({entry['failed_runs']} failed)" if entry["failed_runs"] else ""


def markdown(summary: dict[str, Any]) -> str:
    rows = [
        "| config | runs | server cores (all processes) | cores / room | busiest process "
        "| implied capacity (rooms) | min inspector fps "
        "| late joiner 1st frame (s, worst) | join→1st frame median (s) | latency p50 (ms) "
        "| recording missing (vs sent / vs server rx) | server RSS growth (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in summary.items():
        rec = e.get("recording_missing_vs_sent")
        srv = e.get("recording_missing_vs_server_received")
        rec_s = f"{rec['min']}–{rec['max']}" if rec else "n/a"
        srv_s = f"{srv['min']}–{srv['max']}" if srv else "n/a"
        rows.append(
            f"| {name} | {e['runs']}{failed_note(e)} "
            f"| {fmt(e, 'server_cores')} | {fmt(e, 'server_cores_per_room')} "
            f"| {fmt(e, 'server_busiest_process_cores', 2)} "
            f"| {fmt(e, 'implied_capacity_rooms', 0)} "
            f"| {fmt(e, 'min_subscriber_fps', 1)} | {fmt(e, 'late_joiner_first_frame_max_s', 2)} "
            f"| {fmt(e, 'join_to_first_frame_median_s', 2)} | {fmt(e, 'latency_p50_ms', 0)} "
            f"| {rec_s} / {srv_s} | {fmt(e, 'server_rss_growth_mb', 1)} |"
        )
    return "\n".join(rows)


def ratios(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    stock1 = summary.get("stock@1", {}).get("server_cores_per_room")
    if stock1:
        for name, e in summary.items():
            if name.startswith("ours@") and e.get("server_cores_per_room"):
                out[f"stock@1 / {name} (cores per room, medians)"] = round(
                    stock1["median"] / e["server_cores_per_room"]["median"], 1
                )
    return out


def merge_previous(
    path: Path, runs: list[dict[str, Any]], machine: dict[str, Any]
) -> list[dict[str, Any]]:
    """--merge: the runs already in `path` (re-checked), then these."""
    previous = json.loads(path.read_text())
    for run in previous.get("runs", []):
        rec = run.get("recording")
        if rec and rec.get("per_room"):
            for entry in rec["per_room"]:
                fix_empty_recording(entry)
            rec["total_missing_vs_sent"] = sum(
                e["barcode_vs_sent"]["missing"] for e in rec["per_room"]
            )
    machine["earlier_invocations"] = previous.get("machine", {})
    return [*previous.get("runs", []), *runs]


def orchestrate(args: argparse.Namespace) -> None:
    if args.quick:
        args.rooms, args.stock_rooms, args.window, args.repeats = "1", "1", 10.0, 1
    plan = []
    for _ in range(args.repeats):
        if "ours" in args.modes:
            loops = [loop for loop in args.event_loops.split(",") if loop]
            plan += [("ours", int(n), loop) for n in args.rooms.split(",") if n for loop in loops]
        if "stock" in args.modes:
            plan += [("stock", int(n), "asyncio") for n in args.stock_rooms.split(",") if n]
    started = time.time()
    runs = []
    machine = machine_info()
    for mode, rooms, loop in plan:
        print(f"[media_rooms] {mode} x {rooms} rooms ({loop}) ...", flush=True)
        t = time.time()
        run = run_once(mode, rooms, args, loop)
        run["run_seconds"] = round(time.time() - t, 1)
        run["loadavg_after"] = os.getloadavg()
        runs.append(run)
        brief = {
            k: run.get(k)
            for k in (
                "workers",
                "server_cores",
                "server_worker_cores",
                "server_cores_per_room",
                "implied_capacity_rooms",
                "min_subscriber_fps",
                "late_joiner_first_frame_max_s",
                "error",
            )
        }
        print(f"[media_rooms]   {json.dumps(brief, default=str)}", flush=True)
    if args.merge and Path(args.out).exists():
        runs = merge_previous(Path(args.out), runs, machine)
    summary = summarise(runs)
    table = markdown(summary)
    out = {
        "benchmark": "media_rooms",
        "command": " ".join(["python -m bench.media_rooms", *sys.argv[1:]]),
        "machine": machine,
        "settings": {
            "workers": args.workers,
            "window_s": args.window,
            "settle_s": args.settle,
            "late_joiner_s": args.late,
            "decode_rooms": args.decode_rooms,
            "video": "640x480@30 VP8 pre-encoded loop, 300 frames, "
            "~1 Mb/s, keyframe every 60, PLI honoured (jump to next loop keyframe)",
            "audio": "Opus 48 kHz stereo 20 ms, 1 s loop",
        },
        "targets": TARGETS,
        "summary": summary,
        "ratios": ratios(summary),
        "markdown": table,
        "total_seconds": round(time.time() - started, 1),
        "runs": runs,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    path.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(json.dumps(out["ratios"], indent=1))
    print(f"[media_rooms] wrote {path} in {out['total_seconds']} s")
