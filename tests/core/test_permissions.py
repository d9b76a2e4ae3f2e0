"""Village A's data is invisible and unchangeable to everyone but those entitled to it."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.models import Membership
from tests.conftest import api_token, csrf_token, login

# (who, may view members of village A, may manage them)
ACTORS = [
    ("anonymous", False, False),
    ("cadre_b", False, False),  # a cadre of another village
    ("villager_a", False, False),  # a member of village A without the permission
    ("outsider", False, False),
    ("county_staff", False, False),  # department staff: audit view only
    ("cadre_a", True, True),
    ("admin", True, True),
]


def _headers(client, world, who: str, scopes: list[str]) -> dict[str, str]:
    if who == "anonymous":
        return {}
    return api_token(client, getattr(world, who).phone, scopes)


@pytest.mark.parametrize(("who", "may_view", "may_manage"), ACTORS)
def test_member_list_through_the_api(client, world, who, may_view, may_manage) -> None:
    headers = _headers(client, world, who, ["read", "org.view_members"])
    response = client.get(f"/api/v1/organisations/{world.village_a.id}/members", headers=headers)
    if may_view:
        assert response.status_code == 200
        assert {m["person"]["name"] for m in response.json()["items"]} >= {world.villager_a.name}
    else:
        assert response.status_code in (401, 404)


@pytest.mark.parametrize(("who", "may_view", "may_manage"), ACTORS)
def test_adding_members_through_the_api(
    client, world, session: Session, who, may_view, may_manage
) -> None:
    headers = _headers(client, world, who, ["read", "org.manage_members"])
    before = session.scalar(select(func.count(Membership.id)))
    response = client.post(
        f"/api/v1/organisations/{world.village_a.id}/members",
        json={"phone": world.outsider.phone},
        headers=headers,
    )
    if may_manage:
        assert response.status_code == 201
    else:
        assert response.status_code in (401, 404)
        assert session.scalar(select(func.count(Membership.id))) == before


@pytest.mark.parametrize(("who", "may_view", "may_manage"), ACTORS)
def test_member_pages(client, world, session: Session, who, may_view, may_manage) -> None:
    if who != "anonymous":
        login(client, getattr(world, who).phone)
    page = client.get(f"/orgs/{world.village_a.id}")
    assert page.status_code == 200
    assert (world.villager_a.name in page.text) == may_view
    before = session.scalar(select(func.count(Membership.id)))
    response = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={"phone": world.outsider.phone, "roles": ["member"], "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    if may_manage:
        assert response.status_code == 303
    else:
        assert response.status_code in (303, 404) and (
            response.status_code == 404 or response.headers["location"].startswith("/login")
        )
        assert session.scalar(select(func.count(Membership.id))) == before


def test_a_department_oversees_its_county_not_the_next(session: Session, world) -> None:
    from gongchuang.core.auth import principal_for
    from gongchuang.core.permissions import CorePerm, has_permission

    staff = principal_for(world.county_staff, via="session")
    assert has_permission(session, staff, CorePerm.AUDIT_VIEW, world.village_a)
    assert has_permission(session, staff, CorePerm.AUDIT_VIEW, world.village_b)
    assert not has_permission(session, staff, CorePerm.AUDIT_VIEW, world.village_c)
    assert not has_permission(session, staff, CorePerm.ORG_MANAGE_MEMBERS, world.village_a)


def test_the_last_administrator_cannot_be_removed(client, world) -> None:
    headers = api_token(
        client, world.cadre_a.phone, ["read", "org.view_members", "org.manage_members"]
    )
    members = client.get(
        f"/api/v1/organisations/{world.village_a.id}/members", headers=headers
    ).json()["items"]
    mine = next(m for m in members if m["person"]["id"] == world.cadre_a.id)
    response = client.put(
        f"/api/v1/organisations/{world.village_a.id}/members/{mine['id']}/roles",
        json={"roles": ["member"]},
        headers=headers,
    )
    assert response.status_code == 409


def test_unknown_role_is_refused(client, world) -> None:
    headers = api_token(client, world.cadre_a.phone, ["read", "org.manage_members"])
    response = client.post(
        f"/api/v1/organisations/{world.village_a.id}/members",
        json={"phone": world.outsider.phone, "roles": ["king"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert any(e["field"] == "roles" for e in response.json()["errors"])
