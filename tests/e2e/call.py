"""The phone's full-screen call seen from the test: where a spot of a video's picture is on the
screen (the test's own arithmetic, not the page's), and what the server's recorder has done."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from playwright.async_api import Page

from signaling.registry import Registry

GEOMETRY = """(sel) => { const v = document.querySelector(sel); const r = v.getBoundingClientRect();
  return { left: r.left, top: r.top, width: r.width, height: r.height,
           vw: v.videoWidth, vh: v.videoHeight, fit: getComputedStyle(v).objectFit }; }"""
CENTRE = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2]; }"""


@dataclass(frozen=True)
class Picture:
    """Where a <video>'s picture is drawn, in the page's CSS pixels (it may overflow the
    element: object-fit cover crops it, contain letterboxes it)."""

    left: float
    top: float
    width: float
    height: float

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x * self.width, self.top + y * self.height

    def spot(self, px: float, py: float) -> tuple[float, float]:
        return (px - self.left) / self.width, (py - self.top) / self.height


async def picture(page: Page, selector: str) -> tuple[Picture, str]:
    """The picture's box and the element's object-fit."""
    g: dict[str, Any] = await page.evaluate(GEOMETRY, selector)
    pick = max if g["fit"] == "cover" else min
    scale = pick(g["width"] / g["vw"], g["height"] / g["vh"])
    w, h = g["vw"] * scale, g["vh"] * scale
    box = Picture(g["left"] + (g["width"] - w) / 2, g["top"] + (g["height"] - h) / 2, w, h)
    return box, str(g["fit"])


async def centre(page: Page, selector: str) -> tuple[float, float]:
    x, y = await page.evaluate(CENTRE, selector)
    return float(x), float(y)


async def applicant_video(app: FastAPI, case_id: str) -> tuple[int, int]:
    """Packets of the phone's video the server received, and how many it recorded."""
    registry: Registry = app.state.live
    media: Any = registry.existing_media(case_id)
    stats = await media.stats() if media is not None else None
    if stats is None or "applicant.video" not in stats.relays:
        return 0, 0
    recorder = stats.recorders.get("applicant.video")
    return stats.relays["applicant.video"].packets_in, recorder.recorded if recorder else 0
