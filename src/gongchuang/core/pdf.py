"""What every printable PDF needs: a font that writes Chinese."""

from __future__ import annotations

CJK_FONT = "STSong-Light"


def register_cjk_font() -> str:
    """A CID font every PDF reader ships for Chinese: nothing to embed, nothing to download."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT
