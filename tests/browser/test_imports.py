"""Every import page, given a file with bad rows, says which ones: by line (a sheet) or feature
(GeoJSON), and by what the row is known as (its phone, its question, its OpenStreetMap id), so
that a cadre can find it in a sheet of hundreds. Nothing from the file is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from gongchuang.core.db import Database
from gongchuang.core.models import Membership, Organisation, OrganisationKind, Person
from gongchuang.training.models import ClassStatus, QuestionBank, TrainingClass
from tests.browser.conftest import check_accessibility, login
from tests.support.spreadsheets import xlsx


@dataclass(frozen=True)
class Places:
    mall: int
    village: int
    training_class: int
    bank: int


@pytest.fixture(scope="module")
def places(live: tuple[str, str]) -> Iterator[Places]:
    database = Database(live[1])
    try:
        with database.transaction(write=False) as session:
            village = session.scalar(
                select(Organisation.id)
                .join(Membership, Membership.organisation_id == Organisation.id)
                .join(Person, Person.id == Membership.person_id)
                .where(
                    Person.phone == "13800000001",
                    Organisation.kind == OrganisationKind.village_committee,
                )
            )
            yield Places(
                mall=session.scalar(
                    select(Organisation.id).where(Organisation.name == "新化示范购物中心")
                )
                or 0,
                village=village or 0,
                training_class=session.scalar(
                    select(TrainingClass.id).where(
                        TrainingClass.title == "乡村振兴带头人示范班",
                        TrainingClass.status == ClassStatus.open,  # this year's, not last's
                    )
                )
                or 0,
                bank=session.scalar(
                    select(QuestionBank.id).where(QuestionBank.name == "应急百问题库")
                )
                or 0,
            )
    finally:
        database.dispose()


def upload(page: Page, form: str, name: str, body: bytes) -> Locator:
    """Send the file through the page's own form; the refusal's list of bad rows."""
    form_locator = page.locator(f'form[action$="{form}"]')
    form_locator.locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": body}]
    )
    with page.expect_response(lambda r: r.url.endswith(form)) as answer:
        form_locator.locator('button[type="submit"], button:not([type])').first.click()
    assert answer.value.status == 422
    return page.locator('[role="alert"] li')


def test_aed_geojson_import_names_each_bad_feature_and_its_osm_id(
    page: Page, places: Places
) -> None:
    point = {"type": "Point", "coordinates": [111.306, 27.737]}
    features = [
        {"type": "Feature", "id": "node/11", "geometry": point, "properties": {}},
        {"type": "Feature", "id": "node/22", "geometry": None, "properties": {}},
        {"type": "Feature", "geometry": point, "properties": {"@id": "node/33", "emergency": "x"}},
        {"type": "Feature", "id": "way/44", "geometry": point, "properties": {"status": "?"}},
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    login(page, "13800000004")  # the mall's admin
    page.goto(f"/emergency/venues/{places.mall}")
    errors = upload(page, "/aeds/import", "osm-aeds.geojson", body)
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_contain_text("第 2 个要素 (node/22)")
    expect(errors.nth(1)).to_contain_text("第 3 个要素 (node/33)")
    expect(errors.nth(2)).to_contain_text("第 4 个要素 (way/44)")
    check_accessibility(page)
    page.goto(f"/emergency/venues/{places.mall}")
    expect(page.locator("main")).not_to_contain_text("node/11")


def test_points_import_names_each_bad_line_and_its_phone(page: Page, places: Places) -> None:
    sheet = xlsx(
        [
            ["手机号", "规则编号", "日期"],
            ["13800000002", "NOPE", "2026-11-20"],
            ["13999999999", "GY01", "2026-11-20"],
        ]
    )
    login(page, "13800000001")  # the village's cadre
    page.goto(f"/points/villages/{places.village}/batch")
    errors = upload(page, f"/points/villages/{places.village}/import", "记录.xlsx", sheet)
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("第 2 行 (13800000002)")
    expect(errors.nth(1)).to_contain_text("第 3 行 (13999999999)")


def test_member_import_names_each_bad_line_and_its_phone(page: Page, places: Places) -> None:
    sheet = "姓名,手机号\r张三,13911110001\r,13911110002\r王五,12345\r".encode("gb18030")
    login(page, "13800000001")  # the village committee's admin
    page.goto(f"/orgs/{places.village}")
    errors = upload(page, "/members/import", "成员.csv", sheet)
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("第 3 行 (13911110002)")
    expect(errors.nth(1)).to_contain_text("第 4 行 (12345)")


def test_roster_import_names_each_bad_line_by_phone_not_id_number(
    page: Page, places: Places
) -> None:
    bad_id = "431322199001010019"  # wrong check digit
    sheet = xlsx([["姓名", "手机号", "身份证号", "职务"], ["张建国", "13722220001", bad_id, ""]])
    login(page, "13800000010")  # the training institution's head
    page.goto(f"/training/classes/{places.training_class}")
    errors = upload(page, "/roster", "roster.xlsx", sheet)
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("第 2 行 (13722220001)")
    expect(page.locator("main")).not_to_contain_text(bad_id)


def test_question_bank_import_names_each_bad_line_and_its_question(
    page: Page, places: Places
) -> None:
    sheet = xlsx(
        [
            ["题型", "题目", "选项A", "选项B", "答案", "解析"],
            ["判断", "止血时要持续按压伤口吗？", "", "", "也许", "至少10分钟。"],
        ]
    )
    login(page, "13800000006")  # the hospital's trainer, who publishes its bank
    page.goto(f"/training/manage/banks/{places.bank}")
    errors = upload(page, f"/banks/{places.bank}/import", "题库.xlsx", sheet)
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("第 2 行 (止血时要持续按压伤口吗？)")


def test_population_import_names_each_bad_line_and_its_label(page: Page) -> None:
    sheet = "label,lat,lng,weight\n示范村委会,27.73,111.30,120\n油茶组,abc,111.31,80\n".encode()
    login(page, "13800000003")  # the county's health bureau
    page.goto("/emergency/coverage?region=431322")
    errors = upload(page, "/population", "人口.csv", sheet)
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("第 3 行 (油茶组)")
