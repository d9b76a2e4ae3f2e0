"""Reading the spreadsheets cadres live in: .xlsx or .csv, headers in Chinese or English.

Imports built on this are all-or-nothing: every row is checked first, errors come back with
their line numbers (as Excel numbers them), and nothing is stored unless every row is good.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from openpyxl import load_workbook

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

MAX_ROWS = 20_000


@dataclass(frozen=True)
class SheetRow:
    line: int
    values: dict[str, str]


def read_rows(
    data: bytes, filename: str, columns: Mapping[str, tuple[str, ...]], required: set[str]
) -> list[SheetRow]:
    """Rows keyed by our column names. `columns` maps a column name to the header spellings
    accepted for it (e.g. "phone": ("phone", "手机号", "手机号码"))."""
    table = _read_table(data, filename)
    if not table:
        raise InvalidInput(N_("The file has no rows"))
    header = [str(h or "").strip().lower() for h in table[0]]
    positions: dict[str, int] = {}
    for name, spellings in columns.items():
        for index, cell in enumerate(header):
            if cell in {s.lower() for s in spellings}:
                positions[name] = index
                break
    missing = sorted(required - positions.keys())
    if missing:
        raise InvalidInput(
            N_("Line 1: missing columns %(columns)s. Nothing was stored."),
            columns=", ".join(" / ".join(columns[m]) for m in missing),
        )
    rows = []
    for line, raw in enumerate(table[1:], start=2):
        values = {
            name: _cell_text(raw[i] if i < len(raw) else None) for name, i in positions.items()
        }
        if any(values.values()):
            rows.append(SheetRow(line, values))
    if not rows:
        raise InvalidInput(N_("The file has no rows"))
    if len(rows) > MAX_ROWS:
        raise InvalidInput(N_("At most %(n)s rows per file"), n=MAX_ROWS)
    return rows


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # phone numbers typed into Excel come back as floats
    return str(value).strip()


def _read_table(data: bytes, filename: str) -> list[list[object]]:
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise InvalidInput(N_("The file is not a readable Excel workbook")) from exc
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(N_("The file is not UTF-8 text"))
    return [list(row) for row in csv.reader(io.StringIO(text))]


def workbook_bytes(header: list[str], rows: list[list[object]], title: str) -> bytes:
    return workbook_sheets([(title, header, rows)])


def workbook_sheets(sheets: list[tuple[str, list[str], list[list[object]]]]) -> bytes:
    """An .xlsx of one or more sheets (title, header, rows), header row frozen."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        for index in range(len(header)):
            sheet.column_dimensions[get_column_letter(index + 1)].width = 18
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
