from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.models import Membership, Person
from tests.conftest import csrf_token, login
from tests.support.spreadsheets import xlsx


def upload(client, org_id: int, data: bytes, name: str = "members.xlsx"):
    return client.post(
        f"/orgs/{org_id}/members/import",
        files={"file": (name, data)},
        data={"csrf_token": csrf_token(client)},
        follow_redirects=False,
    )


def test_cadre_imports_a_sheet_typed_in_excel(client, world, session: Session) -> None:
    login(client, world.cadre_a.phone)
    data = xlsx(
        [
            ["姓名", "手机号", "职务", "角色"],
            ["赵大爷", 13966660001.0, "一组组长", "村民"],  # Excel turned the phone into a number
            ["钱大姐", "13966660002", "", "网格员"],
            [world.villager_a.name, world.villager_a.phone, "", ""],  # already a member
            [None, None, None, None],  # blank lines are skipped
        ]
    )
    response = upload(client, world.village_a.id, data)
    assert response.status_code == 303
    assert "added=2&registered=2&unchanged=1" in response.headers["location"]
    page = client.get(response.headers["location"]).text
    assert "赵大爷" in page and "钱大姐" in page
    qian = session.scalar(select(Person).where(Person.phone == "13966660002"))
    membership = session.scalar(select(Membership).where(Membership.person_id == qian.id))
    assert membership.roles == ["grid_worker"]


def test_any_bad_row_stores_nothing_and_every_bad_line_is_named(
    client, world, session: Session
) -> None:
    login(client, world.cadre_a.phone)
    before = session.scalar(select(func.count(Membership.id)))
    data = xlsx(
        [
            ["姓名", "手机号", "角色"],
            ["好人", "13966660003", ""],
            ["", "13966660004", ""],
            ["坏号码", "1234", ""],
            ["重复", "13966660003", ""],
            ["怪角色", "13966660005", "村长大人"],
        ]
    )
    response = upload(client, world.village_a.id, data)
    assert response.status_code == 422
    for line in ("3", "4", "5", "6"):
        assert f"第 {line} 行" in response.text
    assert session.scalar(select(func.count(Membership.id))) == before
    assert session.scalar(select(Person).where(Person.phone == "13966660003")) is None


def test_gbk_csv_from_chinese_excel_and_missing_columns(client, world) -> None:
    login(client, world.cadre_a.phone)
    csv_data = "姓名,手机号\n孙奶奶,13966660006\n".encode("gb18030")
    ok = upload(client, world.village_a.id, csv_data, "名单.csv")
    assert ok.status_code == 303 and "added=1" in ok.headers["location"]
    missing = upload(client, world.village_a.id, "名字,电话号\n甲,1\n".encode(), "x.csv")
    assert missing.status_code == 422 and "手机号" in missing.text


def test_only_managers_import(client, world, session: Session) -> None:
    login(client, world.villager_a.phone)
    data = xlsx([["姓名", "手机号"], ["某人", "13966660007"]])
    assert upload(client, world.village_a.id, data).status_code == 404
    assert session.scalar(select(Person).where(Person.phone == "13966660007")) is None


def test_error_page_leads_back_to_the_form_without_script(client, world) -> None:
    login(client, world.cadre_a.phone)
    page = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={"phone": "123", "roles": ["member"], "csrf_token": csrf_token(client)},
        headers={"Referer": f"http://testserver/orgs/{world.village_a.id}"},
    )
    # Answered with the page the form came from, its problem said at the top (and beside the
    # field where scripts run): the form is right there, nothing to find the way back to.
    assert page.status_code == 422
    assert f'action="/orgs/{world.village_a.id}/members"' in page.text
    assert 'id="form-problem-banner"' in page.text and "javascript:" not in page.text
    foreign = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={"phone": "123", "roles": ["member"], "csrf_token": csrf_token(client)},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert "evil.example" not in foreign.text
