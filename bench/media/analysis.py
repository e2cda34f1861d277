"""What the clients received and what the recordings hold, read back with PyAV."""

from __future__ import annotations

import bisect
import statistics
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.media.common import FPS, read_counter


def analyse_clients(
    pub: dict[str, Any], sub: dict[str, Any], w0: float, w1: float
) -> dict[str, Any]:
    wall = w1 - w0
    per_sub = []
    joins, late = [], []
    latencies: list[float] = []
    lost = dups = expected_total = 0
    for s in sub["subs"]:
        vt = s["video_t"]
        fps = sum(1 for t in vt if w0 <= t < w1) / wall
        afps = sum(1 for t in s["audio_t"] if w0 <= t < w1) / wall
        first = s["first_key"] - s["start"] if s["first_key"] is not None else None
        after_ice = (
            s["first_key"] - s["connected"]
            if s["first_key"] is not None and s["connected"] is not None
            else None
        )
        entry = {
            "room": s["room"],
            "index": s["index"],
            "video_fps": round(fps, 2),
            "audio_pps": round(afps, 2),
            "join_to_first_frame_s": first,
            "ice_connected_to_first_frame_s": after_ice,
        }
        if first is not None:
            joins.append(first)
            if s["index"] == 1:
                late.append(first)
        if s["decoded"]:
            room_log = pub["rooms"][s["room"]]
            sends: dict[int, list[tuple[float, int]]] = {}
            for seq, (pos, t) in enumerate(
                zip(room_log["log_pos"], room_log["log_t"], strict=False)
            ):
                sends.setdefault(pos, []).append((t, seq))
            matched: set[int] = set()
            sub_lat = []
            d = 0
            for t, idx in zip(vt, s["video_idx"], strict=False):
                if not w0 <= t < w1:
                    continue
                cands = sends.get(idx, [])
                k = bisect.bisect_right(cands, (t, 1 << 30)) - 1
                if k < 0:
                    continue
                t_send, seq = cands[k]
                if seq in matched:
                    d += 1
                    continue
                matched.add(seq)
                sub_lat.append(t - t_send)
            expected = {seq for seq, t in enumerate(room_log["log_t"]) if w0 <= t < w1 - 1.0}
            miss = len(expected - matched)
            entry.update(
                frames_lost=miss,
                frames_duplicated=d,
                frames_expected=len(expected),
                latency_p50_ms=round(1000 * statistics.median(sub_lat), 1) if sub_lat else None,
                latency_p95_ms=round(1000 * float(np.percentile(sub_lat, 95)), 1)
                if sub_lat
                else None,
            )
            latencies += sub_lat
            lost += miss
            dups += d
            expected_total += len(expected)
        per_sub.append(entry)
    return {
        "min_subscriber_fps": min(e["video_fps"] for e in per_sub),
        "median_subscriber_fps": statistics.median(e["video_fps"] for e in per_sub),
        "min_subscriber_audio_pps": min(e["audio_pps"] for e in per_sub),
        "join_to_first_frame_median_s": statistics.median(joins) if joins else None,
        "late_joiner_first_frame_max_s": max(late) if len(late) == len(sub["subs"]) // 2 else None,
        "late_joiner_first_frame_median_s": statistics.median(late) if late else None,
        "late_joiners_without_video": len(sub["subs"]) // 2 - len(late),
        "decoded_frames_lost": lost,
        "decoded_frames_duplicated": dups,
        "decoded_frames_expected": expected_total,
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1)
        if latencies
        else None,
        "publisher_pli_jumps": [r["pli_jumps"] for r in pub["rooms"]],
        "subscribers": per_sub,
    }


def summarise_server(mode: str, srv: dict[str, Any]) -> Any:
    if mode != "ours":
        return srv["rooms"]
    out = {}
    for room, r in srv["rooms"].items():
        out[room] = {k: v for k, v in r.items() if k != "segments"}
        out[room]["segments"] = len(r.get("segments", []))
    return out


def decode_file(path: str, kind: str) -> dict[str, Any]:
    idx: list[int] = []
    samples = 0
    pts: list[float] = []
    info: dict[str, Any] = {}
    try:
        with av.open(path) as container:
            stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
            info["container_duration_s"] = (
                container.duration / 1e6 if container.duration is not None else None
            )
            info["packets"] = 0
            info["undecodable_packets"] = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                info["packets"] += 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    info["undecodable_packets"] += 1
                    continue
                for frame in frames:
                    if frame.pts is not None:
                        pts.append(float(frame.pts * frame.time_base))
                    if kind == "video":
                        idx.append(read_counter(frame.to_ndarray(format="gray")))
                    else:
                        samples += frame.samples
                        info["rate"] = frame.sample_rate
    except Exception as exc:
        info["error"] = repr(exc)
    info["frames"] = len(idx) if kind == "video" else None
    info["span_s"] = (max(pts) - min(pts)) if pts else 0.0
    if kind == "audio":
        info["audio_s"] = samples / info["rate"] if info.get("rate") else 0.0
    info["idx"] = idx
    return info


def align(sent: list[int], got: list[int]) -> dict[str, int]:
    """Recorded barcode sequence vs the publisher's sent loop positions (a subsequence)."""
    j, last, missing, dups, unmatched = 0, None, 0, 0, 0
    for r in got:
        if last is not None and sent[last] == r:
            dups += 1
            continue
        k = next((i for i in range(j, min(len(sent), j + 400)) if sent[i] == r), None)
        if k is None:
            unmatched += 1
            continue
        if last is not None:
            missing += k - last - 1
        last, j = k, k + 1
    return {"missing": missing, "duplicated": dups, "unreadable_or_unmatched": unmatched}


def fix_empty_recording(entry: dict[str, Any]) -> None:
    """A recording with no video frame misses everything the phone sent, not nothing."""
    if entry.get("frames_decoded") == 0:
        entry["barcode_vs_sent"]["missing"] = entry["publisher_frames_sent"]
        entry["no_video_in_recording"] = True


def verify_recordings(
    mode: str, srv: dict[str, Any], pub: dict[str, Any], rooms: int
) -> dict[str, Any]:
    per_room = []
    for room_key, r in sorted(srv["rooms"].items(), key=lambda kv: int(kv[0])):
        room = int(room_key)
        if room >= rooms:
            continue
        sent = pub["rooms"][room]["log_pos"]
        if mode == "ours":
            segs = sorted(r["segments"], key=lambda s: (s["track"], s["seq"]))
            vids = [
                decode_file(s["file"], "video") for s in segs if s["track"] == "applicant.video"
            ]
            auds = [
                decode_file(s["file"], "audio") for s in segs if s["track"] == "applicant.audio"
            ]
            idx = [i for v in vids for i in v["idx"]]
            rec = r["recorders"].get("applicant.video", {})
            entry = {
                "segments_video": len(vids),
                "segments_audio": len(auds),
                "decode_errors": [v["error"] for v in vids + auds if "error" in v],
                "frames_decoded": len(idx),
                "packets_in_files": sum(v.get("packets", 0) for v in vids),
                "undecodable_packets": sum(v.get("undecodable_packets", 0) for v in vids),
                "server_received": rec.get("received"),
                "server_recorded": rec.get("recorded"),
                "skipped_before_first_keyframe": rec.get("skipped_before_keyframe"),
                # frames the server received but whose packet is not in the files
                "missing_vs_server_received": (rec.get("received") or 0)
                - (rec.get("skipped_before_keyframe") or 0)
                - sum(v.get("packets", 0) for v in vids),
                "server_received_of_sent": round((rec.get("received") or 0) / max(1, len(sent)), 4),
                "video_s": round(sum(v["span_s"] + 1 / FPS for v in vids), 2),
                "audio_s": round(sum(a.get("audio_s", 0.0) for a in auds), 2),
            }
        else:
            v = (
                decode_file(r["file"], "video")
                if r.get("file") and Path(r["file"]).exists()
                else {"idx": [], "error": "no file"}
            )
            a = (
                decode_file(r["file"], "audio")
                if r.get("file") and Path(r["file"]).exists()
                else {}
            )
            idx = v["idx"]
            entry = {
                "frames_decoded": len(idx),
                "packets_in_file": v.get("packets"),
                "undecodable_packets": v.get("undecodable_packets"),
                "decode_errors": [e for e in (v.get("error"), a.get("error")) if e],
                "container_duration_s": v.get("container_duration_s"),
                "video_s": round(v.get("span_s", 0.0), 2),
                "audio_s": round(a.get("audio_s", 0.0), 2),
                "recorder_stop_error": r.get("recorder_stop_error"),
            }
        entry["publisher_frames_sent"] = len(sent)
        entry["barcode_vs_sent"] = align(sent, idx)
        fix_empty_recording(entry)
        entry["room"] = room
        per_room.append(entry)
    return {
        "rooms_checked": len(per_room),
        "total_missing_vs_sent": sum(e["barcode_vs_sent"]["missing"] for e in per_room),
        "total_missing_vs_server_received": (
            sum(e["missing_vs_server_received"] for e in per_room) if mode == "ours" else None
        ),
        "per_room": per_room,
    }
