"""Photo quality rules on the generated set: each bad kind flagged for its own reason, sharp
photos not flagged, whatever the size they arrive at."""

from __future__ import annotations

import numpy as np
import pytest

from media.quality import WORK_SIDE, assess, assess_encoded, flags_for, reduced_grey
from tests.images import (
    QUALITY_CLASSES,
    blurred,
    darkened,
    encoded,
    overexposed,
    quality_set,
    scene,
)

GENERATED = quality_set(range(3))


@pytest.mark.parametrize(
    ("kind", "variant", "picture"),
    GENERATED,
    ids=[f"{kind}-{variant}-{n // 10}" for n, (kind, variant, _) in enumerate(GENERATED)],
)
def test_each_generated_photo_gets_the_flag_of_its_kind(
    kind: str, variant: str, picture: np.ndarray
) -> None:
    quality = assess_encoded(encoded(picture))
    assert quality.flags == (() if kind == "sharp" else (kind,)), (variant, quality)


def test_the_generated_set_covers_every_kind() -> None:
    assert {kind for kind, _, _ in GENERATED} == set(QUALITY_CLASSES)


def test_sharpness_does_not_depend_on_the_size_the_photo_arrives_at() -> None:
    big = scene(3, (3200, 2400))
    small = scene(3, (800, 600))
    assert assess(big).flags == assess(small).flags == ()
    assert assess(blurred(big, 6.0)).flags == ("blurred",)  # 3 px at the usual 1600 px


def test_a_dim_but_sharp_photo_is_dark_not_blurred() -> None:
    assert assess(darkened(scene(4), 0.2)).flags == ("too_dark",)


def test_a_burnt_out_photo_is_overexposed_not_blurred() -> None:
    assert assess(overexposed(scene(5), 3.0)).flags == ("overexposed",)


def test_a_flat_grey_picture_is_blurred() -> None:
    assert assess(np.full((480, 640), 128, np.uint8)).flags == ("blurred",)


def test_the_work_image_is_small_and_grey() -> None:
    grey = reduced_grey(np.zeros((3000, 4000, 4), np.uint8))
    assert grey.shape == (WORK_SIDE * 3 // 4, WORK_SIDE)
    assert grey.dtype == np.uint8


def test_the_rule_reads_only_the_numbers() -> None:
    assert flags_for(1000.0, 128.0, 0.0, 0.0) == ()
    assert flags_for(10.0, 128.0, 0.0, 0.0) == ("blurred",)
    assert flags_for(1000.0, 20.0, 0.9, 0.0) == ("too_dark",)
    assert flags_for(1000.0, 250.0, 0.0, 0.9) == ("overexposed",)


def test_a_non_image_cannot_be_measured() -> None:
    with pytest.raises(ValueError, match="decodable"):
        assess_encoded(b"just some notes\n" * 10)
