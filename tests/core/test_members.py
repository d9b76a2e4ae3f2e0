import io

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.permissions import SYSTEM
from tests.conftest import api_token, login
from tests.support.world import make_person


def test_member_list_pages_and_searches(client, world, session: Session) -> None:
    for index in range(5):
        person = make_person(session, f"1360000000{index}", f"测试{index}号")
        organisations.add_member(
            session, SYSTEM, world.village_a, phone=person.phone, roles=["member"], check=False
        )
    session.commit()
    headers = api_token(client, world.cadre_a.phone, ["read", "org.view_members"])
    url = f"/api/v1/organisations/{world.village_a.id}/members"
    seen, cursor = [], None
    while True:
        page = client.get(
            url, params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=headers
        ).json()
        seen += [m["person"]["name"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    found = client.get(url, params={"q": "3号"}, headers=headers).json()["items"]
    assert [m["person"]["name"] for m in found] == ["测试3号"]
    by_phone = client.get(url, params={"q": "13600000004"}, headers=headers).json()["items"]
    assert [m["person"]["name"] for m in by_phone] == ["测试4号"]
    assert client.get(url, params={"q": "%"}, headers=headers).json()["items"] == []


def test_live_search_returns_only_the_rows(client, world) -> None:
    login(client, world.cadre_a.phone)
    fragment = client.get(
        f"/orgs/{world.village_a.id}",
        params={"q": "村民"},
        headers={"HX-Request": "true", "HX-Target": "member-rows"},
    )
    assert "<html" not in fragment.text
    assert world.villager_a.name in fragment.text and world.cadre_a.name not in fragment.text


def test_excel_export_is_masked_like_the_page(client, world, session: Session) -> None:
    organisations.add_member(
        session,
        SYSTEM,
        world.village_a,
        phone=world.outsider.phone,
        roles=["grid_worker"],
        check=False,
    )
    session.commit()

    def rows_for(phone: str) -> list[tuple]:
        login(client, phone)
        response = client.get(f"/orgs/{world.village_a.id}/members.xlsx")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).active
        return list(sheet.iter_rows(values_only=True))

    cadre_rows = rows_for(world.cadre_a.phone)
    assert cadre_rows[0][:2] == ("姓名", "手机号")
    assert (world.villager_a.name, world.villager_a.phone) in [r[:2] for r in cadre_rows]
    grid_rows = rows_for(world.outsider.phone)
    assert (world.villager_a.name, "137****0002") in [r[:2] for r in grid_rows]
    login(client, world.villager_a.phone)
    assert client.get(f"/orgs/{world.village_a.id}/members.xlsx").status_code == 404
