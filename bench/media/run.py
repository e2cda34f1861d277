"""One measured run: start the three processes, sample CPU over the window, collect."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.media.analysis import analyse_clients, summarise_server, verify_recordings
from bench.media.common import ROOT


class Child:
    def __init__(self, name: str, argv: list[str], work: Path) -> None:
        self.name = name
        self.stderr_path = work / f"{name}.stderr"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.media_rooms", *argv],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_path.open("w"),
            text=True,
            bufsize=1,
        )

    def expect(self, prefix: str, seconds: float) -> str:
        import selectors

        sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith(prefix):
                    return line.strip()
        raise RuntimeError(f"{self.name}: no {prefix!r}; stderr tail:\n{self.stderr_tail()}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.stderr_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # only this child, by its own handle
            self.proc.wait()


def pin(pids: list[int], cpus: list[int], args: argparse.Namespace) -> None:
    """--pin: the server (all its processes) on CPU 0, load generators on CPU 1."""
    if args.pin:
        import psutil

        for pid in pids:
            psutil.Process(pid).cpu_affinity(cpus)


def process_tree(pid: int) -> list[int]:
    """`pid` and every process under it (the server's media workers and helpers)."""
    import psutil

    root = psutil.Process(pid)
    return [pid, *(child.pid for child in root.children(recursive=True))]


def cpu_sample(pid: int) -> dict[str, float]:
    """User+sys CPU of all threads, of the main (event-loop) thread, and RSS of one process."""
    import psutil

    proc = psutil.Process(pid)
    times = proc.cpu_times()
    loop = next((t.user_time + t.system_time for t in proc.threads() if t.id == pid), 0.0)
    return {
        "cpu": times.user + times.system,
        "loop": loop,
        "rss": proc.memory_info().rss,
    }


def tree_sample(pid: int) -> dict[int, dict[str, float]]:
    """`cpu_sample` of every process of the tree rooted at `pid`, by pid."""
    import psutil

    samples = {}
    for member in process_tree(pid):
        try:
            samples[member] = cpu_sample(member)
        except psutil.NoSuchProcess:
            continue
    return samples


def server_figures(
    before: dict[int, dict[str, float]],
    after: dict[int, dict[str, float]],
    wall: float,
    server_pid: int,
    worker_pids: list[int],
) -> dict[str, Any]:
    """Server CPU over the window: the parent plus every worker (and helper) process."""
    common = sorted(before.keys() & after.keys())
    cores = {pid: (after[pid]["cpu"] - before[pid]["cpu"]) / wall for pid in common}
    loops = {pid: (after[pid]["loop"] - before[pid]["loop"]) / wall for pid in common}
    return {
        "server_cores": sum(cores.values()),
        "server_parent_cores": cores.get(server_pid, 0.0),
        "server_worker_cores": [round(cores.get(pid, 0.0), 4) for pid in worker_pids],
        "server_worker_loop_thread_cores": [round(loops.get(pid, 0.0), 4) for pid in worker_pids],
        "server_busiest_process_cores": max(cores.values(), default=0.0),
        "server_loop_thread_cores": sum(loops.values()),
        "server_processes": len(common),
        "server_processes_gone_in_window": sorted(before.keys() - after.keys()),
        "server_rss_start_mb": sum(before[pid]["rss"] for pid in common) / 2**20,
        "server_rss_growth_mb": sum(after[pid]["rss"] - before[pid]["rss"] for pid in common)
        / 2**20,
    }


def machine_busy() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(
        t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
    )


def start_server(
    mode: str, work: Path, args: argparse.Namespace, event_loop: str
) -> tuple[Child, int, list[int]]:
    """The server process; returns it, its signaling port and its media workers' pids."""
    argv = ["--role", "server", "--mode", mode, "--workers", str(args.workers)]
    argv += ["--event-loop", event_loop]
    server = Child("server", [*argv, "--work", str(work), "--out", str(work / "server.json")], work)
    _, port, workers = server.expect("ready", 120).split()
    worker_pids = [int(pid) for pid in workers.split(",") if pid != "-"]
    pin(process_tree(server.proc.pid), [0], args)
    return server, int(port), worker_pids


def start_clients(port: int, rooms: int, work: Path, args: argparse.Namespace) -> list[Child]:
    """Every phone connected, then every inspector joined (inspector 1 `--late` s later)."""
    common = ["--port", str(port), "--rooms", str(rooms)]
    out = ["--out", str(work / "pub.json")]
    publisher = Child("publisher", ["--role", "publisher", *common, *out], work)
    clients = [publisher]
    try:
        pin([publisher.proc.pid], [1], args)
        publisher.expect("connected", 90)
        subscriber = Child(
            "subscriber",
            [
                "--role",
                "subscriber",
                *common,
                "--late",
                str(args.late),
                "--decode-rooms",
                str(args.decode_rooms),
                "--out",
                str(work / "sub.json"),
            ],
            work,
        )
        clients.append(subscriber)
        pin([subscriber.proc.pid], [1], args)
        t0 = float(subscriber.expect("joined0", 90).split()[1])
        subscriber.expect("joined1", 90 + args.late)
    except Exception:
        for child in clients:
            child.stop()
        raise
    time.sleep(max(0.0, t0 + args.late + args.settle - time.monotonic()))
    return clients


def measure_window(
    server: Child, worker_pids: list[int], clients: list[Child], rooms: int, window: float
) -> dict[str, Any]:
    """CPU of the server's process tree and of the clients over `window` seconds."""
    server_before = tree_sample(server.proc.pid)
    clients_before = [cpu_sample(c.proc.pid) for c in clients]
    busy0, w0 = machine_busy(), time.monotonic()
    time.sleep(window)
    server_after = tree_sample(server.proc.pid)
    clients_after = [cpu_sample(c.proc.pid) for c in clients]
    busy1, w1 = machine_busy(), time.monotonic()
    wall = w1 - w0
    figures = server_figures(server_before, server_after, wall, server.proc.pid, worker_pids)
    processes = max(1, len(worker_pids))  # media processes, each good for about one core
    per_room = figures["server_cores"] / rooms
    return figures | {
        "window": [w0, w1],
        "media_processes": processes,
        "server_cores_per_room": per_room,
        "implied_capacity_rooms": processes / per_room if per_room else None,
        "publisher_cores": (clients_after[0]["cpu"] - clients_before[0]["cpu"]) / wall,
        "subscriber_cores": (clients_after[1]["cpu"] - clients_before[1]["cpu"]) / wall,
        "machine_busy_cores": (busy1 - busy0) / wall,
    }


def run_once(
    mode: str, rooms: int, args: argparse.Namespace, event_loop: str = "uvloop"
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"media_rooms_{mode}{rooms}_"))
    children: list[Child] = []
    workers = args.workers if mode == "ours" else 0
    result: dict[str, Any] = {
        "mode": mode,
        "rooms": rooms,
        "workers": workers,
        "event_loop": event_loop if workers else "asyncio",
        "work": str(work),
        "pinned": args.pin,
    }
    try:
        server, port, worker_pids = start_server(mode, work, args, event_loop)
        children.append(server)
        result["worker_pids"] = worker_pids
        clients = start_clients(port, rooms, work, args)
        children += clients
        result.update(measure_window(server, worker_pids, clients, rooms, args.window))
        publisher, subscriber = clients
        subscriber.send("stop")
        subscriber.expect("done", 60)
        server.send("close")
        server.expect("done", 180)
        publisher.send("stop")
        publisher.expect("done", 60)
        for child in children:
            child.proc.wait(30)
        w0, w1 = result["window"]
        pub = json.loads((work / "pub.json").read_text())
        sub = json.loads((work / "sub.json").read_text())
        srv = json.loads((work / "server.json").read_text())
        result.update(analyse_clients(pub, sub, w0, w1))
        result["server_stats"] = summarise_server(mode, srv)
        result["recording"] = verify_recordings(mode, srv, pub, args.verify_rooms)
        result["server_stderr_warnings"] = count_warnings(server.stderr_path)
    except Exception as exc:
        result["error"] = repr(exc)
        for child in children:
            result[f"{child.name}_stderr"] = child.stderr_tail()
    finally:
        for child in children:
            child.stop()  # the server's workers exit by themselves when it is gone
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def count_warnings(path: Path) -> dict[str, Any]:
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = [line for line in text.splitlines() if "Error" in line or "WARNING" in line]
    return {"count": len(lines), "first": lines[:3]}
