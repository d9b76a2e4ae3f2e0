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


def certificate_pdf(
    title: str, lines: list[str], number: str, dated: str, verify_url: str
) -> bytes:
    """A landscape A4 certificate: framed title, body lines, its number and date, and a QR code
    that opens its public check. `dated` is the whole date line (出具日期 …, 结业日期 …)."""
    import io

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
    pdf.setFont(font, 30)
    pdf.drawCentredString(width / 2, height - 45 * mm, title)
    pdf.setFont(font, 15)
    y = height - 75 * mm
    for line in lines:
        pdf.drawString(35 * mm, y, line)
        y -= 13 * mm
    pdf.setFont(font, 12)
    pdf.drawString(35 * mm, 30 * mm, f"证书编号 {number}")
    pdf.drawString(35 * mm, 22 * mm, dated)
    pdf.drawString(width - 110 * mm, 22 * mm, "扫描二维码核验")
    draw_qr(pdf, verify_url, width - 65 * mm, 18 * mm, 40 * mm)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
