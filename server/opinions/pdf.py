"""Render the electronic inspection opinion (电子踏勘意见书) as an A4 PDF with reportlab.

The CJK TrueType font is embedded (the PDF looks the same in every viewer and suits
archiving); Chinese text wraps inside table cells; output is byte-identical for the same input
(``invariant=1``). CPU-bound: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import qrcode
from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from checklists.engine import VerdictValue
from server.opinions.content import OpinionContent, Photo, content_hash
from server.opinions.qr import QR_KEYWORD_PREFIX, ROOT_KEYWORD_PREFIX, qr_payload
from server.platform.fonts import pdf_text, register_cjk_font
from server.platform.time import shanghai_time

HASH_KEYWORD_PREFIX = "content-sha256:"
PHOTO_MAX_PX = 800  # longest side of an appendix photo; the originals stay in storage
_MARGIN = 18 * mm
_FRAME_WIDTH = A4[0] - 2 * _MARGIN
_PHOTO_BOX = (80 * mm, 60 * mm)
_GRID = colors.HexColor("#9aa3ad")
_HEADER_BG = colors.HexColor("#e8edf3")
_FAIL = "#b00020"


@dataclass(frozen=True)
class _Styles:
    font: str
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    cell: ParagraphStyle
    small: ParagraphStyle
    mono: ParagraphStyle


def _styles(font: str) -> _Styles:
    def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=size, leading=size * 1.35, wordWrap="CJK", **kw
        )

    return _Styles(
        font=font,
        title=style("title", 20, alignment=TA_CENTER, spaceAfter=2 * mm),
        subtitle=style("subtitle", 10, alignment=TA_CENTER, textColor=colors.HexColor("#444")),
        heading=style("heading", 12.5, spaceBefore=5 * mm, spaceAfter=2 * mm),
        body=style("body", 10),
        cell=style("cell", 9),
        small=style("small", 7.5),
        mono=style("mono", 6.3),
    )


def _t(text: str) -> str:
    """User text made safe for Paragraph markup, with glyphs the font lacks replaced."""
    return escape(pdf_text(text))


def render_opinion_pdf(
    content: OpinionContent,
    photos: Mapping[str, bytes],
    *,
    photo_max_px: int | None = PHOTO_MAX_PX,
    draft: bool = False,
) -> bytes:
    """The opinion PDF; ``photos`` maps photo id → JPEG bytes (missing ones are marked).
    ``draft``: the unsigned preview, every page marked 草稿 / DRAFT."""
    # Binary streams instead of ASCII85: reportlab's pure-Python encoder dominated the render
    # time (JPEGs are ~4/5 of the bytes). Process-wide, idempotent, harmless for other PDFs.
    rl_config.useA85 = 0
    st = _styles(register_cjk_font())
    digest = content_hash(content)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=f"电子踏勘意见书 {content.case_number}",
        author=content.issuer,
        subject=f"{HASH_KEYWORD_PREFIX}{digest}",
        keywords=[
            "cloudinspect-opinion",
            f"{HASH_KEYWORD_PREFIX}{digest}",
            *_root_keywords(content),
        ],
        creator="cloudinspect",
        invariant=1,
    )
    story: list[Flowable] = [
        *_title_block(content, st),
        *_case_block(content, st),
        *_people_block(content, st),
        *_items_block(content, st),
        *_conclusion_block(content, st),
        *_rectification_block(content, st),
        *_photo_appendix(content, photos, st, photo_max_px),
        *_segment_block(content, st),
        *_evidence_root_block(content, st),
        _verification_block(content, digest, st),
    ]
    footer = _footer(content, st.font, draft=draft)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


DRAFT_MARK = "草稿 / DRAFT"
SIGNED_NOTE = "本意见书经数字签名，任何改动均可被发现"
DRAFT_NOTE = "草稿预览，未签署，不具效力 / DRAFT, unsigned"


def _footer(content: OpinionContent, font: str, *, draft: bool) -> Callable[[Any, Any], None]:
    note = DRAFT_NOTE if draft else SIGNED_NOTE
    text = pdf_text(
        f"{content.case_number} · 验证码 {content.verification_code} · 第 %d 页 · {note}"
    )

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#555"))
        canvas.drawCentredString(A4[0] / 2, _MARGIN - 2 * mm, text % doc.page)
        if draft:
            canvas.setFont(font, 64)
            canvas.setFillColor(colors.Color(0.8, 0.1, 0.1, alpha=0.18))
            canvas.translate(A4[0] / 2, A4[1] / 2)
            canvas.rotate(45)
            canvas.drawCentredString(0, 0, pdf_text(DRAFT_MARK))
        canvas.restoreState()

    return draw


def _title_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    parts: list[Flowable] = [
        Paragraph(_t(content.issuer), st.subtitle),
        Spacer(1, 2 * mm),
        Paragraph("电子踏勘意见书", st.title),
        Paragraph("Electronic Inspection Opinion", st.subtitle),
        Spacer(1, 1.5 * mm),
        Paragraph(
            _t(f"编号 No. {content.opinion_id} · 第 {content.version} 版 (version)"), st.subtitle
        ),
    ]
    if content.previous_version_id:
        notice = (
            f"本意见书为更正版本，替代 {content.previous_version_id}，原版本自本版签发之日起作废。"
            f" / Correction: supersedes {content.previous_version_id}."
        )
        parts += [Spacer(1, 2 * mm), Paragraph(_t(notice), _colored(st.body, _FAIL))]
    return [*parts, Spacer(1, 4 * mm)]


def _colored(style: ParagraphStyle, color: str) -> ParagraphStyle:
    return ParagraphStyle(f"{style.name}-{color}", parent=style, textColor=colors.HexColor(color))


def _case_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    matters = "<br/>".join(_t(f"{m.name_zh}（{m.code}）") for m in content.matters)
    when = (
        f"{shanghai_time(content.inspected_from)} – "
        f"{shanghai_time(content.inspected_to, '%H:%M')}（北京时间 / Beijing time）"
    )
    rows = [
        ("案件编号 Case No.", _t(content.case_number)),
        ("申请编号 Application No.", _t(content.application_no)),
        ("申请人 Applicant", _t(content.applicant)),
        ("踏勘场所 Site", _t(content.site_address)),
        ("踏勘事项 Matters", matters),
        ("踏勘方式 Mode", _t(content.mode.zh)),
        ("踏勘时间 Date & time", _t(when)),
        ("签发时间 Issued", _t(f"{shanghai_time(content.issued_at)}（北京时间）")),
    ]
    data = [[Paragraph(key, st.cell), Paragraph(value, st.cell)] for key, value in rows]
    return [_grid(data, [42 * mm, _FRAME_WIDTH - 42 * mm], header=False, label_col=True)]


def _grid(
    data: Sequence[Sequence[Flowable | str]],
    widths: Sequence[float],
    *,
    header: bool = True,
    label_col: bool = False,
) -> Table:
    table = Table(data, colWidths=list(widths), repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG))
    if label_col:
        commands.append(("BACKGROUND", (0, 0), (0, -1), _HEADER_BG))
    table.setStyle(TableStyle(commands))
    return table


def _cells(values: Iterable[str], style: ParagraphStyle) -> list[Flowable | str]:
    return [Paragraph(value, style) for value in values]


def _people_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    header = _cells(["角色 Role", "姓名 Name", "单位 Organisation", "签署时间 Signed"], st.cell)
    rows: list[list[Flowable | str]] = [header]
    for inspector in content.inspectors:
        signed = shanghai_time(inspector.signed_at) if inspector.signed_at else "—"
        values = [inspector.role_zh, inspector.name, inspector.organisation, signed]
        rows.append(_cells(map(_t, values), st.cell))
    if content.reviewer is not None:
        reviewer = content.reviewer
        approved = shanghai_time(reviewer.approved_at) if reviewer.approved_at else "—"
        values = ["审核人 (reviewer)", reviewer.name, reviewer.organisation, approved]
        rows.append(_cells(map(_t, values), st.cell))
    widths = [38 * mm, 30 * mm, _FRAME_WIDTH - 106 * mm, 38 * mm]
    return [_heading("踏勘人员 Inspectors", st), _grid(rows, widths)]


def _heading(text: str, st: _Styles) -> Paragraph:
    return Paragraph(text, st.heading)


def _items_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    header = _cells(
        ["序号", "类别 Category", "检查项 Item", "结论 Verdict", "说明 Note", "证据 Evidence"],
        st.cell,
    )
    rows: list[list[Flowable | str]] = [header]
    for number, item in enumerate(content.items, start=1):
        verdict_style = _colored(st.cell, _FAIL) if item.verdict == VerdictValue.failed else st.cell
        rows.append(
            [
                Paragraph(str(number), st.cell),
                Paragraph(_t(item.category_zh), st.cell),
                Paragraph(_t(f"{item.title}（{item.id}）"), st.cell),
                Paragraph(_t(item.verdict_label), verdict_style),
                Paragraph(_t(item.note or "—"), st.cell),
                Paragraph(_t("、".join(item.evidence) or "—"), st.small),
            ]
        )
    widths = [9 * mm, 22 * mm, 0.0, 22 * mm, 42 * mm, 20 * mm]
    widths[2] = _FRAME_WIDTH - sum(widths)
    return [
        _heading(f"检查项目及结论 Checklist（{len(content.items)} 项）", st),
        _grid(rows, widths),
    ]


def _conclusion_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    conclusion = content.conclusion
    parts: list[Flowable] = [
        _heading("踏勘结论 Conclusion", st),
        Paragraph(f"<b>{_t(conclusion.text_zh)}</b>", st.body),
        Paragraph(_t(conclusion.text_en), st.cell),
    ]
    for reason in conclusion.reasons:
        parts.append(Paragraph(f"• {_t(reason)}", st.cell))
    if content.matter_results:
        parts.append(_heading("各事项结论 Result per matter", st))
    for result in content.matter_results:
        line = f"{result.name_zh}（{result.code}）：{result.text_zh} / {result.text_en}"
        parts.append(Paragraph(f"<b>{_t(line)}</b>", st.body))
        parts.extend(Paragraph(f"• {_t(reason)}", st.cell) for reason in result.reasons)
    return parts


def _rectification_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    title = _heading("整改记录 Rectification history", st)
    if not content.rectifications:
        return [title, Paragraph("无整改 / none", st.cell)]
    header = _cells(
        [
            "轮次",
            "要求时间 Requested",
            "期限 Due",
            "答复 Responded",
            "涉及检查项 Items",
            "结果 Outcome",
        ],
        st.cell,
    )
    rows: list[list[Flowable | str]] = [header]
    for rnd in content.rectifications:
        values = [
            str(rnd.round),
            shanghai_time(rnd.requested_at),
            shanghai_time(rnd.due_at) if rnd.due_at else "—",
            shanghai_time(rnd.responded_at) if rnd.responded_at else "—",
            "、".join(rnd.item_ids),
            rnd.outcome_zh or "—",
        ]
        rows.append(_cells(map(_t, values), st.cell))
    widths = [11 * mm, 29 * mm, 29 * mm, 29 * mm, 0.0, 40 * mm]
    widths[4] = _FRAME_WIDTH - sum(widths)
    return [title, _grid(rows, widths)]


def _photo_appendix(
    content: OpinionContent,
    photos: Mapping[str, bytes],
    st: _Styles,
    max_px: int | None,
) -> list[Flowable]:
    if not content.photos:
        return []
    cells = [_photo_cell(photo, photos.get(photo.id), st, max_px) for photo in content.photos]
    if len(cells) % 2:
        cells.append([])
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    table = Table(rows, colWidths=[_FRAME_WIDTH / 2] * 2)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.5, _GRID),
                ("INNERGRID", (0, 0), (-1, -1), 0.5, _GRID),
            ]
        )
    )
    title = f"附件一 照片 Appendix 1: photos（{len(content.photos)} 张，时间为北京时间）"
    return [PageBreak(), _heading(title, st), table]


def _photo_cell(
    photo: Photo, data: bytes | None, st: _Styles, max_px: int | None
) -> list[Flowable]:
    image = _photo_flowable(data, max_px) if data is not None else None
    placeholder = (
        "（照片未提供 / photo not supplied）" if data is None else "（无法读取 / unreadable）"
    )
    where = "位置未知"
    if photo.lat is not None and photo.lng is not None:
        where = f"{photo.lat:.5f}, {photo.lng:.5f}"
    if photo.distance_m is not None:
        where += f" · 距场所 {photo.distance_m:.0f} m"
    items = "、".join(photo.item_ids) or "—"
    return [
        image if image is not None else Paragraph(placeholder, st.small),
        Paragraph(_t(f"照片 {photo.id} · 检查项 {items}"), st.small),
        Paragraph(
            _t(f"拍摄 {shanghai_time(photo.captured_at, '%Y-%m-%d %H:%M:%S')} · {where}"), st.small
        ),
        Paragraph(f"SHA-256 {photo.sha256}", st.mono),
    ]


def _photo_flowable(data: bytes, max_px: int | None) -> Image | None:
    """The photo re-encoded (no EXIF/GPS tags), downscaled to ``max_px``, fitted to the box."""
    try:
        jpeg, (width, height) = _downscaled_jpeg(data, max_px)
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None
    scale = min(_PHOTO_BOX[0] / width, _PHOTO_BOX[1] / height)
    return Image(io.BytesIO(jpeg), width=width * scale, height=height * scale)


def _downscaled_jpeg(data: bytes, max_px: int | None) -> tuple[bytes, tuple[int, int]]:
    with PILImage.open(io.BytesIO(data)) as img:
        if max_px is not None:
            img.draft("RGB", _fit(img.size, max_px))  # JPEG: decode at 1/2, 1/4… scale directly
        rgb = img.convert("RGB")
    if max_px is not None:
        rgb.thumbnail((max_px, max_px), PILImage.Resampling.BILINEAR)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=82)
    return out.getvalue(), rgb.size


def _fit(size: tuple[int, int], max_px: int) -> tuple[int, int]:
    scale = min(1.0, max_px / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _segment_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    title = _heading("附件二 录像分段哈希 Appendix 2: recording segments (SHA-256)", st)
    if not content.segments:
        return [title, Paragraph("无录像 / no recording", st.cell)]
    header = _cells(["轨道 Track", "序号", "开始 Start", "结束 End", "SHA-256"], st.cell)
    rows: list[list[Flowable | str]] = [header]
    for seg in content.segments:
        rows.append(
            [
                Paragraph(_t(seg.track), st.cell),
                Paragraph(str(seg.seq), st.cell),
                Paragraph(shanghai_time(seg.start, "%m-%d %H:%M:%S"), st.cell),
                Paragraph(shanghai_time(seg.end, "%H:%M:%S"), st.cell),
                Paragraph(seg.sha256, st.mono),
            ]
        )
    widths = [20 * mm, 10 * mm, 26 * mm, 18 * mm, 0.0]
    widths[4] = _FRAME_WIDTH - sum(widths)
    return [title, _grid(rows, widths)]


def _root_keywords(content: OpinionContent) -> list[str]:
    """The evidence root and the QR payload, inside the signed revision for an offline check."""
    if content.evidence_root is None:
        return []
    return [
        f"{ROOT_KEYWORD_PREFIX}{content.evidence_root.root}",
        f"{QR_KEYWORD_PREFIX}{qr_payload(content)}",
    ]


def _evidence_root_block(content: OpinionContent, st: _Styles) -> list[Flowable]:
    root = content.evidence_root
    if root is None:
        return []
    title = _heading("附件三 证据根 Appendix 3: evidence root (Merkle, RFC 6962, SHA-256)", st)
    lead = Paragraph(
        "证据根由下列每件证据的 SHA-256 按（类别, 编号）排序计算；任何一件被替换、缺失或顺序改变，"
        "证据根都会不同。The root is computed over each entry's SHA-256 in (kind, id) order; "
        "a swapped, missing or reordered object gives another root.",
        st.small,
    )
    header = _cells(["类别 Kind", "编号 Id", "SHA-256"], st.cell)
    rows: list[list[Flowable | str]] = [header]
    for leaf in root.leaves:
        rows.append(
            [
                Paragraph(_t(leaf.kind), st.cell),
                Paragraph(_t(leaf.id), st.cell),
                Paragraph(leaf.sha256, st.mono),
            ]
        )
    widths = [32 * mm, 40 * mm, 0.0]
    widths[2] = _FRAME_WIDTH - sum(widths)
    summary = Paragraph(f"证据根 Evidence root：<b>{root.root}</b>", st.mono)
    return [title, lead, _grid(rows, widths), Spacer(1, 2 * mm), summary]


def _verification_block(content: OpinionContent, digest: str, st: _Styles) -> Flowable:
    size = 38 * mm
    qr = Image(io.BytesIO(qr_png(qr_payload(content))), width=size, height=size)
    text = [
        Paragraph(f"验证码 Verification code：<b>{_t(content.verification_code)}</b>", st.body),
        Paragraph(f"验证网址 URL：{_t(content.verification_url)}", st.cell),
        Paragraph("内容摘要 Content hash (SHA-256)：", st.cell),
        Paragraph(digest, st.mono),
        Spacer(1, 2 * mm),
        Paragraph(
            "扫描二维码或访问上述网址并输入验证码核验本意见书；本文件带有签发机关的数字签名，"
            "签名后任何字节的改动都会导致验证失败。Scan the QR code or open the URL and enter "
            "the code; the document is digitally signed by the issuing bureau and any change "
            "after signing fails verification.",
            st.small,
        ),
    ]
    table = Table([[qr, text]], colWidths=[size + 6 * mm, _FRAME_WIDTH - size - 6 * mm])
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.5, _GRID)])
    )
    return KeepTogether([_heading("核验 Verification", st), table])


def qr_png(url: str) -> bytes:
    """The verification URL (with its evidence fragment) as a QR code (PNG, correction M)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
