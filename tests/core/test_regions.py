import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import regions
from gongchuang.core.errors import InvalidInput
from gongchuang.core.models import Region
from gongchuang.core.permissions import SYSTEM


def test_levels_follow_the_code() -> None:
    assert regions.level_for_code("430000") == "province"
    assert regions.level_for_code("431300") == "city"
    assert regions.level_for_code("431322") == "county"
    assert regions.level_for_code("431322101000") == "town"
    assert regions.level_for_code("431322101201") == "village"
    assert regions.level_for_code("43132") is None
    assert regions.level_for_code("43x322") is None


def test_csv_import_builds_the_hierarchy(session: Session) -> None:
    data = (
        "code,name,level,parent_code,kind\n"
        "430000,湖南省,province,,省\n"
        "431300,娄底市,city,430000,地级市\n"
        "431322,新化县,county,431300,县\n"
        "431322101000,示范镇,town,431322,镇\n"
        "431322101201,示范村,village,431322101000,村\n"
    ).encode()
    created, updated = regions.import_rows(session, SYSTEM, regions.parse_csv(data))
    assert (created, updated) == (5, 0)
    village = regions.get_region(session, "431322101201")
    assert [r.name for r in regions.ancestors(session, village)] == [
        "湖南省",
        "娄底市",
        "新化县",
        "示范镇",
    ]
    county = regions.get_region(session, "431322")
    assert len(regions.subtree_ids(session, county)) == 3


def test_a_bad_row_stores_nothing_and_names_its_line(session: Session) -> None:
    before = session.scalar(select(func.count(Region.id)))
    data = (
        "code,name,level,parent_code,kind\n"
        "430000,湖南省,province,,省\n"
        "431300,娄底市,city,430000,地级市\n"
        "43132X,坏代码,county,431300,县\n"
        "431322101000,示范镇,town,999999,镇\n"
    ).encode()
    with pytest.raises(InvalidInput) as caught:
        session.begin_nested()
        regions.import_rows(session, SYSTEM, regions.parse_csv(data))
    session.rollback()
    assert caught.value.params["line"] == 4
    lines = {e["line"] for e in caught.value.errors}
    assert lines == {4, 5}
    assert session.scalar(select(func.count(Region.id))) == before


def test_builtin_tables_have_every_county_with_real_codes() -> None:
    rows = regions.builtin_rows()
    by_code = {r.code: r for r in rows}
    assert by_code["431322"].name == "新化县"
    assert by_code["110101"].name == "东城区"
    assert by_code["110101"].parent_code == "110000"  # municipalities have no city level
    # Counties created in December 2024 are present: the data is 2024 or newer.
    names = {r.name for r in rows}
    assert {"和康县", "和安县"} <= names
    counties = [r for r in rows if r.level == "county"]
    assert len(counties) > 2800
    assert all(regions.level_for_code(r.code) for r in rows)


def test_api_lists_children_with_cursor_pagination(client, world) -> None:
    first = client.get("/api/v1/regions", params={"parent": "431300", "limit": 1})
    assert first.status_code == 200
    page1 = first.json()
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    second = client.get(
        "/api/v1/regions", params={"parent": "431300", "limit": 1, "cursor": page1["next_cursor"]}
    ).json()
    names = {page1["items"][0]["name"], second["items"][0]["name"]}
    assert names == {"新化县", "双峰县"}
    assert second["next_cursor"] is None
    assert client.get("/api/v1/regions", params={"cursor": "garbage!"}).status_code == 422


def test_region_pages_show_the_trail(client, world) -> None:
    page = client.get("/regions/431322101201")
    assert page.status_code == 200
    assert "新化县" in page.text and "甲示范村村委会" in page.text
    assert client.get("/regions/999999").status_code == 404


def test_api_finds_regions_by_name(client, world) -> None:
    found = client.get("/api/v1/regions", params={"q": "新化"}).json()["items"]
    assert [r["code"] for r in found] == ["431322"]
    villages = client.get("/api/v1/regions", params={"q": "示范村", "level": "village"}).json()
    assert {r["name"] for r in villages["items"]} == {"甲示范村", "乙示范村", "丙示范村"}
