"""What the API returns and the pages show of AEDs, alerts, incidents, responders, centres and
policies: response schemas filled from the rows (read-only; nothing here writes)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import organisations, regions, spreadsheets
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import Principal
from gongchuang.core.schemas import read_model
from gongchuang.emergency.models import Aed, Alert, DispatchCentre, Incident, Responder
from gongchuang.emergency.schemas import (
    AedOut,
    AedPublic,
    AlertOut,
    CentreOut,
    ConsoleAlertOut,
    IncidentListItem,
    IncidentOut,
    IncidentSummary,
    PolicyOut,
    ResponderOut,
    TimelineOut,
)
from gongchuang.emergency.service._common import acting_person_id, incident_of
from gongchuang.emergency.service.aeds import (
    AED_COLUMNS,
    aed_csv_rows,
    aed_geojson,
    aed_problems,
    hours_now,
    usable_at,
)
from gongchuang.emergency.service.policy import policy_for
from gongchuang.emergency.service.queries import aeds_of, alert_counts, picture
from gongchuang.emergency.service.responders import get_responder, holds_first_aid


def aed_public(session: Session, aed: Aed, names: dict[int, str] | None = None) -> AedPublic:
    name = (names or {}).get(aed.organisation_id) or organisations.get_organisation(
        session, aed.organisation_id
    ).name
    now = utcnow()
    return read_model(
        AedPublic,
        aed,
        hours_now=hours_now(aed, now).value,
        usable_now=usable_at(aed, now),
        organisation_name=name,
    )


def aed_out(session: Session, aed: Aed, names: dict[int, str] | None = None) -> AedOut:
    public = aed_public(session, aed, names)
    return read_model(
        AedOut,
        aed,
        hours_now=public.hours_now,
        usable_now=public.usable_now,
        organisation_name=public.organisation_name,
        problems=aed_problems(aed, local_today()),
    )


def alert_out(session: Session, alert: Alert) -> AlertOut:
    incident = incident_of(session, alert)
    aed = session.get(Aed, alert.aed_id) if alert.aed_id else None
    return read_model(
        AlertOut,
        alert,
        incident_id=incident.id,
        incident_reference=incident.reference,
        incident_status=incident.status,
        kind=incident.kind,
        address=incident.address,
        lat=incident.lat,
        lng=incident.lng,
        aed=aed_public(session, aed) if aed else None,
    )


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    view = picture(session, incident)
    return read_model(
        IncidentOut,
        incident,
        alerts=[read_model(ConsoleAlertOut, a, name=name) for a, name in view.alerts],
        timeline=[TimelineOut.model_validate(e) for e in view.timeline],
    )


def incident_summary(session: Session, incident: Incident, created: bool) -> IncidentSummary:
    counts = alert_counts(session, [incident.id]).get(incident.id, (0, 0))
    return read_model(IncidentSummary, incident, created=created, alerted=counts[0])


def incident_list(session: Session, incidents: list[Incident]) -> list[IncidentListItem]:
    counts = alert_counts(session, [i.id for i in incidents])
    return [
        read_model(
            IncidentListItem,
            i,
            alerted=counts.get(i.id, (0, 0))[0],
            accepted=counts.get(i.id, (0, 0))[1],
        )
        for i in incidents
    ]


def responder_out(session: Session, principal: Principal) -> ResponderOut:
    person_id = acting_person_id(principal)
    responder = get_responder(session, person_id)
    return ResponderOut(
        status=responder.status if responder else "none",
        on_duty=bool(responder and responder.on_duty),
        located_at=responder.located_at if responder else None,
        holds_first_aid=holds_first_aid(session, person_id),
        organisation_id=responder.organisation_id if responder else None,
    )


def invited_out(responder: Responder) -> ResponderOut:
    """A venue's member just registered as its responder (only holders of a valid first-aid
    certificate can be; where they are is not the venue's to see)."""
    return read_model(ResponderOut, responder, located_at=None, holds_first_aid=True)


def centre_out(centre: DispatchCentre, secret: str | None = None) -> CentreOut:
    # Not read whole from the row: the row's `secret` is shown only when just made.
    return read_model(CentreOut, centre, secret=secret)


def policy_out(session: Session, code: str) -> PolicyOut:
    region = regions.get_region(session, code)
    policy, source = policy_for(session, region.id)
    return PolicyOut(
        **policy.as_dict(),
        region_code=region.code,
        inherited_from=source.code if source is not None else None,
    )


def aed_export(session: Session, venue: Organisation, fmt: str) -> tuple[str, str, str]:
    """The venue's register as a download: (body, media type, file name). GeoJSON carries
    OpenStreetMap tags; the CSV has the columns the import reads back."""
    aeds = aeds_of(session, venue)
    if fmt == "geojson":
        body = json.dumps(aed_geojson(aeds), ensure_ascii=False, indent=1)
        return body, "application/geo+json", "aeds.geojson"
    guardians = {a.guardian_person_id for a in aeds if a.guardian_person_id}
    phones = dict(
        session.execute(select(Person.id, Person.phone).where(Person.id.in_(guardians))).all()
    )
    body = spreadsheets.csv_download(AED_COLUMNS, aed_csv_rows(aeds, phones))
    return body, "text/csv; charset=utf-8", "aeds.csv"
