"""Builds the font that PDFs embed (`make install` runs this once per machine).

reportlab embeds TrueType-outline fonts only, and Debian's Noto Sans CJK has CFF outlines, so
this takes the Simplified Chinese face of Noto Sans CJK (package fonts-noto-cjk), keeps every
character it maps except Korean hangul (about 33,000: Latin, punctuation, kana and every hanzi
the face draws, from the common 8,105 to the rare ones in villagers' names), and writes them
with quadratic TrueType outlines into one file. reportlab then embeds, per document, only the
glyphs that document uses. Usage: build-pdf-font.py OUTPUT.ttf [SOURCE.ttc|.otf]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

FAMILY = "Noto Sans CJK SC"
DEBIAN_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
# Korean hangul: syllables, jamo, compatibility jamo and their extensions.
LEFT_OUT = [(0x1100, 0x1200), (0x3130, 0x3190), (0xA960, 0xA980), (0xAC00, 0xD800)]
# Cubic to quadratic curves within 1 font unit (of 1000 to the em): no visible difference.
MAX_ERROR = 1.0


def source_file() -> str:
    """Where fontconfig has the regular Noto Sans CJK SC (Debian's path when it has none)."""
    fc_list = shutil.which("fc-list")
    if fc_list:
        listed = subprocess.run(  # noqa: S603 (fixed arguments)
            [fc_list, "--format", "%{file}\n", f":family={FAMILY}:style=Regular"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        if listed:
            return sorted(listed)[0]
    return DEBIAN_FILE


def open_face(path: str) -> TTFont:
    if path.lower().endswith((".ttc", ".otc")):
        for face in TTCollection(path, lazy=True).fonts:
            if face["name"].getDebugName(1) == FAMILY:
                return face
        raise SystemExit(f"{path} has no {FAMILY} face")
    return TTFont(path, lazy=True)


def kept(code: int) -> bool:
    return not any(start <= code < end for start, end in LEFT_OUT)


def build(source: str, output: Path) -> None:
    started = time.monotonic()
    face = open_face(source)
    cmap = {code: glyph for code, glyph in face.getBestCmap().items() if kept(code)}
    order = [".notdef", *sorted(set(cmap.values()) - {".notdef"}, key=face.getGlyphID)]
    glyph_set = face.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        # CFF contours run counter-clockwise, TrueType ones clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction="CFF " in face))
        glyphs[name] = pen.glyph()

    names = face["name"]
    os2, hhea, head = face["OS/2"], face["hhea"], face["head"]
    builder = FontBuilder(head.unitsPerEm, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(cmap)
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: face["hmtx"][name] for name in order})
    builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    builder.setupNameTable(
        {
            "copyright": names.getDebugName(0),
            "familyName": names.getDebugName(1),
            "styleName": names.getDebugName(2),
            "uniqueFontIdentifier": f"{names.getDebugName(3)};TrueType outlines",
            "fullName": names.getDebugName(4),
            "version": names.getDebugName(5),
            "psName": names.getDebugName(6),
            "licenseDescription": names.getDebugName(13) or "SIL Open Font License 1.1",
            "licenseInfoURL": names.getDebugName(14) or "https://openfontlicense.org",
        }
    )
    builder.setupOS2(
        usWeightClass=os2.usWeightClass,
        fsType=os2.fsType,
        achVendID=os2.achVendID,
        sTypoAscender=os2.sTypoAscender,
        sTypoDescender=os2.sTypoDescender,
        sTypoLineGap=os2.sTypoLineGap,
        usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent,
        sxHeight=getattr(os2, "sxHeight", 0),
        sCapHeight=getattr(os2, "sCapHeight", 0),
        ulCodePageRange1=getattr(os2, "ulCodePageRange1", 0),
        ulCodePageRange2=getattr(os2, "ulCodePageRange2", 0),
    )
    builder.setupPost()
    builder.setupHead(unitsPerEm=head.unitsPerEm, fontRevision=head.fontRevision)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    builder.save(str(partial))
    os.replace(partial, output)  # never a half-written font where the PDFs look for it
    print(
        f"PDF font: {len(cmap)} characters of {FAMILY} from {source} -> {output} "
        f"({output.stat().st_size // 1024} KiB, {time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    build(sys.argv[2] if len(sys.argv) == 3 else source_file(), Path(sys.argv[1]))
