"""Where a request's time goes: pyinstrument over many case-detail and list-page requests,
served in-process (ASGI, no network) from a seeded PostgreSQL database.

    .venv/bin/python -m bench.api_profile [--cases 5000] [--requests 500]

Prints pyinstrument's call tree per endpoint (today's code and the baseline) and writes
``bench/results/api_profile_<endpoint>.txt``. Used before changing anything (issue #19).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
from pathlib import Path

import httpx
from pyinstrument import Profiler

from bench.api_load import RESULTS, database, sa_url
from bench.api_seed import PASSWORD


async def profile(cases: int, requests: int) -> None:
    async with database(cases) as (name, seeded, _):
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as data:
            os.environ.update(
                CLOUDINSPECT_DATABASE_URL=sa_url(name),
                CLOUDINSPECT_DATA_DIR=data,
                CLOUDINSPECT_SCHEDULER_ENABLED="false",
            )
            from bench.api_baseline import create_bench_app

            app = create_bench_app()
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    token = (
                        await client.post(
                            "/api/v1/auth/login",
                            json={"username": seeded.dispatcher, "password": PASSWORD},
                        )
                    ).json()["token"]
                    headers = {"Authorization": f"Bearer {token}"}
                    ids = random.Random(3).sample(seeded.case_ids, requests)
                    paths = {
                        "detail": [f"/api/v1/cases/{i}" for i in ids],
                        "detail_baseline": [f"/bench/baseline/cases/{i}" for i in ids],
                        "page": ["/api/v1/cases/page?state=in_progress&matter=CY&sort=due"]
                        * (requests // 5),
                        "page_baseline": ["/bench/baseline/cases"] * (requests // 20),
                    }
                    figures: dict[str, dict[str, float]] = {}
                    for label, urls in paths.items():
                        for url in urls[:20]:  # warm
                            await client.get(url, headers=headers)
                        profiler = Profiler(interval=0.0005, async_mode="enabled")
                        with profiler:
                            for url in urls:
                                assert (await client.get(url, headers=headers)).status_code == 200
                        session = profiler.last_session
                        assert session is not None
                        figures[label] = {
                            "requests": len(urls),
                            "wall_ms_per_request": round(session.duration / len(urls) * 1000, 2),
                            "cpu_ms_per_request": round(session.cpu_time / len(urls) * 1000, 2),
                        }
                        text = profiler.output_text(unicode=True, color=False, show_all=False)
                        RESULTS.mkdir(exist_ok=True)
                        (Path(RESULTS) / f"api_profile_{label}.txt").write_text(text)
                        print(f"== {label} ({len(urls)} requests)\n{text}")
                    summary = {"cases": cases, "load_1m": round(os.getloadavg()[0], 2), **figures}
                    (RESULTS / "api_profile.json").write_text(json.dumps(summary, indent=2))
                    print(json.dumps(summary, indent=2))


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(profile(args.cases, args.requests))


if __name__ == "__main__":
    cli()
