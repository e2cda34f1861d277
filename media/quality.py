"""Photo quality at capture: blurred, too dark or overexposed, measured with OpenCV.

Pure and blocking (call it in a worker thread). The picture is reduced to a grey image of at
most ``WORK_SIDE`` pixels a side, so the cost and the numbers do not depend on the camera's
resolution. Sharpness is the variance of the Laplacian after the grey levels are stretched
between their 1st and 99th percentiles: a dim but sharp picture keeps its edges and is called
dark, not blurred. Exposure is read from the histogram: the mean brightness and the share of
near-black and near-white pixels. The thresholds were calibrated on the generated set in
``tests/images.py`` (figures in ``bench/README.md``, ``bench/photo_quality.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

WORK_SIDE = 640
NEAR_BLACK = 32  # grey level at or below which a pixel counts as near black
NEAR_WHITE = 224  # at or above: near white
# Calibration (bench/README.md): on the generated set, sharp scenes score >= ~300 and a
# Gaussian blur of sigma >= 2 px (at 1600 px) <= ~160; the threshold sits between them.
BLUR_BELOW = 220.0
# Too dark: dim on average, or mostly near black.
DARK_MEAN_BELOW = 60.0
DARK_SHARE_ABOVE = 0.6
# Overexposed: bright on average, or much of it burnt out to near white.
BRIGHT_MEAN_ABOVE = 200.0
WHITE_SHARE_ABOVE = 0.5

FLAGS = ("blurred", "too_dark", "overexposed")


@dataclass(frozen=True, slots=True)
class PhotoQuality:
    """What was measured and which flags it raises (empty when the photo is fine)."""

    sharpness: float  # variance of the Laplacian on the stretched, reduced grey image
    mean: float  # mean grey level, 0..255
    dark_share: float  # share of near-black pixels, 0..1
    white_share: float  # share of near-white pixels, 0..1
    flags: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flags": list(self.flags),
            "sharpness": round(self.sharpness, 1),
            "mean": round(self.mean, 1),
            "dark_share": round(self.dark_share, 3),
            "white_share": round(self.white_share, 3),
            "thresholds": {
                "blur_below": BLUR_BELOW,
                "dark_mean_below": DARK_MEAN_BELOW,
                "dark_share_above": DARK_SHARE_ABOVE,
                "bright_mean_above": BRIGHT_MEAN_ABOVE,
                "white_share_above": WHITE_SHARE_ABOVE,
            },
        }


def reduced_grey(picture: NDArray[Any]) -> NDArray[np.uint8]:
    """The picture (grey, RGB or RGBA, uint8) as grey of at most ``WORK_SIDE`` a side."""
    if picture.ndim == 3:
        code = cv2.COLOR_RGBA2GRAY if picture.shape[2] == 4 else cv2.COLOR_RGB2GRAY
        picture = cv2.cvtColor(picture, code)
    height, width = picture.shape[:2]
    scale = WORK_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    grey: NDArray[np.uint8] = np.ascontiguousarray(picture, dtype=np.uint8)
    return grey


def _stretch_table(histogram: NDArray[np.float64]) -> NDArray[np.uint8]:
    """A lookup table taking the 1st..99th percentile of ``histogram`` to 0..255."""
    cumulative = np.cumsum(histogram) / max(float(histogram.sum()), 1.0)
    low = int(np.searchsorted(cumulative, 0.01))
    high = int(np.searchsorted(cumulative, 0.99))
    span = max(high - low, 1)
    levels = (np.arange(256, dtype=np.float64) - low) * (255.0 / span)
    table: NDArray[np.uint8] = np.clip(levels, 0, 255).astype(np.uint8)
    return table


def sharpness(grey: NDArray[np.uint8], histogram: NDArray[np.float64] | None = None) -> float:
    """Variance of the Laplacian after stretching the 1st..99th percentile to 0..255."""
    if histogram is None:
        histogram = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    stretched = cv2.LUT(grey, _stretch_table(histogram))
    _, deviation = cv2.meanStdDev(cv2.Laplacian(stretched, cv2.CV_16S))
    return float(deviation[0][0]) ** 2


def flags_for(sharp: float, mean: float, dark_share: float, white_share: float) -> tuple[str, ...]:
    """The rule: which flags these numbers raise.

    Sharpness is judged only on a picture exposed well enough to have detail: a burnt-out or
    black picture has none left, and its exposure is the reason to give.
    """
    if mean < DARK_MEAN_BELOW or dark_share > DARK_SHARE_ABOVE:
        return ("too_dark",)
    if mean > BRIGHT_MEAN_ABOVE or white_share > WHITE_SHARE_ABOVE:
        return ("overexposed",)
    return ("blurred",) if sharp < BLUR_BELOW else ()


def assess(picture: NDArray[Any]) -> PhotoQuality:
    """Measure one decoded picture (uint8 array: grey, RGB or RGBA). Blocking."""
    grey = reduced_grey(picture)
    histogram = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    total = float(histogram.sum()) or 1.0
    mean = float((histogram * np.arange(256)).sum() / total)
    dark = float(histogram[: NEAR_BLACK + 1].sum() / total)
    white = float(histogram[NEAR_WHITE:].sum() / total)
    sharp = sharpness(grey, histogram)
    return PhotoQuality(sharp, mean, dark, white, flags_for(sharp, mean, dark, white))


def assess_encoded(data: bytes) -> PhotoQuality:
    """Decode an encoded image (JPEG, PNG, WebP) in grey and measure it. Blocking."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    grey = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_2)
    if grey is None:
        raise ValueError("not a decodable image")
    return assess(grey)
