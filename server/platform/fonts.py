"""The CJK font embedded in every PDF we produce (guide, inspection opinion).

reportlab embeds TrueType outlines only: its built-in CID fonts (STSong-Light…) are not
embedded, and CFF/OTF fonts such as Debian's Noto CJK cannot be embedded, so a PDF using them
shows boxes on a machine without the font. We use WenQuanYi Micro Hei (文泉驿微米黑,
Apache-2.0 or GPL-3.0 with font exception), a TrueType collection shipped on PyPI by
``paperang-p2-fonts-cjk``, so ``pip install`` alone provides it; Debian's ``fonts-wqy-microhei``
or ``fonts-wqy-zenhei`` are the fall-back.
"""

from __future__ import annotations

import importlib.resources
import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "CloudInspectCJK"
PYPI_PACKAGE = "paperang-p2-fonts-cjk"
_PACKAGE_MODULE = "paperang_p2_fonts_cjk"
_PACKAGE_FILE = ("fonts", "wqy-microhei.ttc")
DEBIAN_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)

# Characters the font maps to an empty glyph, and what to draw instead. WenQuanYi Micro Hei
# has no outline for U+2103 ℃ (every other character of the catalogue is drawn).
_SUBSTITUTES = str.maketrans({"℃": "°C"})

_register_lock = threading.Lock()


class CjkFontNotFound(RuntimeError):
    """No embeddable CJK TrueType font is installed."""

    def __init__(self) -> None:
        super().__init__(
            f"未找到可嵌入 PDF 的中文 TrueType 字体，请执行 pip install {PYPI_PACKAGE}"
            "（或 apt-get install fonts-wqy-microhei） / "
            f"no embeddable CJK TrueType font found: pip install {PYPI_PACKAGE} "
            "(or apt-get install fonts-wqy-microhei)"
        )


def cjk_font_path() -> Path:
    """Path of the CJK TrueType font (a .ttc collection; the first face is used)."""
    for candidate in (_package_font(), *DEBIAN_FONTS):
        if candidate is not None and candidate.is_file():
            return candidate
    raise CjkFontNotFound()


def register_cjk_font() -> str:
    """Register the font with reportlab once per process and return its name."""
    with _register_lock:  # PDFs are rendered in worker threads
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(cjk_font_path()), subfontIndex=0))
    return FONT_NAME


def pdf_text(text: str) -> str:
    """``text`` with the characters the font cannot draw replaced (℃ → °C)."""
    return text.translate(_SUBSTITUTES)


def _package_font() -> Path | None:
    try:
        root = importlib.resources.files(_PACKAGE_MODULE)
    except ModuleNotFoundError:
        return None
    return Path(str(root.joinpath(*_PACKAGE_FILE)))
