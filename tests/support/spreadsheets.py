"""Spreadsheets as people upload them."""

from __future__ import annotations

import io


def xlsx(rows: list[list[object]]) -> bytes:
    """An .xlsx of one sheet holding `rows` as given, header included: unlike the platform's own
    exports (gongchuang.core.spreadsheets), nothing is escaped, so formulas stay formulas."""
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
