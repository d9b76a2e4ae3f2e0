"""Reading back the PDFs the platform prints: which fonts they carry, their text, and the QR
codes they draw (rebuilt module by module from the page's drawing operators)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.generic import ContentStream


@dataclass(frozen=True)
class PdfFont:
    name: str  # BaseFont, e.g. "AAAAAA+NotoSansCJKsc-Regular"
    embedded_bytes: int  # the font program's size in the file, 0 when not embedded


def fonts(data: bytes) -> list[PdfFont]:
    """Every font the pages use, with what is embedded of it."""
    found: dict[str, PdfFont] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources")
        if resources is None or "/Font" not in resources:
            continue
        for ref in resources["/Font"].values():
            font = ref.get_object()
            descriptors = [font.get("/FontDescriptor")] + [
                d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts", [])
            ]
            size = 0
            for descriptor in descriptors:
                if descriptor is None:
                    continue
                descriptor = descriptor.get_object()
                for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                    if key in descriptor:
                        size += len(descriptor[key].get_object().get_data())
            name = str(font["/BaseFont"]).lstrip("/")
            found[f"{ref.idnum}"] = PdfFont(name, size)
    return list(found.values())


def text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def qr_codes(data: bytes, page: int = 0) -> list[list[list[bool]]]:
    """The QR codes drawn on a page, each as rows of modules (True for dark), quiet zone left
    out: every filled path of equal-height rectangles is read as one code."""
    reader = PdfReader(io.BytesIO(data))
    operations = ContentStream(reader.pages[page].get_contents(), reader).operations
    codes = []
    rects: list[tuple[float, float, float, float]] = []
    for operands, operator in operations:
        if operator == b"re":
            rects.append(tuple(float(v) for v in operands))  # type: ignore[arg-type]
            continue
        if operator in (b"f", b"f*", b"F") and len(rects) > 20:
            codes.append(_modules(rects))
        if operator not in (b"m", b"l", b"c", b"h"):
            rects = []
    return codes


def _modules(rects: list[tuple[float, float, float, float]]) -> list[list[bool]]:
    box = min(abs(h) for _x, _y, _w, h in rects)
    left = min(x for x, _y, _w, _h in rects)
    top = max(y + h for _x, y, _w, h in rects)
    cells = set()
    for x, y, w, h in rects:
        row = round((top - (y + h)) / box)
        start = round((x - left) / box)
        cells.update((row, column) for column in range(start, start + round(w / box)))
    count = max(max(r for r, _c in cells), max(c for _r, c in cells)) + 1
    return [[(r, c) in cells for c in range(count)] for r in range(count)]
