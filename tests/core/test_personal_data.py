"""PIPL: a person can download what is held about them and close their account."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, people
from gongchuang.core.models import ApiToken, AuditEntry, Membership, Person
from tests.conftest import api_token, csrf_token, login
from tests.support.world import PASSWORD


def test_download_my_data(client, world) -> None:
    login(client, world.villager_a.phone)
    response = client.get("/me/export.json")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["profile"]["phone"] == world.villager_a.phone
    assert [m["organisation"] for m in data["memberships"]] == [world.village_a.name]
    assert any(e["action"] == "person.register" for e in data["audit_trail"])
    headers = api_token(client, world.villager_a.phone, ["read"])
    assert client.get("/api/v1/me/export", headers=headers).json()["profile"]["name"] == (
        world.villager_a.name
    )


def test_closing_an_account_erases_identity_but_keeps_the_chain(
    client, world, session: Session
) -> None:
    phone, name = world.villager_a.phone, world.villager_a.name
    headers = api_token(client, phone, ["read"])
    login(client, phone)
    wrong = client.post("/me/close", data={"password": "nope", "csrf_token": csrf_token(client)})
    assert wrong.status_code == 422
    closed = client.post(
        "/me/close",
        data={"password": PASSWORD, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    person = session.get(Person, world.villager_a.id)
    session.refresh(person)
    assert person.name == people.ERASED_NAME and not person.is_active
    assert person.phone != phone and person.password_hash is None
    assert session.scalar(select(Membership).where(Membership.person_id == person.id)) is None
    assert all(
        t.revoked_at
        for t in session.scalars(select(ApiToken).where(ApiToken.person_id == person.id))
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/me", follow_redirects=False).status_code == 303
    assert not people.has_consent(session, person.id, "privacy_policy")
    # Nothing in the ledger still names them, and the chain is intact.
    ledger = " ".join(
        json.dumps([e.actor_label, e.before, e.after], ensure_ascii=False)
        for e in session.scalars(select(AuditEntry))
    )
    assert name not in ledger and phone not in ledger
    audit.seal(session, wait=True)
    assert audit.verify_chain(session).ok
    # The phone can be registered again by someone new.
    again = client.post(
        "/api/v1/people",
        json={
            "name": "新主人",
            "phone": phone,
            "password": "long enough",
            "accept_privacy_policy": True,
        },
    )
    assert again.status_code == 201, again.text
