"""Benchmark: media rooms per core, zero-transcode passthrough vs aiortc's stock path.

    .venv/bin/python -m bench.media_rooms                 # ours @1,12 rooms; stock @1,2; x2
    .venv/bin/python -m bench.media_rooms --quick         # 1 room each mode, 10 s window
    .venv/bin/python -m bench.media_rooms --seconds 10 --rooms 1,4 --stock-rooms 1 --repeats 1
    .venv/bin/python -m bench.media_rooms --modes ours --rooms 12 --repeats 3 --workers 0

One room = one phone (640x480 @ 30 fps VP8 + Opus) -> two inspectors + recording. Three
client-facing OS processes, as in shared/reference/media-passthrough.md section 1:

* server (``--role server``): answers offers received as JSON lines over loopback TCP.
  ``ours`` = ``media.peers.PeerSession`` per room (recording on, segments hard-linked aside
  by the sink) in ``--workers`` media worker processes (``media.workers``; default one per
  core; 0 = in the server process), each room pinned to the worker with the fewest rooms,
  segments handed back to the server process as the web app does; ``stock`` = aiortc
  ``MediaRelay`` (a VP8 re-encode per subscriber) + ``MediaRecorder`` to ``.webm``, in the
  server process.
* publisher (``--role publisher``): every phone. A light load generator: a pre-encoded VP8
  loop (10 s of a barcode pattern, libvpx realtime ~1 Mb/s, keyframe every 60 frames) and a
  1 s Opus loop, sent as ``av.Packet`` s (the sender only ``pack()`` s them). It honours PLI by
  jumping to the next keyframe of the loop.
* subscriber (``--role subscriber``): every inspector. Inspector 0 joins first, inspector 1
  ``--late`` seconds later. Tracks are counted without decoding (the project's passthrough
  receiver hook), except the video of the first ``--decode-rooms`` rooms, which is decoded
  to read the barcode (frames lost / duplicated and latency on one monotonic clock).

Server CPU = psutil ``cpu_times`` (user+sys, all threads) over the window of the server
process and every process under it (its media workers and multiprocessing's resource
tracker), also reported per worker. Implied capacity = media processes / (server cores per
room): each process is good for about one core. Writes ``bench/results/media_rooms.json`` and
prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bench.media.common import RESULTS
from bench.media.publisher import run_publisher
from bench.media.report import orchestrate
from bench.media.servers import run_server
from bench.media.subscriber import run_subscriber


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--role",
        choices=["orchestrator", "server", "publisher", "subscriber"],
        default="orchestrator",
    )
    parser.add_argument("--modes", default="ours,stock")
    parser.add_argument("--rooms", default="1,12", help="room counts for ours")
    parser.add_argument("--stock-rooms", default="1,2", help="room counts for stock")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--window", "--seconds", dest="window", type=float, default=30.0, help="measured seconds"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="media worker processes for ours (default: one per core; 0 = in the server)",
    )
    parser.add_argument(
        "--event-loops",
        default="uvloop",
        help="the media workers' event loop(s) for ours, e.g. uvloop,asyncio (compared per run)",
    )
    parser.add_argument("--settle", type=float, default=7.0)
    parser.add_argument("--late", type=float, default=5.0)
    parser.add_argument("--decode-rooms", type=int, default=1)
    parser.add_argument("--verify-rooms", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument(
        "--pin", action="store_true", help="server and its workers on CPU 0, clients on CPU 1"
    )
    parser.add_argument("--merge", action="store_true", help="add these runs to --out's runs")
    parser.add_argument("--out", default=str(RESULTS))
    # child-only
    parser.add_argument("--mode", default="ours")
    parser.add_argument("--event-loop", default="uvloop", choices=["uvloop", "asyncio"])
    parser.add_argument("--work", default="")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.workers < 0:
        parser.error(f"--workers must be 0 (media in the server) or more, not {args.workers}")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.role == "orchestrator":
        orchestrate(args)
        return
    args.rooms = int(args.rooms.split(",")[0])
    runner = {"server": run_server, "publisher": run_publisher, "subscriber": run_subscriber}[
        args.role
    ]
    asyncio.run(runner(args))


if __name__ == "__main__":
    main()
