"""What printable documents need: a font that writes Chinese, and QR codes to verify them.

PDFs embed Noto Sans CJK SC, so that a notice or a certificate prints the same on any reader,
phone or print shop: `make install` builds the font file (scripts/build-pdf-font.py, from
Debian's fonts-noto-cjk, with the TrueType outlines reportlab embeds) and reportlab puts into
each document only the glyphs it uses. Without the file (a checkout not set up with `make
install`) documents fall back to reportlab's CID font STSong-Light, which readers draw only
with Adobe's Asian font pack (Acrobat has it, many phone readers do not), and say so in the log.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

CJK_FONT = "NotoSansCJKsc"
FONT_FILE = Path(__file__).with_name("fonts") / "NotoSansCJKsc-Regular.ttf"
# Not embedded: for the few characters the embedded font lacks (Korean hangul, the rarest
# hanzi), and for everything when the font file was never built.
FALLBACK_FONT = "STSong-Light"
_registering = threading.Lock()
_said_missing = False  # the warning once per process, not once per document


def register_cjk_font() -> str:
    """The font name for Chinese text in a PDF: the embedded Noto Sans CJK SC once it is built,
    the CID font otherwise. Registers both with reportlab on first use."""
    global _said_missing
    from reportlab.pdfbase import pdfmetrics

    registered = pdfmetrics.getRegisteredFontNames()
    if CJK_FONT in registered:
        return CJK_FONT
    with _registering:
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfbase.ttfonts import TTFont

        if FALLBACK_FONT not in registered:
            pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
        if not FONT_FILE.is_file():
            if not _said_missing:
                _said_missing = True
                log.warning(
                    "PDF font %s not built (run `make install`): PDFs use %s, not embedded",
                    FONT_FILE,
                    FALLBACK_FONT,
                )
            return FALLBACK_FONT
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(CJK_FONT, str(FONT_FILE)))
    return CJK_FONT


def runs(text: str, font: str) -> list[tuple[str, str]]:
    """`text` cut into (font, piece) runs: the characters `font` has no glyph for go to the CID
    font, which readers with Adobe's Asian fonts draw. Spaces stay with their neighbours; a
    character beyond the Basic Multilingual Plane stays (the CID font's encoding has none)."""
    if font != CJK_FONT or not text:
        return [(font, text)] if text else []
    from reportlab.pdfbase import pdfmetrics

    covered = pdfmetrics.getFont(font).face.charToGlyph
    pieces: list[tuple[str, str]] = []
    for in_font, group in itertools.groupby(
        text, lambda c: ord(c) in covered or ord(c) > 0xFFFF or c.isspace()
    ):
        piece = "".join(group)
        pieces.append((font if in_font else FALLBACK_FONT, piece))
    return pieces


def markup(text: str, font: str) -> str:
    """Plain `text` for a reportlab Paragraph: escaped (a name may hold "&" or "<"), with the
    runs the embedded font cannot draw set in the CID font."""
    return "".join(
        escape(piece) if run_font == font else f'<font name="{run_font}">{escape(piece)}</font>'
        for run_font, piece in runs(text, font)
    )


def draw_string(
    pdf: Any,
    x: float,
    y: float,
    text: str,
    font: str,
    size: float,
    align: Literal["left", "centre", "right"] = "left",
) -> None:
    """canvas.drawString, centred or right-aligned at `x` if asked, in `font` at `size`, with
    the characters it lacks in the CID font (see `runs`)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pieces = runs(text, font)
    width = sum(stringWidth(piece, run_font, size) for run_font, piece in pieces)
    start = {"left": x, "centre": x - width / 2, "right": x - width}[align]
    line = pdf.beginText(start, y)
    for run_font, piece in pieces:
        line.setFont(run_font, size)
        line.textOut(piece)
    pdf.drawText(line)


def qr_modules(text: str, level: str = "L") -> list[list[bool]]:
    """The QR code of `text` as rows of modules, True for dark; `level` is the error
    correction: L for screens, M for paper that gets folded, rained on and scanned from afar."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    qr = QrCodeWidget(text, barLevel=level).qr
    qr.make()
    return [[bool(cell) for cell in row] for row in qr.modules]


def qr_svg(text: str, size: int = 180) -> str:
    """An inline SVG QR code as one path of horizontal runs: a few KB for a cheap phone, no
    script and no image request (the CSP stays strict)."""
    modules = qr_modules(text)
    count = len(modules)
    border = 4
    paths = []
    for row_index, row in enumerate(modules):
        column = 0
        for dark, group in itertools.groupby(row):
            length = len(list(group))
            if dark:
                paths.append(f"M{column + border} {row_index + border}h{length}v1h-{length}z")
            column += length
    extent = count + 2 * border
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {extent} {extent}" '
        f'width="{size}" height="{size}" shape-rendering="crispEdges" aria-hidden="true">'
        f'<rect width="{extent}" height="{extent}" fill="#fff"/>'
        f'<path d="{"".join(paths)}" fill="#000"/></svg>'
    )


def draw_qr(pdf: Any, text: str, x: float, y: float, size: float, level: str = "M") -> None:
    """Draw a QR code of `text` on a reportlab canvas, `size` points square at (x, y) with its
    quiet zone of four modules inside: one filled path of horizontal runs (the code is worked
    out once; reportlab's widget works it out twice and draws each run as its own shape)."""
    modules = qr_modules(text, level)
    border = 4
    box = size / (len(modules) + 2 * border)
    path = pdf.beginPath()
    for row_index, row in enumerate(modules):
        column = 0
        top = y + size - (row_index + border) * box
        for dark, group in itertools.groupby(row):
            length = len(list(group))
            if dark:
                path.rect(x + (column + border) * box, top - box, length * box, box)
            column += length
    pdf.saveState()
    pdf.setFillColorRGB(0, 0, 0)
    pdf.drawPath(path, stroke=0, fill=1)
    pdf.restoreState()


def qr_flowable(text: str, size: float, level: str = "M") -> Any:
    """The QR code of `text` as a platypus flowable, `size` points square."""
    from reportlab.platypus import Flowable

    class QrCode(Flowable):
        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return size, size

        def draw(self) -> None:
            draw_qr(self.canv, text, 0, 0, size, level)

    return QrCode()


def certificate_pdf(
    title: str, lines: list[str], number: str, dated: str, verify_url: str
) -> bytes:
    """A landscape A4 certificate: framed title, body lines, its number and date, and a QR code
    that opens its public check. `dated` is the whole date line (出具日期 …, 结业日期 …)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    font = register_cjk_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=landscape(A4))
    pdf.setTitle(f"{title} {number}")
    width, height = landscape(A4)
    pdf.setLineWidth(2)
    pdf.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    draw_string(pdf, width / 2, height - 45 * mm, title, font, 30, "centre")
    y = height - 75 * mm
    for line in lines:
        draw_string(pdf, 35 * mm, y, line, font, 15)
        y -= 13 * mm
    draw_string(pdf, 35 * mm, 30 * mm, f"证书编号 {number}", font, 12)
    draw_string(pdf, 35 * mm, 22 * mm, dated, font, 12)
    draw_string(pdf, width - 110 * mm, 22 * mm, "扫描二维码核验", font, 12)
    draw_qr(pdf, verify_url, width - 65 * mm, 18 * mm, 40 * mm)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
