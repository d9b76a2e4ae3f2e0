"""PDFs print the same on any reader: they embed (a subset of) Noto Sans CJK SC, built by
`make install`, instead of naming a CID font only some readers have."""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

import pytest

from gongchuang.core import pdf
from tests.support import pdfs

SUBSET = re.compile(r"^[A-Z]{6}\+NotoSansCJKsc-Regular$")


@pytest.fixture(scope="module", autouse=True)
def built_font() -> None:
    assert pdf.FONT_FILE.is_file(), f"{pdf.FONT_FILE} missing: run `make install` (make pdf-font)"
    assert pdf.register_cjk_font() == pdf.CJK_FONT


def certificate(holder: str, verify: str = "http://127.0.0.1:8000/verify/ABC123") -> bytes:
    return pdf.certificate_pdf(
        "结业证书",
        [f"{holder} 同志：", "参加在线课程《农村急救常识》的学习，准予结业。", "颁发单位：新化县"],
        "ABC123",
        "结业日期 2026年03月16日",
        verify,
    )


def test_a_certificate_embeds_a_subset_of_noto_and_its_text_reads_back() -> None:
    data = certificate("龚淑燕")
    used = [f for f in pdfs.fonts(data) if f.name != "Helvetica"]  # the canvas's unused default
    assert used and all(SUBSET.match(f.name) and f.embedded_bytes for f in used), used
    # Only the glyphs the page draws: tens of KB, not the 10 MB font.
    assert sum(f.embedded_bytes for f in used) < 200_000
    assert pdf.FALLBACK_FONT not in {f.name for f in pdfs.fonts(data)}
    text = pdfs.text(data)
    for expected in (
        "结业证书",
        "龚淑燕 同志：",
        "《农村急救常识》",
        "证书编号 ABC123",
        "扫描二维码核验",
    ):
        assert expected in text


def test_the_certificate_qr_code_is_its_check_address() -> None:
    verify = "http://127.0.0.1:8000/training/certificates/Zx8-Qp"
    assert pdfs.qr_codes(certificate("张三", verify)) == [pdf.qr_modules(verify, "M")]


def test_the_font_writes_every_common_hanzi() -> None:
    """GB 2312 (6,763 hanzi), all of GBK's unified ideographs, and rare name characters."""
    from reportlab.pdfbase import pdfmetrics

    covered = pdfmetrics.getFont(pdf.CJK_FONT).face.charToGlyph
    gb2312 = set()
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                gb2312.add(ord(bytes([high, low]).decode("gb2312")))
    assert len(gb2312) == 6763 and gb2312 <= covered.keys()
    assert set(range(0x4E00, 0x9FA6)) <= covered.keys()
    assert {
        ord(c) for c in "䶮堃喆昇旻珺玥翀犇淼焱叒垚赟𬭚𫖯“”（），。：；、ABCabc123"
    } <= covered.keys()


def test_what_the_font_lacks_falls_back_to_the_cid_font_for_that_run_only() -> None:
    assert pdf.runs("金 김민수 李", pdf.CJK_FONT) == [
        (pdf.CJK_FONT, "金 "),
        (pdf.FALLBACK_FONT, "김민수"),
        (pdf.CJK_FONT, " 李"),
    ]
    names = {f.name for f in pdfs.fonts(certificate("김민수"))}
    assert pdf.FALLBACK_FONT in names and any(SUBSET.match(n) for n in names)
    # Paragraph markup: a name may hold XML's own characters.
    assert pdf.markup("王&<李>김", pdf.CJK_FONT) == (
        f'王&amp;&lt;李&gt;<font name="{pdf.FALLBACK_FONT}">김</font>'
    )


def test_without_the_built_font_pdfs_still_print_with_the_cid_font(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(pdf, "CJK_FONT", "NotBuiltHere")
    monkeypatch.setattr(pdf, "FONT_FILE", tmp_path / "missing.ttf")
    monkeypatch.setattr(pdf, "_said_missing", False)
    with caplog.at_level(logging.WARNING, logger="gongchuang.core.pdf"):
        assert pdf.register_cjk_font() == pdf.FALLBACK_FONT
        data = certificate("张三")
    assert "make install" in caplog.text and len(caplog.records) == 1  # once, not per PDF
    assert {f.name for f in pdfs.fonts(data)} == {"Helvetica", pdf.FALLBACK_FONT}
