"""Incidents, alerts, AEDs and responders through the service, on the test database."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from gongchuang.core.models import AuditEntry, Notification, OutboxMessage
from gongchuang.core.permissions import SYSTEM
from gongchuang.core.webhooks import sign
from gongchuang.emergency import coverage, service
from gongchuang.emergency.models import (
    Aed,
    Alert,
    Incident,
    PopulationPoint,
    Responder,
)
from gongchuang.emergency.schemas import (
    AedIn,
    AlertAnswer,
    EtaIn,
    OutcomeIn,
    PolicyIn,
    ProgressIn,
)
from gongchuang.topics.volunteer import ResponderInvited
from tests.emergency.commands import duty, sos
from tests.emergency.conftest import SITE, EmergencyWorld, at, eido
from tests.support.principals import acting
from tests.support.world import make_person


def alerts_of(session: Session, incident: Incident) -> dict[int, Alert]:
    return {
        a.person_id: a
        for a in session.scalars(select(Alert).where(Alert.incident_id == incident.id))
    }


def test_a_centre_incident_alerts_the_nearest_with_one_sent_via_the_aed(
    session: Session, ew: EmergencyWorld
) -> None:
    incident, created = ew.receive(session)
    assert created and incident.status == "alerting"
    alerts = alerts_of(session, incident)
    north, south, east = ew.responders
    assert set(alerts) == {north.id, south.id, east.id}
    assert alerts[north.id].route == "via_aed" and alerts[north.id].aed_id == ew.aed.id
    assert alerts[south.id].route == alerts[east.id].route == "direct"
    assert alerts[north.id].eta_s == round(300 * 1.3 / 2.3)
    inbox = session.scalars(select(Notification).where(Notification.person_id == east.id)).all()
    assert [n.kind for n in inbox if n.kind.startswith("emergency")] == ["emergency.alert"]
    topics = session.scalars(select(OutboxMessage.topic)).all()
    assert "emergency.incident_status" in topics


def test_a_resent_incident_is_the_same_incident(session: Session, ew: EmergencyWorld) -> None:
    first, _ = ew.receive(session)
    again, created = ew.receive(session)
    assert again.id == first.id and not created
    assert session.scalar(select(func.count(Incident.id))) == 1
    with pytest.raises(Conflict):
        ew.receive(session, eido("ZZ-2"), key="k-1")


def test_bad_or_stale_signatures_and_unknown_centres_are_refused(
    session: Session, ew: EmergencyWorld
) -> None:
    body = eido()
    actor = acting(ew.dispatcher)
    with pytest.raises(AuthenticationRequired):
        service.receive_from_centre(session, actor, ew.centre.code, body, "t=1,v1=00", "k")
    stale = sign(ew.secret, body, int(time.time()) - 900)
    with pytest.raises(AuthenticationRequired):
        service.receive_from_centre(session, actor, ew.centre.code, body, stale, "k")
    with pytest.raises(AuthenticationRequired):
        service.receive_from_centre(
            session, actor, ew.centre.code, body + b" ", sign(ew.secret, body), "k"
        )
    with pytest.raises(NotFound):
        service.receive_from_centre(session, actor, "no-such", body, sign(ew.secret, body), "k")
    with pytest.raises(PermissionDenied):
        service.receive_from_centre(
            session, acting(ew.mall_staff), ew.centre.code, body, sign(ew.secret, body), "k"
        )
    with pytest.raises(InvalidInput):
        service.receive_from_centre(session, actor, ew.centre.code, body, sign(ew.secret, body), "")
    assert session.scalar(select(func.count(Incident.id))) == 0


@pytest.mark.parametrize(
    "point", [(51.5, -0.12), (0.0, 0.0), (27.7, 200.0)], ids=["london", "null-island", "malformed"]
)
def test_places_outside_china_are_refused_and_nothing_is_stored(
    session: Session, ew: EmergencyWorld, point
) -> None:
    body = json.dumps(
        {
            "incidentComponent": {"incidentTrackingIdentifier": "X"},
            "locationComponent": {"latitude": point[0], "longitude": point[1]},
        }
    ).encode()
    with pytest.raises(InvalidInput):
        ew.receive(session, body)
    assert session.scalar(select(func.count(Incident.id))) == 0


def test_gcj02_from_a_chinese_map_is_stored_as_wgs84(session: Session, ew: EmergencyWorld) -> None:
    from gongchuang.core import geo

    shifted = geo.wgs84_to_gcj02(*SITE)
    body = eido(
        locationComponent={"latitude": shifted.lat, "longitude": shifted.lng, "crs": "GCJ02"}
    )
    incident, _ = ew.receive(session, body)
    assert abs(incident.lat - SITE[0]) < 1e-6 and abs(incident.lng - SITE[1]) < 1e-6


def test_a_code_outside_the_automatic_list_waits_for_the_dispatcher(
    session: Session, ew: EmergencyWorld
) -> None:
    body = eido(incidentComponent={"incidentTrackingIdentifier": "Z", "dispatchCode": "17A01"})
    incident, _ = ew.receive(session, body)
    assert incident.status == "logged" and not alerts_of(session, incident)
    with pytest.raises(NotFound):
        service.start_alerting(session, acting(ew.mall_staff), incident)
    service.start_alerting(session, acting(ew.dispatcher), incident)
    assert len(alerts_of(session, incident)) == 3
    with pytest.raises(Conflict):
        service.start_alerting(session, acting(ew.dispatcher), incident)


def test_waves_decline_passes_the_place_on_and_later_waves_stop_when_enough_accept(
    session: Session, ew: EmergencyWorld
) -> None:
    service.set_policy(session, SYSTEM, ew.world.county, PolicyIn(wave_size=1, target_accepted=1))
    incident, _ = ew.receive(session)
    north, south, east = ew.responders
    assert set(alerts_of(session, incident)) == {north.id}
    service.answer(
        session, acting(north), alerts_of(session, incident)[north.id].id, AlertAnswer(accept=False)
    )
    # The decline passed the place on, and the freed AED with it if on the way.
    assert set(alerts_of(session, incident)) == {north.id, south.id}
    assert service.next_wave(session, incident.id, 2) == 1  # nobody accepted yet
    assert set(alerts_of(session, incident)) == {north.id, south.id, east.id}
    assert service.next_wave(session, incident.id, 2) == 0  # a retried job sends nothing
    service.answer(
        session, acting(east), alerts_of(session, incident)[east.id].id, AlertAnswer(accept=True)
    )
    assert service.next_wave(session, incident.id, 3) == 0


def test_an_engaged_responder_is_skipped_and_cannot_accept_twice(
    session: Session, ew: EmergencyWorld
) -> None:
    first, _ = ew.receive(session)
    north = ew.responders[0]
    alert = alerts_of(session, first)[north.id]
    service.answer(session, acting(north), alert.id, AlertAnswer(accept=True))
    assert (
        service.answer(session, acting(north), alert.id, AlertAnswer(accept=True)).status
        == "accepted"
    )
    with pytest.raises(Conflict):
        service.answer(session, acting(north), alert.id, AlertAnswer(accept=False))
    second, _ = ew.receive(session, eido("ZZ-2"), key="k-2")
    assert north.id not in alerts_of(session, second)


def test_closing_withdraws_alerts_and_answers_after_closing_are_refused(
    session: Session, ew: EmergencyWorld
) -> None:
    incident, _ = ew.receive(session)
    north, south, _east = ew.responders
    alerts = alerts_of(session, incident)
    service.answer(session, acting(north), alerts[north.id].id, AlertAnswer(accept=True))
    with pytest.raises(Conflict):
        service.progress(
            session, acting(south), alerts[south.id].id, ProgressIn(step="at_aed")
        )  # not accepted
    service.progress(session, acting(north), alerts[north.id].id, ProgressIn(step="at_aed"))
    service.progress(session, acting(north), alerts[north.id].id, ProgressIn(step="on_scene"))
    with pytest.raises(NotFound):
        service.close(session, acting(ew.mall_staff), incident, OutcomeIn())
    with pytest.raises(InvalidInput):
        service.close(session, acting(ew.dispatcher), incident, OutcomeIn(shock_delivered=True))
    service.set_ambulance_eta(session, acting(ew.dispatcher), incident, EtaIn(minutes=8))
    service.close(
        session,
        acting(ew.dispatcher),
        incident,
        OutcomeIn(witnessed=True, aed_applied=True, rosc=True),
    )
    alerts = alerts_of(session, incident)
    assert alerts[north.id].status == "released" and alerts[south.id].status == "withdrawn"
    with pytest.raises(Conflict):
        service.answer(session, acting(south), alerts[south.id].id, AlertAnswer(accept=True))
    with pytest.raises(Conflict):
        service.close(session, acting(ew.dispatcher), incident, OutcomeIn())
    kinds = [e.kind for e in service.picture(session, incident).timeline]
    assert kinds[:2] == ["received", "wave"] and "at_aed" in kinds and kinds[-1] == "closed"


def test_an_expired_or_closed_aed_is_never_sent_for(session: Session, ew: EmergencyWorld) -> None:
    ew.aed.pads_expire_on = utcnow().date() - timedelta(days=1)
    incident, _ = ew.receive(session)
    assert all(a.route == "direct" for a in alerts_of(session, incident).values())
    ew.aed.pads_expire_on = None
    ew.aed.opening_hours = "Mo-Su 00:00-00:01"
    second, _ = ew.receive(session, eido("ZZ-2"), key="k-2")
    assert all(a.aed_id is None for a in alerts_of(session, second).values())


def test_duty_needs_a_certificate_consent_and_a_place_and_going_off_deletes_it(
    session: Session, ew: EmergencyWorld
) -> None:
    stranger = make_person(session, "13500000200", "路人")
    with pytest.raises(InvalidInput):
        service.join_network(session, acting(stranger))
    ew.first_aid(session, stranger)
    service.join_network(session, acting(stranger))
    with pytest.raises(InvalidInput):
        service.set_duty(session, acting(stranger), duty(True, SITE, consent_location=False))
    with pytest.raises(InvalidInput):
        service.set_duty(session, acting(stranger), duty(True, None, consent_location=True))
    service.set_duty(session, acting(stranger), duty(True, SITE, consent_location=True))
    responder = service.get_responder(session, stranger.id)
    assert responder and responder.duty_cell is not None
    service.set_duty(session, acting(stranger), duty(False))
    assert (responder.lat, responder.lng, responder.duty_cell) == (None, None, None)


def test_stale_locations_end_the_duty_and_incident_tracks_are_deleted(
    session: Session, ew: EmergencyWorld
) -> None:
    incident, _ = ew.receive(session)
    north = ew.responders[0]
    alert = alerts_of(session, incident)[north.id]
    service.answer(session, acting(north), alert.id, AlertAnswer(accept=True))
    service.report_position(session, acting(north), alert.id, (*at(100, 0), "WGS84"))
    service.close(session, acting(ew.dispatcher), incident, OutcomeIn(cancelled=True))
    incident.closed_at = utcnow() - timedelta(days=2)
    session.execute(
        Responder.__table__.update()
        .where(Responder.person_id == ew.responders[1].id)
        .values(located_at=utcnow() - timedelta(hours=13))
    )
    ended, cleared = service.prune_locations(session)
    session.expire_all()
    assert (ended, cleared) == (1, 1)
    assert session.get(Alert, alert.id).lat is None
    assert service.get_responder(session, ew.responders[1].id).on_duty is False


def test_each_look_at_an_incident_is_audited_and_outsiders_see_nothing(
    session: Session, ew: EmergencyWorld
) -> None:
    incident, _ = ew.receive(session)
    service.get_incident_for(session, acting(ew.dispatcher), incident.id)
    views = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "emergency.incident.view")
    ).all()
    assert len(views) == 1
    with pytest.raises(NotFound):
        service.get_incident_for(session, acting(ew.world.outsider), incident.id)


def test_aed_import_is_all_or_nothing_and_reads_openstreetmap_tags(
    session: Session, ew: EmergencyWorld
) -> None:
    staff = acting(ew.mall_staff)
    csv_text = (
        "lat,lng,address,opening_hours\n27.7371,111.3051,一楼,24/7\n"
        ",,二楼,24/7\n27.7,111.3,三楼,sometimes\n"
    )
    with pytest.raises(InvalidInput) as refused:
        service.import_aeds(session, staff, ew.mall, csv_text.encode(), "aeds.csv")
    rows = {e["row"] for e in refused.value.errors}
    assert rows == {3, 4}
    assert session.scalar(select(func.count(Aed.id))) == 1
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [111.3052, 27.7372]},
                "properties": {
                    "emergency": "defibrillator",
                    "defibrillator:location": "电梯旁",
                    "opening_hours": "Mo-Fr 08:00-18:00",
                    "manufacturer": "迈瑞",
                },
            }
        ],
    }
    assert (
        service.import_aeds(session, staff, ew.mall, json.dumps(geojson).encode(), "x.geojson") == 1
    )
    exported = service.aed_geojson(service.aeds_of(session, ew.mall))
    tags = exported["features"][1]["properties"]
    assert tags["defibrillator:location"] == "电梯旁" and tags["manufacturer"] == "迈瑞"
    with pytest.raises(InvalidInput):
        service.create_aed(session, staff, ew.mall, AedIn(lat=51.5, lng=-0.1))


def test_maintenance_reminders_go_once_per_thing_and_date(
    session: Session, ew: EmergencyWorld
) -> None:
    today = utcnow().date()
    ew.aed.battery_expires_on = today + timedelta(days=10)
    ew.aed.last_inspected_on = today
    ew.aed.guardian_person_id = ew.mall_staff.id
    assert service.send_maintenance_reminders(session, today) == 1
    assert service.send_maintenance_reminders(session, today) == 0


def test_a_volunteer_organisations_invitation_makes_an_invited_responder(
    session: Session, ew: EmergencyWorld
) -> None:
    person = make_person(session, "13500000300", "志愿者")
    event = ResponderInvited(person_id=person.id, organisation_id=ew.mall.id)
    service.invite_volunteer(session, event)
    assert service.get_responder(session, person.id).status == "invited"


def test_coverage_by_hour_and_greedy_suggestions(session: Session, ew: EmergencyWorld) -> None:
    region = ew.world.village_a_region
    near, far = at(160, 0), at(2000, 0)
    session.add_all(
        [
            PopulationPoint(region_id=region.id, label="近", lat=near[0], lng=near[1], weight=100),
            PopulationPoint(region_id=region.id, label="远", lat=far[0], lng=far[1], weight=300),
        ]
    )
    ew.aed.opening_hours = "Mo-Su 08:00-20:00"
    session.flush()
    found = coverage.report(session, SYSTEM, region, 0, 3)
    shares = {h: s for h, _w, s in found.by_hour}
    assert shares[12] == 0.25 and shares[3] == 0.0
    assert [s.label for s in found.suggestions][:1] == ["远"] and found.share_after == 1.0
    with pytest.raises(NotFound):
        coverage.report(session, acting(ew.world.outsider), region, 0, 3)


def test_with_nobody_near_the_waves_keep_looking_for_someone_coming_on_duty(
    session: Session, ew: EmergencyWorld
) -> None:
    far = at(5000, 5000)
    incident, _ = ew.receive(session, eido(point=far))
    assert incident.status == "alerting" and not alerts_of(session, incident)
    late = make_person(session, "13500000400", "刚上班的急救员")
    ew.first_aid(session, late)
    ew.on_duty(session, late, at(5100, 5000))
    assert service.next_wave(session, incident.id, 2) == 1
    assert set(alerts_of(session, incident)) == {late.id}


def test_an_sos_alerts_others_nearby_and_reaches_the_covering_centre(
    session: Session, ew: EmergencyWorld
) -> None:
    north = ew.responders[0]
    incident = service.raise_sos(
        session, acting(north), sos("cardiac_arrest", at(290, 0), "三楼", "")
    )
    assert incident.centre_id == ew.centre.id and incident.source == "sos"
    assert north.id not in alerts_of(session, incident)  # the caller is busy calling
    assert len(alerts_of(session, incident)) == 2
    assert service.can_view(session, acting(ew.dispatcher), incident)
    for _ in range(2):
        service.raise_sos(session, acting(north), sos("other", SITE, "", ""))
    with pytest.raises(Conflict):
        service.raise_sos(session, acting(north), sos("other", SITE, "", ""))


def test_a_venue_reports_from_its_own_console_only(session: Session, ew: EmergencyWorld) -> None:
    with pytest.raises(NotFound):
        service.report_from_venue(
            session, acting(ew.dispatcher), ew.mall, sos("choking", SITE, "", "")
        )
    incident = service.report_from_venue(
        session, acting(ew.mall_staff), ew.mall, sos("choking", SITE, "美食广场", "")
    )
    assert incident.organisation_id == ew.mall.id and len(alerts_of(session, incident)) == 3
    assert service.can_dispatch(session, acting(ew.mall_staff), incident)
    assert service.can_dispatch(session, acting(ew.dispatcher), incident)


def test_an_incident_is_seen_by_its_centre_and_the_health_department_not_by_other_offices(
    session: Session, ew: EmergencyWorld
) -> None:
    """A patient's description and the responders' names are for the 120 centre, the venue,
    the region's health department and the platform's operators: an agriculture office of the
    same county (whose people hold "department staff" too) neither opens nor lists it."""
    from gongchuang.core import organisations
    from gongchuang.core.models import OrganisationKind

    incident, _ = ew.receive(session)
    health = organisations.create_organisation(
        session,
        SYSTEM,
        name="示范县卫生健康局",
        kind=OrganisationKind.government_department,
        region=ew.world.county,
    )
    health_officer = make_person(session, "13500000077", "卫健科员")
    organisations.add_member(
        session, SYSTEM, health, phone=health_officer.phone, roles=["health_staff"], check=False
    )
    agriculture = acting(ew.world.county_staff)  # 新化县农业农村局, department staff

    assert service.get_incident_for(session, acting(ew.dispatcher), incident.id) is incident
    assert service.get_incident_for(session, acting(health_officer), incident.id) is incident
    with pytest.raises(NotFound):
        service.get_incident_for(session, agriculture, incident.id)
    assert incident not in service.visible_incidents(session, agriculture, open_only=False)
    assert incident in service.visible_incidents(session, acting(health_officer), open_only=False)


def test_a_bystander_is_shown_open_aeds_first_never_closed_ones(
    session: Session, ew: EmergencyWorld
) -> None:
    from datetime import UTC, datetime

    def aed(north: float, address: str, hours: str | None) -> None:
        lat, lng = at(north, 0)
        service.create_aed(
            session,
            SYSTEM,
            ew.mall,
            AedIn(lat=lat, lng=lng, address=address, opening_hours=hours),
        )

    aed(20, "办公楼大堂", "Mo-Fr 08:00-18:00")  # nearest, but closed on a Sunday night
    aed(60, "社区诊所", None)  # hours unknown: shown, after the open ones
    sunday_night = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)  # 03:00 Sunday in Beijing
    found = service.aeds_for_a_bystander(session, sunday_night, near=SITE)
    assert [f.aed.address for f in found] == ["商场北门", "社区诊所"]
    assert [f.known_open for f in found] == [True, False]
    assert found[0].distance_m == 150
    typed = service.aeds_for_a_bystander(session, sunday_night, place="示范商场")
    assert {f.aed.address for f in typed} == {"商场北门", "社区诊所"}
    assert all(f.distance_m is None for f in typed)
    assert service.aeds_for_a_bystander(session, sunday_night, place="  ") == []
