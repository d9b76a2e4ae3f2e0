"""What printable documents need: a font that writes Chinese, and QR codes to verify them."""

from __future__ import annotations

from typing import Any

CJK_FONT = "STSong-Light"


def register_cjk_font() -> str:
    """A CID font every PDF reader ships for Chinese: nothing to embed, nothing to download."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def qr_svg(text: str, size: int = 180) -> str:
    """An inline SVG QR code as one path of horizontal runs: a few KB for a cheap phone, no
    script and no image request (the CSP stays strict)."""
    import itertools

    from reportlab.graphics.barcode.qr import QrCodeWidget

    widget = QrCodeWidget(text)
    widget.qr.make()
    modules = widget.qr.modules
    count = len(modules)
    border = 4
    runs = []
    for row_index, row in enumerate(modules):
        column = 0
        for dark, group in itertools.groupby(bool(cell) for cell in row):
            length = len(list(group))
            if dark:
                runs.append(f"M{column + border} {row_index + border}h{length}v1h-{length}z")
            column += length
    extent = count + 2 * border
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {extent} {extent}" '
        f'width="{size}" height="{size}" shape-rendering="crispEdges" aria-hidden="true">'
        f'<rect width="{extent}" height="{extent}" fill="#fff"/>'
        f'<path d="{"".join(runs)}" fill="#000"/></svg>'
    )


def draw_qr(pdf: Any, text: str, x: float, y: float, size: float) -> None:
    """Draw a QR code of `text` on a reportlab canvas, `size` points square at (x, y)."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(text)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, x, y)
