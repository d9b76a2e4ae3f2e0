"""Reading the spreadsheets cadres live in: .xlsx or .csv, headers in Chinese or English; and
writing the ones they download, made safe to open in Excel.

Imports built on this are all-or-nothing: every row is checked first, errors come back with
their line numbers (as Excel numbers them), and nothing is stored unless every row is good.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

MAX_ROWS = 20_000

# A text cell starting with one of these is run as a formula (or DDE command) by Excel,
# LibreOffice and Google Sheets: OWASP's "CSV Injection" list, with LF and NUL as ASVS 1.2.10
# adds them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
# "-3" or "+86…" is a number to a spreadsheet, never a formula: leave it as typed.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class SheetRow:
    line: int
    values: dict[str, str]


def read_rows(
    data: bytes, filename: str, columns: Mapping[str, tuple[str, ...]], required: set[str]
) -> list[SheetRow]:
    """Rows keyed by our column names. `columns` maps a column name to the header spellings
    accepted for it (e.g. "phone": ("phone", "手机号", "手机号码")).

    Whatever the bytes, the answer is rows or `InvalidInput`: an upload is never a 500."""
    table = _read_table(data, filename)
    if not table:
        raise InvalidInput(N_("The file has no rows"))
    header = [_cell_text(h).lower() for h in table[0]]
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


def name_rows(errors: list[dict[str, Any]], rows: Iterable[SheetRow], column: str) -> None:
    """Add to each row's error the value that row is known by (its phone, its question), so
    that in a sheet of hundreds the cadre finds it by what it says, not only by its line."""
    known_as = {row.line: row.values.get(column, "") for row in rows}
    for error in errors:
        line = error.get("line", error.get("row"))
        value = known_as.get(line, "") if isinstance(line, int) else ""
        if value:
            error.setdefault("id", value[:60])


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # phone numbers typed into Excel come back as floats
    text = str(value)
    if text[:1] == "'" and text[1:2] and text[1] in FORMULA_START:
        text = text[1:]  # our own export's formula guard: the sheet comes back as it went out
    return text.strip()


def _read_table(data: bytes, filename: str) -> list[Sequence[object]]:
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_workbook(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: Excel 97-2003 (.xls)
        raise InvalidInput(N_("This is an old Excel (.xls) file: save it as .xlsx or CSV"))
    text = _decode(data)
    first_line = text.split("\n", 1)[0].split("\r", 1)[0]
    # Excel's "Unicode text" is tab-separated; a CSV header has commas.
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    # newline="" lets the csv module see \r, \n and \r\n alike (a classic Mac or an old
    # Excel saves CSV with \r alone, which a plain StringIO hands over as one long line).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error as exc:  # a cell over the csv module's field size limit
        raise InvalidInput(
            N_("Line %(line)s cannot be read as CSV. Nothing was stored."),
            line=reader.line_num,
        ) from exc


def _read_workbook(data: bytes) -> list[Sequence[object]]:
    from openpyxl import load_workbook  # (here: a fifth of a second to import, for imports only)

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        if not book.worksheets:
            raise InvalidInput(N_("The file has no rows"))
        # A read-only sheet is parsed while it is iterated: a damaged one fails here, not above.
        return list(book.worksheets[0].iter_rows(values_only=True))
    except InvalidInput:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InvalidInput(N_("The file is not a readable Excel workbook")) from exc


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)  # Excel's "Unicode text"
    else:
        encodings = ("utf-8-sig", "gb18030")  # Excel in China saves CSV as GBK
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(N_("The file is not UTF-8 text"))


# --- exports ------------------------------------------------------------------------------------


def is_formula_text(value: object) -> bool:
    """Whether a spreadsheet would run this text cell as a formula rather than show it."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    )


def safe_cell(value: object) -> object:
    """A CSV cell as OWASP advises: text that a spreadsheet would run (`=HYPERLINK(…)` typed
    into an AED's address) gets a leading `'`, which Excel reads as "this is text". Numbers
    stay numbers."""
    return "'" + value if is_formula_text(value) else value  # type: ignore[operator]


def write_csv(handle: TextIO, header: Sequence[object], rows: Iterable[Sequence[object]]) -> None:
    """Every CSV we write goes through here, so that no export can carry a formula."""
    writer = csv.writer(handle)
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)


def csv_download(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A CSV for people to open in Excel: with a BOM so that Excel reads the Chinese as UTF-8."""
    out = io.StringIO()
    write_csv(out, header, rows)
    return "\ufeff" + out.getvalue()


def workbook_bytes(header: list[str], rows: list[list[object]], title: str) -> bytes:
    return workbook_sheets([(title, header, rows)])


def workbook_sheets(sheets: list[tuple[str, list[str], list[list[object]]]]) -> bytes:
    """An .xlsx of one or more sheets (title, header, rows), header row frozen. Every workbook
    we write goes through here, so that no export can carry a formula."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        table: list[Sequence[object]] = [header, *rows]
        for line, row in enumerate(table, start=1):
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(line, column, _xlsx_value(value))
                if is_formula_text(cell.value):
                    # openpyxl stores any text starting with "=" as a formula. Stored as text
                    # with Excel's own "'" marker (quotePrefix) instead, it shows as typed and
                    # stays text even when someone edits the cell.
                    cell.data_type = "s"
                    cell.quotePrefix = True
        for index in range(len(header)):
            sheet.column_dimensions[get_column_letter(index + 1)].width = 18
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: object) -> object:
    # Control characters are not allowed in the file format; openpyxl would refuse the whole
    # export over one pasted into an address.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
