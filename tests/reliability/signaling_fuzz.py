"""A seeded corpus of malformed signaling traffic, and a client that counts how each is answered.

Reliability #1. Each connection is a ``Plan``: where it connects, whether it joins first, and
the frames it then sends back to back (never more than the per-connection burst, so the rate
limit is not what answers them). After the frames it sends a ``ping``: every frame before the
``pong`` must have been answered by one ``error`` (or an ``answer``, for a truncated SDP that
still parses), unless the server closed the socket with a documented code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = str | bytes
Start = Literal["anonymous", "joined", "unknown_case", "long_case", "bad_token"]
PER_CONNECTION = 30  # under the burst of 40, so every frame reaches the protocol's rules
WAIT = 10.0

SDP_OFFER = (
    "v=0\r\no=- 3915071032 3915071032 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\na=msid-semantic:WMS *\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=rtpmap:97 VP8/90000\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\na=mid:1\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=rtpmap:96 opus/48000/2\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
)


@dataclass(frozen=True, slots=True)
class Plan:
    start: Start
    frames: tuple[Frame, ...]
    kinds: tuple[str, ...]  # what each frame is meant to exercise (for the counts)


def _j(value: Any) -> str:
    return json.dumps(value)


def _bad_json(rng: random.Random) -> str:
    whole = _j({"type": rng.choice(["join", "offer", "mute", "location"]), "token": "x" * 8})
    return rng.choice(
        [
            whole[: rng.randrange(1, len(whole) - 1)],
            "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 80))),
            "[" * rng.randrange(1000, 50_000),
            "",
            "{'type': 'ping'}",
            "NaN",
        ]
    )


def _not_an_object(rng: random.Random) -> str:
    return _j(rng.choice([rng.random(), [1, 2, 3], "ping", None, True, rng.randrange(10**30)]))


def _unknown_type(rng: random.Random) -> str:
    junk = "".join(rng.choice("abcdefxyz_-.") for _ in range(rng.randrange(1, 90)))
    return _j(rng.choice([{"type": junk}, {"type": rng.randrange(99)}, {"kind": "join"}, {}]))


def _wrong_types(rng: random.Random) -> str:
    return _j(
        rng.choice(
            [
                {"type": "mute", "audio": "yes", "video": []},
                {"type": "mute", "audio": True},
                {"type": "location", "latitude": "north", "longitude": 0},
                {"type": "location", "latitude": 91.0, "longitude": 0},
                {"type": "location", "latitude": 1, "longitude": 1, "accuracy_m": -5},
                {"type": "join", "token": rng.randrange(10**6)},
                {"type": "join", "token": ""},
                {"type": "join", "token": "t" * 600},
                {"type": "offer", "sdp": ""},
                {"type": "offer", "sdp": {"v": 0}},
                {"type": "candidate", "candidate": "c", "sdp_mline_index": -1},
                {"type": "candidate"},
                {"type": "current_item", "item_id": "x" * 40},
                {"type": "snapshot_request"},
                {"type": "ping", "extra": 1},
                {"type": "leave", "reason": "bye"},
            ]
        )
    ) + ("" if rng.random() < 0.9 else " ")


def _binary(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(1, 2048))


ANONYMOUS = {
    "bad_json": _bad_json,
    "not_object": _not_an_object,
    "unknown_type": _unknown_type,
    "wrong_types": _wrong_types,
    "binary": _binary,
    "before_join": lambda rng: _j(
        rng.choice(
            [
                {"type": "offer", "sdp": SDP_OFFER},
                {"type": "mute", "audio": True, "video": False},
                {"type": "leave"},
                {"type": "location", "latitude": 1.0, "longitude": 2.0},
            ]
        )
    ),
}
# Once joined (as the applicant): messages out of order or not allowed for the applicant.
IN_ROOM = {
    "out_of_order": lambda rng: _j(
        rng.choice(
            [
                {"type": "answer", "sdp": SDP_OFFER},
                {"type": "candidate", "candidate": "candidate:1 1 UDP 1 1.2.3.4 9 typ host"},
                {"type": "ice_restart", "sdp": SDP_OFFER},
            ]
        )
    ),
    "join_again": lambda rng: _j({"type": "join", "token": "ci_a_" + "x" * 20}),
    "forbidden": lambda rng: _j(
        rng.choice(
            [
                {"type": "current_item", "item_id": "A1"},
                {"type": "snapshot_request", "request_id": "r"},
            ]
        )
    ),
    **{kind: make for kind, make in ANONYMOUS.items() if kind != "before_join"},
}


def _truncated_sdp(rng: random.Random) -> str:
    return _j({"type": "offer", "sdp": SDP_OFFER[: rng.randrange(5, len(SDP_OFFER) - 40)]})


def _frames(
    rng: random.Random, makers: dict[str, Any], count: int
) -> tuple[list[Frame], list[str]]:
    kinds = [rng.choice(list(makers)) for _ in range(count)]
    return [makers[k](rng) for k in kinds], kinds


def plans(seed: int, total: int) -> list[Plan]:
    """``total`` malformed frames over connections, deterministically from ``seed``."""
    rng, out, sent = random.Random(seed), [], 0
    while sent < total:
        roll, count = rng.random(), min(rng.randrange(5, PER_CONNECTION + 1), total - sent)
        if roll < 0.04:  # one frame over the size limit (64 KiB … 2 MiB): close 1009
            size = rng.choice([64 * 1024 + 1, 1024 * 1024 + 1, 2 * 1024 * 1024])
            frame: Frame = "x" * size if rng.random() < 0.5 else rng.randbytes(size)
            out.append(Plan("anonymous", (frame,), ("oversize",)))
            count = 1
        elif roll < 0.07:
            out.append(Plan("unknown_case", ("join",), ("unknown_case",)))
            count = 1
        elif roll < 0.08:
            out.append(Plan("long_case", ("join",), ("long_case_id",)))
            count = 1
        elif roll < 0.10:
            out.append(Plan("bad_token", ("join",), ("bad_token",)))
            count = 1
        elif roll < 0.55:
            frames, kinds = _frames(rng, IN_ROOM, count - 1)
            frames.append(_truncated_sdp(rng))  # last: an offer that parses changes the state
            out.append(Plan("joined", tuple(frames), (*kinds, "truncated_sdp")))
        else:
            frames, kinds = _frames(rng, ANONYMOUS, count)
            out.append(Plan("anonymous", tuple(frames), tuple(kinds)))
        sent += count
    return out


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)  # "error:bad_json", "close:1009"…
    by_kind: Counter[str] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    frames: int = 0


async def _receive(ws: ClientConnection, deadline: float) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        )
        if message["type"] == "ping":
            await ws.send(_j({"type": "pong"}))
            continue
        if message["type"] in ("participant_joined", "participant_left", "offer", "candidate"):
            continue
        return message


async def run_plan(base: str, case_id: str, token: str, plan: Plan, tally: Tally) -> None:
    """Carry out one connection's plan and count how each frame was answered."""
    case = {"unknown_case": "no-such-case", "long_case": "c" * 65}.get(plan.start, case_id)
    deadline = time.monotonic() + WAIT
    tally.frames += len(plan.frames)
    tally.by_kind.update(plan.kinds)
    async with connect(f"{base}/ws/cases/{case}", max_size=None) as ws:
        try:
            if plan.start in ("joined", "unknown_case", "long_case", "bad_token"):
                await ws.send(
                    _j(
                        {
                            "type": "join",
                            "token": "ci_s_forged" if plan.start == "bad_token" else token,
                        }
                    )
                )
                if plan.start != "joined":
                    await _receive(ws, deadline)  # the close comes instead
                    tally.unanswered.append(f"{plan.start}: not closed")
                    return
                joined = await _receive(ws, deadline)
                assert joined["type"] == "joined", joined
            for frame in plan.frames:
                await ws.send(frame)
            await ws.send(_j({"type": "ping"}))
            answers = 0
            while (message := await _receive(ws, deadline))["type"] != "pong":
                answers += 1
                tally.outcomes[f"{message['type']}:{message.get('code', '')}".rstrip(":")] += 1
            if answers != len(plan.frames):
                tally.unanswered.append(f"{plan.kinds}: {answers} answers")
        except ConnectionClosed:
            code = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None
            tally.outcomes[f"close:{code}"] += 1
        except TimeoutError:
            tally.unanswered.append(f"{plan.kinds}: timed out")


async def run_all(
    base: str, case_id: str, tokens: list[str], corpus: list[Plan], tally: Tally
) -> None:
    """Run the corpus on ``len(tokens)`` connections at a time (one applicant link each)."""
    queue: asyncio.Queue[Plan] = asyncio.Queue()
    for plan in corpus:
        queue.put_nowait(plan)

    async def worker(token: str) -> None:
        while not queue.empty():
            await run_plan(base, case_id, token, queue.get_nowait(), tally)

    await asyncio.gather(*(worker(t) for t in tokens))


async def round_trips(ws: ClientConnection, stop: asyncio.Event, every: float = 0.1) -> list[float]:
    """A legitimate member's ping → pong times (s) while ``stop`` is not set."""
    times: list[float] = []
    while not stop.is_set():
        sent = time.monotonic()
        await ws.send(_j({"type": "ping"}))
        while (await _receive(ws, sent + WAIT))["type"] != "pong":
            pass
        times.append(time.monotonic() - sent)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return times
