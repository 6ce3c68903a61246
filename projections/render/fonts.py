"""Find and register the CJK fonts that reportlab can embed in a PDF, with a fallback chain for
rare characters (生僻字) in people's names.

reportlab embeds only TrueType outlines (.ttf, or .ttc collections of them). Debian's
fonts-wqy-zenhei is first choice: TrueType, and it covers the basic block and CJK Extension A.
Names can hold characters of Extensions B–H ("𠮷野𡈼"), which no single free TrueType font covers:
each character the main font lacks is set in the first font of `FALLBACK_CANDIDATES` that has it
(fonts-hanazono: Extensions B–F; fonts-babelstone-han: part of G and H; DejaVu: ☑ and other
symbols). `font_runs` splits a text into runs per font; the PDF renderer uses it for every text.
Noto CJK (fonts-noto-cjk) is CFF/OpenType and is refused by reportlab.
`TIMELEDGER_CJK_FONT` names another main font file; if nothing is found, the PDF falls back to the
built-in, non-embedded STSong-Light, which a reader must supply itself.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts
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
FALLBACK_CANDIDATES = (
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",  # Debian fonts-hanazono: basic, Ext A, some B
    "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",  # Debian fonts-hanazono: Ext B, C, D, E, F
    "/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",  # Debian fonts-babelstone-han: part of G, H
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian fonts-dejavu-core: ☑ and other symbols
    "/System/Library/Fonts/Supplemental/Songti.ttc",  # macOS
    "C:/Windows/Fonts/simsunb.ttf",  # Windows: SimSun-ExtB
)


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ToUnicode CMap, with characters beyond U+FFFF (Extensions B–H) written as UTF-16
    surrogate pairs: reportlab writes them as five hex digits, which readers (pdftotext, copy and
    paste, search) turn into a wrong character."""
    lines = [f"<{index:02X}> <{chr(code).encode('utf-16-be').hex().upper()}>" for index, code in enumerate(subset)]
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({fontname})", f"/Ordering ({fontname})", "/Supplement 0", ">> def",
        f"/CMapName /{fontname} def", "/CMapType 2 def", "1 begincodespacerange", f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange", f"{len(subset)} beginbfchar", *lines, "endbfchar", "endcmap",
        "CMapName currentdict /CMap defineresource pop", "end", "end"])


ttfonts.makeToUnicodeCMap = _to_unicode_cmap  # the one module-level function reportlab calls for it


class CjkFontError(Exception):
    """The font named by TIMELEDGER_CJK_FONT is missing or cannot be embedded."""


@dataclass(frozen=True)
class CjkFont:
    """A registered font: `name` for reportlab styles, `face_name` as the PDF names it."""

    name: str
    face_name: str
    embedded: bool
    path: Path | None
    characters: frozenset[int] | None = None  # the code points it has; None: unknown (a CID font)

    def covers(self, char: str) -> bool:
        return self.characters is None or ord(char) in self.characters


def cjk_font() -> CjkFont:
    """The CJK font for PDFs, registered with reportlab on first use."""
    return _register(os.environ.get(FONT_ENV) or None)


def fallback_fonts() -> tuple[CjkFont, ...]:
    """The fonts tried, in order, for a character the main font lacks (those installed)."""
    main = cjk_font()
    return tuple(font for font in _fallbacks() if font.path != main.path)


def font_runs(text: str) -> list[tuple[str, str]]:
    """`text` as (font name, run) pairs: each character in the main font if it has it, else in the
    first fallback font that has it, else in the main font (which shows a blank box)."""
    main = cjk_font()
    runs: list[tuple[str, str]] = []
    for char in text:
        chosen = main
        if not main.covers(char) and not char.isspace():  # the fallbacks (~100 MB) load only when needed
            chosen = next((font for font in fallback_fonts() if font.covers(char)), main)
        if runs and runs[-1][0] == chosen.name:
            runs[-1] = (chosen.name, runs[-1][1] + char)
        else:
            runs.append((chosen.name, char))
    return runs


def missing_characters(text: str) -> str:
    """The characters of `text` that no installed font has (they print as blank boxes)."""
    fonts = (cjk_font(), *fallback_fonts())
    return "".join(char for char in dict.fromkeys(text)
                   if not char.isspace() and not any(font.covers(char) for font in fonts))


@functools.cache
def _fallbacks() -> tuple[CjkFont, ...]:
    found = []
    for candidate in map(Path, FALLBACK_CANDIDATES):
        if candidate.is_file():
            try:
                found.append(_register_truetype(candidate))
            except CjkFontError:
                continue  # an unusable fallback is skipped; the main font still prints the rest
    return tuple(found)


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
        characters=frozenset(font.face.charToGlyph),
    )
