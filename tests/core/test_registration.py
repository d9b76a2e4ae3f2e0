from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import credentials, organisations, people
from gongchuang.core.models import AuditEntry, Person
from gongchuang.core.permissions import SYSTEM
from tests.conftest import api_token, csrf_token, login


def test_self_registration_records_consent_and_logs_in(client, session: Session) -> None:
    response = client.post(
        "/register",
        data={
            "name": "新村民",
            "phone": "13911112222",
            "password": "longenough",
            "accept_privacy_policy": "true",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/me"
    person = session.scalar(select(Person).where(Person.phone == "13911112222"))
    assert people.has_consent(session, person.id, "privacy_policy")
    assert "新村民" in client.get("/me").text


def test_registration_without_consent_or_twice_changes_nothing(
    client, world, session: Session
) -> None:
    before = session.scalar(select(func.count(Person.id)))
    body = {
        "name": "甲",
        "phone": "13911113333",
        "password": "longenough",
        "accept_privacy_policy": False,
    }
    refused = client.post("/api/v1/people", json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "accept_privacy_policy"
    duplicate = client.post(
        "/api/v1/people",
        json={**body, "phone": world.villager_a.phone, "accept_privacy_policy": True},
    )
    assert duplicate.status_code == 409
    weak = client.post(
        "/api/v1/people", json={**body, "password": "short", "accept_privacy_policy": True}
    )
    assert weak.status_code == 422
    assert session.scalar(select(func.count(Person.id))) == before
    created = client.post("/api/v1/people", json={**body, "accept_privacy_policy": True})
    assert created.status_code == 201 and created.json()["phone"] == "13911113333"


def test_cadre_registers_an_elderly_villager_without_a_phone_app(
    client, world, session: Session
) -> None:
    login(client, world.cadre_a.phone)
    response = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={
            "phone": "13911114444",
            "name": "张奶奶",
            "roles": ["member"],
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    grandma = session.scalar(select(Person).where(Person.phone == "13911114444"))
    assert grandma.name == "张奶奶" and grandma.password_hash is None
    registered = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "person.register", AuditEntry.object_id == str(grandma.id)
        )
    )
    assert registered.actor_person_id == world.cadre_a.id
    unknown = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={"phone": "13911115555", "roles": ["member"], "csrf_token": csrf_token(client)},
    )
    assert unknown.status_code == 422 and "填写姓名即可为其代为登记" in unknown.text


def test_who_may_create_organisations(client, world) -> None:
    body = {"name": "甲村志愿队", "kind": "ngo", "region_code": "431322101201"}
    cadre = api_token(client, world.cadre_a.phone, ["read", "org.manage_members"])
    assert client.post("/api/v1/organisations", json=body, headers=cadre).status_code == 403
    child = client.post(
        "/api/v1/organisations", json={**body, "parent_id": world.village_a.id}, headers=cadre
    )
    assert child.status_code == 201
    assert (
        client.post(
            "/api/v1/organisations", json={**body, "parent_id": world.village_b.id}, headers=cadre
        ).status_code
        == 404
    )
    admin = api_token(client, world.admin.phone, ["read", "org.manage_members"])
    created = client.post(
        "/api/v1/organisations", json={**body, "kind": "spaceship"}, headers=admin
    )
    assert created.status_code == 422
    assert client.post("/api/v1/organisations", json=body, headers=admin).status_code == 201


def test_a_trainer_issues_a_credential_that_others_can_read(
    client, world, session: Session
) -> None:
    hospital = organisations.create_organisation(
        session, SYSTEM, name="县医院", kind="hospital", region=world.county
    )
    organisations.add_member(
        session, SYSTEM, hospital, phone=world.outsider.phone, roles=["trainer"], check=False
    )
    session.commit()
    login(client, world.outsider.phone)
    page = client.get(f"/orgs/{hospital.id}")
    assert "颁发证书" in page.text
    response = client.post(
        f"/orgs/{hospital.id}/credentials",
        data={
            "phone": world.villager_a.phone,
            "kind": "first_aid",
            "title": "红十字救护员证",
            "certificate_no": "HN-001",
            "valid_from": "2026-01-01",
            "valid_until": "2028-01-01",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    valid = credentials.valid_credentials(session, "first_aid", person_id=world.villager_a.id)
    assert [c.certificate_no for c in valid] == ["HN-001"]
    # Beijing midnight, stored as UTC.
    assert valid[0].valid_from.isoformat() == "2025-12-31T16:00:00+00:00"
    backwards = client.post(
        f"/orgs/{hospital.id}/credentials",
        data={
            "phone": world.villager_a.phone,
            "kind": "first_aid",
            "title": "x",
            "certificate_no": "HN-002",
            "valid_from": "2026-01-01",
            "valid_until": "2025-01-01",
            "csrf_token": csrf_token(client),
        },
    )
    assert backwards.status_code == 422
    # A cadre of a village cannot issue in the hospital's name.
    login(client, world.cadre_a.phone)
    forged = client.post(
        f"/orgs/{hospital.id}/credentials",
        data={
            "phone": world.villager_a.phone,
            "kind": "first_aid",
            "title": "x",
            "certificate_no": "HN-003",
            "valid_from": "2026-01-01",
            "csrf_token": csrf_token(client),
        },
    )
    assert forged.status_code == 404
    assert (
        len(credentials.valid_credentials(session, "first_aid", person_id=world.villager_a.id)) == 1
    )


def test_unread_badge_counts_notifications(client, world, session: Session) -> None:
    login(client, world.villager_a.phone)
    page = client.get("/").text
    assert 'class="badge"' in page  # joining the village was a notification


def test_organisation_pages_create_children_only_where_allowed(client, world, session) -> None:
    from gongchuang.core.models import Membership, Organisation

    login(client, world.cadre_a.phone)
    assert "登记组织" in client.get("/orgs").text
    form = client.get("/orgs/new").text
    assert world.village_a.name in form and world.village_b.name not in form
    created = client.post(
        "/orgs/new",
        data={
            "name": "甲村巾帼志愿队",
            "kind": "ngo",
            "region_code": "431322101201",
            "parent_id": str(world.village_a.id),
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    team = session.query(Organisation).filter_by(name="甲村巾帼志愿队").one()
    assert team.parent_id == world.village_a.id
    # The creator administers the new organisation.
    assert session.query(Membership).filter_by(
        organisation_id=team.id, person_id=world.cadre_a.id
    ).one().roles == ["admin"]
    refused = client.post(
        "/orgs/new",
        data={
            "name": "冒名",
            "kind": "ngo",
            "region_code": "431322101202",
            "parent_id": str(world.village_b.id),
            "csrf_token": csrf_token(client),
        },
    )
    assert refused.status_code == 404
    login(client, world.outsider.phone)
    assert "登记组织" not in client.get("/orgs").text


def test_evidence_must_be_the_issuers_own_file(client, world, session) -> None:
    from gongchuang.core import files
    from gongchuang.core.auth import principal_for

    stranger_file = files.save_upload(
        session,
        principal_for(world.outsider, via="test"),
        filename="a.pdf",
        data=b"%PDF-1.4 evidence",
    )
    hospital = organisations.create_organisation(
        session, SYSTEM, name="县医院", kind="hospital", region=world.county
    )
    organisations.add_member(
        session, SYSTEM, hospital, phone=world.cadre_b.phone, roles=["trainer"], check=False
    )
    session.commit()
    headers = api_token(client, world.cadre_b.phone, ["read", "credential.issue"])
    response = client.post(
        f"/api/v1/organisations/{hospital.id}/credentials",
        headers=headers,
        json={
            "person_id": world.villager_a.id,
            "kind": "first_aid",
            "title": "急救证",
            "certificate_no": "E-1",
            "valid_from": "2026-01-01T00:00:00Z",
            "evidence_file_id": stranger_file.id,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "evidence_file_id"


def test_organisation_list_pages_and_searches(client, world, session) -> None:
    for index in range(105):
        organisations.create_organisation(
            session, SYSTEM, name=f"测试合作社{index:03d}", kind="ngo", region=world.county
        )
    session.commit()
    first = client.get("/orgs", params={"kind": "ngo"})
    assert "测试合作社000" in first.text and "测试合作社104" not in first.text
    import re

    more = re.search(r'href="(/orgs\?cursor=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(more)
    assert "测试合作社104" in second.text and "测试合作社000" not in second.text
    found = client.get("/orgs", params={"q": "合作社042"}).text
    assert "测试合作社042" in found and "测试合作社041" not in found
    api = client.get("/api/v1/organisations", params={"q": "合作社04", "limit": 5}).json()
    assert len(api["items"]) == 5 and api["next_cursor"]


def test_api_registers_a_new_member_when_a_name_is_given(client, world, session) -> None:
    from gongchuang.core.models import Person

    headers = api_token(client, world.cadre_a.phone, ["read", "org.manage_members"])
    url = f"/api/v1/organisations/{world.village_a.id}/members"
    unknown = client.post(url, json={"phone": "13977778888"}, headers=headers)
    assert unknown.status_code == 422
    added = client.post(url, json={"phone": "13977778888", "name": "李奶奶"}, headers=headers)
    assert added.status_code == 201 and added.json()["person"]["name"] == "李奶奶"
    grandma = session.query(Person).filter_by(phone="13977778888").one()
    assert grandma.password_hash is None


def test_the_consent_asked_at_registration_links_to_the_documents_in_both_languages(
    client,
) -> None:
    page = client.get("/register").text
    assert 'href="/privacy"' in page and 'href="/terms"' in page
    assert "我已阅读并同意" in page and "《个人信息保护说明》" in page
    for path, zh, en in (
        ("/privacy", "个人信息保护法", "Personal Information Protection Law"),
        ("/terms", "请先拨打120", "call 120 first"),
    ):
        chinese = client.get(path)
        assert chinese.status_code == 200 and zh in chinese.text and en not in chinese.text
        english = client.get(path, params={"lang": "en"})
        assert english.status_code == 200 and en in english.text and zh not in english.text
    # What the notice says is kept is what the platform keeps (and deletes when it says).
    from gongchuang.core import throttle
    from gongchuang.emergency import service

    notice = client.get("/privacy").text
    assert service.TRACK_RETENTION.days == 1 and "事件结束一天后删除" in notice
    assert throttle.FORGET_AFTER.total_seconds() == 24 * 3600 and "24小时后删除" in notice


def test_a_refused_form_comes_back_on_its_own_page_with_its_problems_by_field(
    client, world, session: Session
) -> None:
    """A form refused is answered with the page it was sent from (the same status), carrying
    the problem for forms.js: each field named with what is wrong in the reader's words (not
    pydantic's English, not the field as the code spells it), and said at the top of the page
    for a browser without scripts."""
    import json
    import re

    before = session.scalar(select(func.count(Person.id)))
    form = {
        "name": "钱新人",
        "password": "longenough",
        "accept_privacy_policy": "true",
        "csrf_token": csrf_token(client),
    }
    referer = {"Referer": "http://testserver/register"}

    def problem(response) -> dict:  # type: ignore[no-untyped-def]
        found = re.search(r'id="form-problem">(.*?)</script>', response.text)
        assert found, response.text[:300]
        return json.loads(found.group(1))

    bad_phone = client.post("/register", data={**form, "phone": "12345"}, headers=referer)
    assert bad_phone.status_code == 422 and 'action="/register"' in bad_phone.text
    said = problem(bad_phone)
    assert said["action"] == "/register"
    assert said["fields"] == [{"field": "phone", "message": "请输入11位中国大陆手机号码。"}]
    assert 'role="alert" id="form-problem-banner">' in bad_phone.text
    missing = client.post("/register", data={"csrf_token": form["csrf_token"]}, headers=referer)
    fields = {f["field"]: f["message"] for f in problem(missing)["fields"]}
    assert fields["name"] == fields["phone"] == "请填写这一项。"
    taken = client.post(
        "/register", data={**form, "phone": world.villager_a.phone}, headers=referer
    )
    assert taken.status_code == 409 and problem(taken)["fields"][0]["field"] == "phone"
    assert session.scalar(select(func.count(Person.id))) == before
    # Without a page of ours to return to, the error page says it, in the same words.
    plain = client.post("/register", data={**form, "phone": "12345"})
    assert plain.status_code == 422 and "请输入11位中国大陆手机号码。" in plain.text
    assert 'id="form-problem"' not in plain.text
