"""Answers to alerts, closes, waves, starts and SOS raced by real threads against a committed
database (PostgreSQL in the PostgreSQL run): a responder helps at one incident at a time, even
when they accept alerts of several incidents at the same moment; an accept racing the close
never leaves them engaged; waves never ask more than the cap; alerting starts once; at most
three SOS in ten minutes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.emergency import service
from gongchuang.emergency.models import (
    Alert,
    AlertStatus,
    Incident,
    IncidentEvent,
    IncidentStatus,
)
from gongchuang.emergency.schemas import AlertAnswer, OutcomeIn, PolicyIn
from tests.emergency import commands
from tests.emergency.conftest import SITE, EmergencyWorld, at, eido, ew
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.principals import acting
from tests.support.world import build_world, make_person


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
                service.answer(session, acting(person), alert_id, AlertAnswer(accept=True))

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


def _with_more_responders(
    session: Session, built: EmergencyWorld, places: list[tuple[float, float]]
) -> None:
    for number, place in enumerate(places):
        person = make_person(session, f"1350000020{number}", f"急救员{number + 4}")
        built.first_aid(session, person)
        built.on_duty(session, person, at(*place))
        built.responders.append(person)


def _alert_of(session: Session, incident_id: int, person_id: int) -> Alert:
    return session.scalars(
        select(Alert).where(Alert.incident_id == incident_id, Alert.person_id == person_id)
    ).one()


def test_an_accept_racing_the_close_never_leaves_the_responder_engaged(db: Database) -> None:
    """A responder who declined changes their mind as the dispatcher closes: whichever comes
    first, nobody stays accepted on a closed incident, so the next alert can be accepted."""
    rounds = 4
    with db.transaction() as session:
        built: EmergencyWorld = ew.__wrapped__(session, build_world(session))
        north = built.responders[0]
        north_id, dispatcher_id = north.id, built.dispatcher.id
        raced = []
        for n in range(rounds):
            incident, _ = built.receive(session, eido(f"CLOSE-{n}"), key=f"close-{n}")
            alert = _alert_of(session, incident.id, north_id)
            service.answer(session, acting(north), alert.id, AlertAnswer(accept=False))
            raced.append((incident.id, alert.id))

    def accept(alert_id: int):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                service.answer(
                    session,
                    acting(session.get(Person, north_id)),
                    alert_id,
                    AlertAnswer(accept=True),
                )

        return attempt

    def close(incident_id: int):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                dispatcher = acting(session.get(Person, dispatcher_id))
                incident = service.get_incident_for(session, dispatcher, incident_id)
                service.close(session, dispatcher, incident, OutcomeIn(witnessed=True))

        return attempt

    for incident_id, alert_id in raced:
        succeeded, errors = race([accept(alert_id), close(incident_id)])
        # The dispatcher's close always stands; an accept that came too late is told so.
        assert succeeded >= 1 and all(isinstance(e, Conflict) for e in errors), errors
        assert {e.message for e in errors} <= {"This incident is already closed; thank you"}
        with db.transaction(write=False) as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None and incident.status == IncidentStatus.closed
            statuses = set(
                session.scalars(select(Alert.status).where(Alert.incident_id == incident_id))
            )
            assert not statuses & {AlertStatus.accepted, AlertStatus.sent}, statuses
            assert session.get(Alert, alert_id).status == (
                AlertStatus.released if succeeded == 2 else AlertStatus.declined
            )

    with db.transaction() as session:
        incident, _ = built.receive(session, eido("AFTER"), key="after")
        alert_id = _alert_of(session, incident.id, north_id).id
    with db.transaction() as session:
        answered = service.answer(
            session, acting(session.get(Person, north_id)), alert_id, AlertAnswer(accept=True)
        )
        assert answered.status == AlertStatus.accepted


def test_declines_and_the_wave_job_at_once_keep_within_the_cap_and_every_decline_stands(
    db: Database,
) -> None:
    with db.transaction() as session:
        built: EmergencyWorld = ew.__wrapped__(session, build_world(session))
        _with_more_responders(session, built, [(0, -600), (600, 0), (-700, 0)])
        service.set_policy(
            session, SYSTEM, built.world.county, PolicyIn(max_responders=3, wave_size=2)
        )
        incident, _ = built.receive(session)
        first_wave = {
            a.person_id: a.id
            for a in session.scalars(select(Alert).where(Alert.incident_id == incident.id))
        }
        assert len(first_wave) == 2
        incident_id = incident.id

    def decline(person_id: int, alert_id: int):  # type: ignore[no-untyped-def]
        def attempt() -> None:
            with db.transaction() as session:
                service.answer(
                    session,
                    acting(session.get(Person, person_id)),
                    alert_id,
                    AlertAnswer(accept=False),
                )

        return attempt

    def wave_job() -> None:
        with db.transaction() as session:
            service.next_wave(session, incident_id, 2)

    succeeded, errors = race([decline(p, a) for p, a in first_wave.items()] + [wave_job])
    assert succeeded == 3 and not errors, errors
    with db.transaction(write=False) as session:
        alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident_id)))
        assert {a.status for a in alerts if a.person_id in first_wave} == {AlertStatus.declined}
        # Each decline passed its place on, and the wave filled the rest: three asked, no more.
        asking = [a for a in alerts if a.status != AlertStatus.declined]
        assert len(asking) == 3 and len(alerts) == 5


def test_a_double_tap_on_start_alerting_sends_one_first_wave(db: Database) -> None:
    with db.transaction() as session:
        built: EmergencyWorld = ew.__wrapped__(session, build_world(session))
        _with_more_responders(session, built, [(0, -600), (600, 0), (-700, 0)])
        service.set_policy(session, SYSTEM, built.world.county, PolicyIn(wave_size=2))
        body = eido(incidentComponent={"incidentTrackingIdentifier": "L", "dispatchCode": "17A01"})
        incident, _ = built.receive(session, body)
        assert incident.status == IncidentStatus.logged
        incident_id, dispatcher_id = incident.id, built.dispatcher.id

    def start() -> None:
        with db.transaction() as session:
            dispatcher = acting(session.get(Person, dispatcher_id))
            incident = service.get_incident_for(session, dispatcher, incident_id, dispatch=True)
            service.start_alerting(session, dispatcher, incident)

    succeeded, errors = race([start, start, start])
    assert succeeded == 1
    assert len(errors) == 2 and all(isinstance(e, Conflict) for e in errors), errors
    assert {e.message for e in errors} == {"Alerting has already started for this incident"}
    with db.transaction(write=False) as session:
        alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident_id)))
        assert len(alerts) == 2 and {a.wave for a in alerts} == {1}
        waves = session.scalar(
            select(func.count(IncidentEvent.id)).where(
                IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "wave"
            )
        )
        assert waves == 1


def test_sos_pressed_many_times_at_once_raises_at_most_three_alarms(db: Database) -> None:
    with db.transaction() as session:
        build_world(session)
        caller_id = make_person(session, "13500000300", "求助者").id

    def sos() -> None:
        with db.transaction() as session:
            caller = acting(session.get(Person, caller_id))
            service.raise_sos(session, caller, commands.sos("cardiac_arrest", SITE, "", ""))

    succeeded, errors = race([sos] * 6)
    assert succeeded == 3
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors
    assert {e.message for e in errors} == {
        "You have raised several alarms in the last minutes; please call 120"
    }
    with db.transaction(write=False) as session:
        raised = session.scalar(
            select(func.count(Incident.id)).where(Incident.reporter_person_id == caller_id)
        )
        assert raised == 3
