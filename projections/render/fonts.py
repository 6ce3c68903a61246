"""Find and register one CJK font that reportlab can embed in a PDF.

reportlab embeds only TrueType outlines (.ttf, or .ttc collections of them). Debian's
fonts-wqy-zenhei is first choice: TrueType, and it covers CJK Extension A, where rare characters
in people's names live. Noto CJK (fonts-noto-cjk) is CFF/OpenType and is refused by reportlab.
`TIMELEDGER_CJK_FONT` names another font file; if nothing is found, the PDF falls back to the
built-in, non-embedded STSong-Light, which a reader must supply itself.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_ENV = "TIMELEDGER_CJK_FONT"
FALLBACK_CID_FONT = "STSong-Light"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",  # Fedora wqy-zenhei-fonts
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",  # macOS
    "C:/Windows/Fonts/simsun.ttc",  # Windows
)


class CjkFontError(Exception):
    """The font named by TIMELEDGER_CJK_FONT is missing or cannot be embedded."""


@dataclass(frozen=True)
class CjkFont:
    """A registered font: `name` for reportlab styles, `face_name` as the PDF names it."""

    name: str
    face_name: str
    embedded: bool
    path: Path | None


def cjk_font() -> CjkFont:
    """The CJK font for PDFs, registered with reportlab on first use."""
    return _register(os.environ.get(FONT_ENV) or None)


@functools.cache
def _register(override: str | None) -> CjkFont:
    if override is not None:
        return _register_truetype(Path(override))
    for candidate in map(Path, FONT_CANDIDATES):
        if candidate.is_file():
            return _register_truetype(candidate)
    warnings.warn(
        f"no CJK TrueType font found (install fonts-wqy-zenhei or set {FONT_ENV}); "
        f"PDFs use {FALLBACK_CID_FONT}, which is not embedded",
        RuntimeWarning,
        stacklevel=3,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return CjkFont(name=FALLBACK_CID_FONT, face_name=FALLBACK_CID_FONT, embedded=False, path=None)


def _register_truetype(path: Path) -> CjkFont:
    try:
        font = TTFont(f"CJK-{path.stem}", str(path), subfontIndex=0)
    except (OSError, TTFError) as error:
        raise CjkFontError(f"cannot embed font {path}: {error}") from error
    pdfmetrics.registerFont(font)
    face_name = font.face.name
    return CjkFont(
        name=font.fontName,
        face_name=face_name.decode("ascii") if isinstance(face_name, bytes) else face_name,
        embedded=True,
        path=path,
    )
