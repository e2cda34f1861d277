"""A realistic sample opinion (demo data, tests and the bench): N items, N photos, segments."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from checklists.conclusion import ConclusionValue
from checklists.engine import VerdictValue
from server.opinions.content import (
    Inspector,
    Matter,
    OpinionConclusion,
    OpinionContent,
    OpinionItem,
    OpinionMode,
    Photo,
    RectificationRound,
    Reviewer,
    Segment,
)

_CATEGORIES = ("场所布局", "设施设备", "人员管理", "制度文件")
_TITLES = (
    "食品处理区面积与经营规模相适应",
    "冷藏设施温度保持在 0–8℃",
    "从业人员持有效健康证明",
    "设有专用的餐用具清洗消毒设施",
    "原料库房离地离墙存放",
)
START = datetime(2025, 3, 14, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


def sample_photo_jpeg(index: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A phone-like photo: gradients, shapes and sensor noise, JPEG quality 90."""
    width, height = size
    rng = np.random.default_rng(index)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(x / (90 + index) + index),
            110 + 60 * np.cos(y / (70 + 2 * index)),
            100 + 50 * np.sin((x + y) / 150),
        ],
        axis=-1,
    )
    image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x0, y0), (x0 + 180, y0 + 140), color, -1)
    cv2.putText(image, f"P{index:02d}", (60, 160), cv2.FONT_HERSHEY_SIMPLEX, 5, (255, 255, 255), 12)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid array
        raise RuntimeError("JPEG encoding failed")
    return bytes(encoded.tobytes())


def sample_photos(count: int, size: tuple[int, int] = (1600, 1200)) -> dict[str, bytes]:
    return {f"P{i:02d}": sample_photo_jpeg(i, size) for i in range(1, count + 1)}


def sample_content(
    *, items: int = 30, photos: dict[str, bytes] | None = None, segments: int = 6
) -> OpinionContent:
    """An opinion that passed after one rectification round, for a restaurant licence."""
    photos = photos or {}
    photo_ids = sorted(photos)
    return OpinionContent(
        opinion_id="OP-2025-000123",
        issuer="示例市行政审批局 (Sample City Administrative Approval Bureau)",
        case_number="YTK-2025-000123",
        application_no="SP3101152025000456",
        applicant="示例餐饮管理有限公司",
        site_address="上海市浦东新区示例路 88 号 1 层",
        matters=(Matter(code="SP-CY", name_zh="食品经营许可（餐饮服务）"),),
        mode=OpinionMode.online_video,
        inspected_from=START,
        inspected_to=START + timedelta(minutes=48),
        inspectors=(
            Inspector(name="张明", organisation="示例市行政审批局", role="drafted"),
            Inspector(name="李华", organisation="示例市市场监督管理局", role="co_signed"),
        ),
        reviewer=Reviewer(name="王芳", organisation="示例市行政审批局"),
        items=tuple(_item(i, photo_ids) for i in range(1, items + 1)),
        conclusion=OpinionConclusion(
            value=ConclusionValue.pass_after_rectification,
            text_zh="经整改后符合要求，同意通过现场核查。",
            text_en="Meets the requirements after rectification.",
            reasons=("第 1 轮整改后 A02 复核符合",),
        ),
        rectifications=(
            RectificationRound(
                round=1,
                requested_at=START + timedelta(hours=1),
                due_at=START + timedelta(days=3),
                responded_at=START + timedelta(days=1),
                item_ids=("A02",),
                outcome_zh="已整改，复核符合",
            ),
        ),
        photos=tuple(_photo(i, pid, data) for i, (pid, data) in enumerate(sorted(photos.items()))),
        segments=tuple(_segment(i) for i in range(segments)),
        verification_code="7KQ4-M2XD-9PRT-H3BW",
        verification_url="https://ytk.example.gov.cn/v/OP-2025-000123?c=7KQ4M2XD9PRTH3BW",
        issued_at=START + timedelta(days=1, hours=2),
    )


def _item(index: int, photo_ids: list[str]) -> OpinionItem:
    verdicts = (VerdictValue.passed, VerdictValue.passed, VerdictValue.not_applicable)
    evidence = (photo_ids[(index - 1) % len(photo_ids)],) if photo_ids else ()
    return OpinionItem(
        id=f"A{index:02d}",
        category_zh=_CATEGORIES[index % len(_CATEGORIES)],
        title=f"{_TITLES[index % len(_TITLES)]}（第{index}项）",
        verdict=verdicts[index % len(verdicts)],
        note="现场视频确认，实际情况与申请材料一致。" if index % 4 == 0 else "",
        evidence=evidence,
    )


def _photo(index: int, photo_id: str, data: bytes) -> Photo:
    return Photo(
        id=photo_id,
        item_ids=(f"A{index + 1:02d}",),
        captured_at=START + timedelta(minutes=2 * index),
        lat=31.22 + index * 1e-5,
        lng=121.54 + index * 1e-5,
        distance_m=8.0 + index,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _segment(index: int) -> Segment:
    start = START + timedelta(minutes=8 * index)
    return Segment(
        track="applicant-video",
        seq=index,
        start=start,
        end=start + timedelta(minutes=8),
        sha256=hashlib.sha256(f"segment-{index}".encode()).hexdigest(),
    )
