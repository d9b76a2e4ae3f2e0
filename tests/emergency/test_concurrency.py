"""Answers to alerts raced by real threads against a committed database (PostgreSQL in the
PostgreSQL run): a responder helps at one incident at a time, even when they accept alerts of
several incidents at the same moment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import Person
from gongchuang.emergency import service
from gongchuang.emergency.models import Alert, AlertStatus
from tests.emergency.conftest import EmergencyWorld, acting, eido, ew
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.world import build_world


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "emergency_race") as database:
        yield database


def test_alerts_of_several_incidents_accepted_at_once_engage_the_responder_once(
    db: Database,
) -> None:
    with db.transaction() as session:
        built: EmergencyWorld = ew.__wrapped__(session, build_world(session))
        responder = built.responders[0]
        alert_ids = []
        for n in range(4):
            incident, _ = built.receive(session, eido(f"ZZ-{n}"), key=f"k-{n}")
            alert_ids.append(
                session.scalar(
                    select(Alert.id).where(
                        Alert.incident_id == incident.id, Alert.person_id == responder.id
                    )
                )
            )
        assert None not in alert_ids
        person_id = responder.id

    def accept(alert_id: int):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                person = session.get(Person, person_id)
                service.answer(session, acting(person), alert_id, True)

        return attempt

    succeeded, errors = race([accept(a) for a in alert_ids])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"You are already helping at another incident"}
    with db.transaction(write=False) as session:
        accepted = session.scalar(
            select(func.count(Alert.id)).where(
                Alert.person_id == person_id, Alert.status == AlertStatus.accepted
            )
        )
        assert accepted == 1


def test_a_captured_intake_replayed_many_times_at_once_makes_one_incident(db: Database) -> None:
    """Eight copies of one signed intake, each with a key of its own, at the same moment."""
    from gongchuang.core.webhooks import sign
    from gongchuang.emergency.models import Incident

    with db.transaction() as session:
        built: EmergencyWorld = ew.__wrapped__(session, build_world(session))
        dispatcher_id, code, secret = built.dispatcher.id, built.centre.code, built.secret
    body = eido("REPLAYED-AT-ONCE")
    signature = sign(secret, body)

    def replay(key: str):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                dispatcher = session.get(Person, dispatcher_id)
                service.receive_from_centre(session, acting(dispatcher), code, body, signature, key)

        return attempt

    succeeded, errors = race([replay(f"key-{n}") for n in range(8)])
    assert succeeded == 1
    assert len(errors) == 7 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Incident.id))) == 1
