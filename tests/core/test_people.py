import pytest
from sqlalchemy.orm import Session

from gongchuang.core import people
from gongchuang.core.errors import Conflict, InvalidInput
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from tests.conftest import api_token, csrf_token, login


def test_resident_id_is_never_stored_in_clear(session: Session) -> None:
    person = people.register_person(
        session, SYSTEM, name="测试", phone="13900009999", resident_id="11010519491231002X"
    )
    session.flush()
    row = session.get(Person, person.id)
    assert row is not None
    stored = " ".join(str(v) for v in row.__dict__.values())
    assert "11010519491231002X" not in stored
    assert row.id_number_masked == "110***********002X"
    with pytest.raises(Conflict):
        people.register_person(
            session, SYSTEM, name="另一人", phone="13900009998", resident_id="11010519491231002x"
        )


def test_bad_input_is_refused_with_every_field_named(session: Session) -> None:
    with pytest.raises(InvalidInput) as caught:
        people.register_person(
            session, SYSTEM, name="", phone="12345", resident_id="110105194912310021"
        )
    assert {e["field"] for e in caught.value.errors} == {"name", "phone", "resident_id"}


def test_phone_is_masked_for_other_villagers_and_shown_to_staff(client, world) -> None:
    villager = api_token(client, world.villager_a.phone, ["read"])
    seen = client.get(f"/api/v1/people/{world.cadre_a.id}", headers=villager).json()
    assert seen["phone"] == "137****0001" and seen["phone_is_masked"]
    cadre = api_token(client, world.cadre_a.phone, ["read", "person.view_contact"])
    seen = client.get(f"/api/v1/people/{world.villager_a.id}", headers=cadre).json()
    assert seen["phone"] == world.villager_a.phone and not seen["phone_is_masked"]


def test_member_page_masks_phones_for_grid_workers(client, world, session: Session) -> None:
    from gongchuang.core import organisations

    organisations.add_member(
        session,
        SYSTEM,
        world.village_a,
        phone=world.outsider.phone,
        roles=["grid_worker"],
        check=False,
    )
    login(client, world.outsider.phone)
    page = client.get(f"/orgs/{world.village_a.id}").text
    assert world.villager_a.name in page
    assert world.villager_a.phone not in page and "137****0002" in page


def test_consents_are_recorded_with_history(client, world, session: Session) -> None:
    login(client, world.villager_a.phone)
    token = csrf_token(client)
    client.post("/me/consents", data={"granted": ["location_for_matching"], "csrf_token": token})
    assert people.has_consent(session, world.villager_a.id, "location_for_matching")
    client.post("/me/consents", data={"csrf_token": token})
    assert not people.has_consent(session, world.villager_a.id, "location_for_matching")
    from gongchuang.core.models import ConsentRecord

    history = session.query(ConsentRecord).filter_by(person_id=world.villager_a.id).all()
    assert [r.granted for r in history] == [True, False]


def test_people_outside_your_organisations_are_not_found(client, world) -> None:
    outsider = api_token(client, world.outsider.phone, ["read"])
    assert client.get(f"/api/v1/people/{world.villager_a.id}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/people/{world.outsider.id}", headers=outsider).status_code == 200
    neighbour = api_token(client, world.cadre_b.phone, ["read"])
    assert client.get(f"/api/v1/people/{world.villager_a.id}", headers=neighbour).status_code == 404


def test_control_characters_are_refused_not_crashed_on(client, world) -> None:
    response = client.post(
        "/api/v1/auth/tokens",
        json={"phone": "138\x000000000", "password": "x", "name": "t", "scopes": ["read"]},
    )
    assert response.status_code == 422
    registered = client.post(
        "/api/v1/people",
        json={
            "name": "坏\x00名字",
            "phone": "13911119999",
            "password": "long enough",
            "accept_privacy_policy": True,
        },
    )
    assert registered.status_code == 422
