"""Benchmark: photo uploads by presigned POST (the phone's path) against a raw S3 PUT.

    .venv/bin/python -m bench.upload_throughput            # 50 photos of ~2 MB
    .venv/bin/python -m bench.upload_throughput --photos 10

Starts its own SeaweedFS (``weed mini`` on loopback), then in the same run:

* ``presigned_post``: sign a form per photo (``ObjectStore.presigned_post``) and POST it as
  multipart with httpx, the way the browser does;
* ``raw_put``: ``minio`` SDK ``put_object`` of the same bytes (the baseline);
* ``pipeline``: the finalize work per photo (SHA-256 + ``process_photo``: checks, decode,
  display copy and thumbnail), no network.

Each upload mode runs sequentially and with 8 in flight. Writes
``bench/results/upload_throughput.json`` and ``bench/results/upload_throughput.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import platform
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from minio import Minio
from PIL import Image

from server.platform.seaweed import SeaweedProcess
from server.platform.storage import ObjectStore
from server.uploads.images import process_photo

RESULTS = Path(__file__).resolve().parent / "results"
ACCESS, SECRET, BUCKET = "benchkey", "benchsecret-benchsecret", "bench-uploads"


def make_photo(seed: int, target_bytes: int) -> bytes:
    """A 12 MP-like JPEG of roughly ``target_bytes`` (noise compresses like a busy scene)."""
    side = 2000
    image = Image.effect_noise((side * 4 // 3, side), 30 + seed % 7).convert("RGB")
    for quality in (85, 75, 65, 55):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= target_bytes * 1.2:
            break
    return out.getvalue()


async def presigned_post(
    store: ObjectStore, http: httpx.AsyncClient, key: str, data: bytes
) -> None:
    post = await store.presigned_post(key, "image/jpeg", len(data), timedelta(minutes=5), len(data))
    response = await http.post(
        post.url, data=post.fields, files={"file": ("p.jpg", data, "image/jpeg")}
    )
    response.raise_for_status()


async def raw_put(client: Minio, key: str, data: bytes) -> None:
    await asyncio.to_thread(
        client.put_object, BUCKET, key, io.BytesIO(data), len(data), "image/jpeg"
    )


async def run_mode(name: str, photos: list[bytes], upload: Any, concurrency: int) -> dict[str, Any]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int, data: bytes) -> None:
        async with limit:
            start = time.perf_counter()
            await upload(f"bench/{name}/{concurrency}/{i}.jpg", data)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(i, d) for i, d in enumerate(photos)))
    wall = time.perf_counter() - start
    total = sum(len(d) for d in photos)
    return {
        "mode": name,
        "concurrency": concurrency,
        "photos": len(photos),
        "wall_s": round(wall, 3),
        "mb_per_s": round(total / wall / 1e6, 1),
        "photos_per_s": round(len(photos) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000, 1),
    }


def pipeline_times(photos: list[bytes]) -> dict[str, Any]:
    times = []
    for data in photos:
        start = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        process_photo(data, "image/jpeg")
        times.append(time.perf_counter() - start)
    return {
        "photos": len(photos),
        "mean_ms": round(statistics.mean(times) * 1000, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
    }


async def main(count: int, size: int) -> dict[str, Any]:
    photos = [make_photo(i, size) for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        weed = SeaweedProcess(data_dir=Path(tmp) / "weed", access_key=ACCESS, secret_key=SECRET,
                              bucket=BUCKET)  # fmt: skip
        await weed.start()
        try:
            endpoint = weed.s3_endpoint
            store = ObjectStore(
                endpoint=endpoint, access_key=ACCESS, secret_key=SECRET, bucket=BUCKET
            )
            await store.ensure_bucket()
            host = endpoint.split("://")[-1]
            client = Minio(host, ACCESS, SECRET, secure=False, region="us-east-1")
            runs = []
            async with httpx.AsyncClient(timeout=60) as http:
                for concurrency in (1, 8):
                    for name in ("raw_put", "presigned_post"):

                        async def go(key: str, data: bytes, name: str = name) -> None:
                            if name == "raw_put":
                                await raw_put(client, key, data)
                            else:
                                await presigned_post(store, http, key, data)

                        runs.append(await run_mode(name, photos, go, concurrency))
            store.close()
        finally:
            await weed.stop()
    return {
        "photos": count,
        "mean_photo_bytes": int(statistics.mean(len(p) for p in photos)),
        "uploads": runs,
        "pipeline": pipeline_times(photos[: min(count, 20)]),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"},
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['photos']} photos, mean {result['mean_photo_bytes'] / 1e6:.2f} MB each",
        "",
        "| mode | in flight | wall (s) | MB/s | photos/s | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in result["uploads"]:
        lines.append(
            f"| {run['mode']} | {run['concurrency']} | {run['wall_s']} | {run['mb_per_s']} | "
            f"{run['photos_per_s']} | {run['p50_ms']} | {run['p95_ms']} |"
        )
    pipe = result["pipeline"]
    lines += [
        "",
        f"Finalize pipeline (SHA-256 + checks + decode + display + thumbnail), {pipe['photos']} "
        f"photos: mean {pipe['mean_ms']} ms, p50 {pipe['p50_ms']} ms, max {pipe['max_ms']} ms.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--size", type=int, default=2_000_000)
    args = parser.parse_args()
    result = asyncio.run(main(args.photos, args.size))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "upload_throughput.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "upload_throughput.md").write_text(markdown(result))
    print(markdown(result))
