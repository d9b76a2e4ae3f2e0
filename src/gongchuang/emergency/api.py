"""The emergency REST API under /api/v1/emergency.

A 120 centre sends incidents to `POST /centres/{code}/incidents` and hears back through the
signed webhooks of its organisation (topic `emergency.incident_status`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gongchuang.core import files, organisations, regions
from gongchuang.core.api import PROBLEMS, live_stream
from gongchuang.core.errors import AuthenticationRequired
from gongchuang.core.limits import INCIDENT_BODY_BYTES, UPLOAD_BODY_BYTES
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CurrentPrincipal,
    DbSession,
    Id,
    LoggedIn,
    Require,
    audited_read,
    current_principal,
    get_database,
)
from gongchuang.emergency import coverage, service
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import (
    AedIn,
    AedOut,
    AedPublic,
    AlertAnswer,
    AlertOut,
    CentreIn,
    CentreOut,
    CoverageHourOut,
    CoverageOut,
    DutyIn,
    EtaIn,
    ImportOut,
    IncidentListItem,
    IncidentOut,
    IncidentSummary,
    OutcomeIn,
    PointIn,
    PolicyIn,
    PolicyOut,
    ProgressIn,
    ResponderOut,
    SosIn,
    StaffInvite,
    SuggestionOut,
)
from gongchuang.emergency.service import views

router = APIRouter(prefix="/api/v1/emergency", tags=["emergency"], responses=PROBLEMS)
Responding = Annotated[Principal, Depends(Require(EmergencyPerm.RESPOND))]
Dispatching = Annotated[Principal, Depends(Require(EmergencyPerm.DISPATCH))]
VenueStaff = Annotated[Principal, Depends(Require(EmergencyPerm.VENUE))]
Overseeing = Annotated[Principal, Depends(Require(EmergencyPerm.OVERSEE))]
RegionCode = Annotated[str, Path(pattern=r"^[0-9]{2,12}$")]


def _point(point: PointIn) -> tuple[float, float, str]:
    return point.lat, point.lng, point.crs


# --- intake -----------------------------------------------------------------------------------


@router.post(
    "/centres/{code}/incidents",
    status_code=201,
    # Refused with 413 before a byte of a larger body is read.
    max_body_size=INCIDENT_BODY_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EidoDocument"}}
            },
        }
    },
    responses={200: {"model": IncidentSummary, "description": "A resend: the first incident"}},
)
async def receive_incident(
    request: Request,
    response: Response,
    code: Annotated[str, Path(max_length=32)],
    principal: Dispatching,
    session: DbSession,
    signature: Annotated[str | None, Header(alias="X-Gongchuang-Signature")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> IncidentSummary:
    """An incident from a 120 dispatch centre (EIDO-style JSON, at most 64 KiB), signed with
    the centre's secret. Alerting starts at once when the dispatch code is one of the centre's
    automatic codes. Resending with the same Idempotency-Key returns the first incident (200);
    the same signature with another key is a replay, refused (409)."""
    body = await request.body()

    def receive() -> tuple[IncidentSummary, bool]:
        incident, created = service.receive_from_centre(
            session, principal, code, body, signature, idempotency_key
        )
        return views.incident_summary(session, incident, created), created

    # The request's own session (one write transaction); the work runs off the event loop.
    result, created = await run_in_threadpool(receive)
    if not created:
        response.status_code = 200
    return result


@router.post("/sos", status_code=201)
def sos(data: SosIn, session: DbSession, principal: Responding) -> IncidentSummary:
    """Ask for help from where you are: first-aiders nearby are alerted, the 120 centre
    covering the place is told."""
    incident = service.raise_sos(session, principal, data)
    return views.incident_summary(session, incident, True)


@router.post("/organisations/{organisation_id}/incidents", status_code=201)
def venue_incident(
    organisation_id: Id, data: SosIn, session: DbSession, principal: VenueStaff
) -> IncidentSummary:
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    incident = service.report_from_venue(session, principal, venue, data)
    return views.incident_summary(session, incident, True)


# --- the console ------------------------------------------------------------------------------


@router.get("/incidents")
def list_incidents(
    session: DbSession,
    principal: LoggedIn,
    open_only: Annotated[bool, Query(alias="open")] = True,
) -> list[IncidentListItem]:
    found = service.visible_incidents(session, principal, open_only=open_only)
    return views.incident_list(session, found)


@router.get("/incidents/{incident_id}")
@audited_read
def get_incident(incident_id: Id, session: DbSession, principal: LoggedIn) -> IncidentOut:
    return views.incident_out(session, service.get_incident_for(session, principal, incident_id))


@router.get("/incidents/{incident_id}/stream", include_in_schema=False)
async def incident_stream(request: Request, incident_id: Id) -> StreamingResponse:
    """Live changes of one incident (Server-Sent Events) for the console."""

    def check() -> None:
        # Off the event loop: the audit append waits for the chain's lock, whose holder may
        # need the loop to commit.
        with get_database(request).transaction() as session:
            principal = current_principal(request, session)
            if not principal.is_authenticated:
                raise AuthenticationRequired()
            service.get_incident_for(session, principal, incident_id)

    await run_in_threadpool(check)
    return live_stream(request, f"incident:{incident_id}")


@router.post("/incidents/{incident_id}/alerting", status_code=200)
def start_alerting(incident_id: Id, session: DbSession, principal: Dispatching) -> IncidentSummary:
    incident = service.get_incident_for(session, principal, incident_id, dispatch=True)
    service.start_alerting(session, principal, incident)
    return views.incident_summary(session, incident, False)


@router.post("/incidents/{incident_id}/eta", status_code=200)
def ambulance_eta(
    incident_id: Id, data: EtaIn, session: DbSession, principal: Dispatching
) -> IncidentSummary:
    incident = service.get_incident_for(session, principal, incident_id, dispatch=True)
    service.set_ambulance_eta(session, principal, incident, data)
    return views.incident_summary(session, incident, False)


@router.post("/incidents/{incident_id}/close", status_code=200)
def close_incident(
    incident_id: Id, data: OutcomeIn, session: DbSession, principal: LoggedIn
) -> IncidentSummary:
    incident = service.get_incident_for(session, principal, incident_id, dispatch=True)
    service.close(session, principal, incident, data)
    return views.incident_summary(session, incident, False)


@router.get(
    "/incidents/{incident_id}/cap",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}}},
)
@audited_read
def incident_cap(
    request: Request, incident_id: Id, session: DbSession, principal: LoggedIn
) -> Response:
    """The incident as a CAP 1.2 public-warning alert."""
    incident = service.get_incident_for(session, principal, incident_id)
    data = service.cap_xml(session, incident, request.url.hostname or "gongchuang")
    return Response(data, media_type="application/cap+xml")


# --- responders -------------------------------------------------------------------------------


@router.get("/me/responder")
def my_responder(session: DbSession, principal: Responding) -> ResponderOut:
    return views.responder_out(session, principal)


@router.post("/me/responder", status_code=200)
def join(session: DbSession, principal: Responding) -> ResponderOut:
    service.join_network(session, principal)
    return views.responder_out(session, principal)


@router.put("/me/responder/duty")
def duty(data: DutyIn, session: DbSession, principal: Responding) -> ResponderOut:
    service.set_duty(session, principal, data)
    return views.responder_out(session, principal)


@router.delete("/me/responder", status_code=204)
def leave(session: DbSession, principal: Responding) -> Response:
    service.withdraw(session, principal)
    return Response(status_code=204)


@router.get("/me/alerts")
def my_alerts(session: DbSession, principal: Responding) -> list[AlertOut]:
    person_id = service.acting_person_id(principal)
    return [views.alert_out(session, a) for a, _ in service.my_alerts(session, person_id)]


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: Id, session: DbSession, principal: Responding) -> AlertOut:
    return views.alert_out(
        session, service.get_alert_for(session, principal, alert_id, record=True)
    )


@router.post("/alerts/{alert_id}/answer")
def answer_alert(
    alert_id: Id, data: AlertAnswer, session: DbSession, principal: Responding
) -> AlertOut:
    return views.alert_out(session, service.answer(session, principal, alert_id, data))


@router.post("/alerts/{alert_id}/progress")
def alert_progress(
    alert_id: Id, data: ProgressIn, session: DbSession, principal: Responding
) -> AlertOut:
    return views.alert_out(session, service.progress(session, principal, alert_id, data))


@router.post("/alerts/{alert_id}/position", status_code=204)
def alert_position(
    alert_id: Id, data: PointIn, session: DbSession, principal: Responding
) -> Response:
    service.report_position(session, principal, alert_id, _point(data))
    return Response(status_code=204)


@router.post("/organisations/{organisation_id}/responders", status_code=200)
def invite_responder(
    organisation_id: Id,
    session: DbSession,
    principal: VenueStaff,
    command: Annotated[StaffInvite, Query()],
) -> ResponderOut:
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    return views.invited_out(service.invite_staff(session, principal, venue, command))


# --- AEDs -------------------------------------------------------------------------------------


@router.get("/aeds")
def nearby_aeds(
    session: DbSession,
    principal: CurrentPrincipal,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[int, Query(ge=10, le=5000)] = 1000,
    crs: Literal["WGS84", "GCJ02"] = "WGS84",
) -> list[AedPublic]:
    """AEDs near a place, nearest first, for anyone (no login): where, how to get in, when."""
    lat, lng = service.to_wgs84(lat, lng, crs)
    found = service.aeds_on_the_map(session, lat, lng, radius_m)
    names = service.owner_names(session, found)
    return [views.aed_public(session, a, names) for a in found]


@router.get("/organisations/{organisation_id}/aeds")
def organisation_aeds(
    organisation_id: Id, session: DbSession, principal: VenueStaff
) -> list[AedOut]:
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    names = {venue.id: venue.name}
    return [views.aed_out(session, a, names) for a in service.aeds_of(session, venue)]


@router.post("/organisations/{organisation_id}/aeds", status_code=201)
def add_aed(organisation_id: Id, data: AedIn, session: DbSession, principal: VenueStaff) -> AedOut:
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    return views.aed_out(session, service.create_aed(session, principal, venue, data))


@router.put("/aeds/{aed_id}")
def change_aed(aed_id: Id, data: AedIn, session: DbSession, principal: VenueStaff) -> AedOut:
    aed = service.get_aed_for(session, principal, aed_id)
    return views.aed_out(session, service.update_aed(session, principal, aed, data))


@router.post(
    "/organisations/{organisation_id}/aeds/import", status_code=201, max_body_size=UPLOAD_BODY_BYTES
)
def import_aeds(
    organisation_id: Id,
    file: Annotated[UploadFile, File()],
    session: DbSession,
    principal: VenueStaff,
) -> ImportOut:
    """CSV or Excel (the export's columns) or GeoJSON with OpenStreetMap tags; all or none."""
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    data = files.read_upload(file.file)
    created = service.import_aeds(session, principal, venue, data, file.filename or "aeds.csv")
    return ImportOut(created=created)


@router.get(
    "/organisations/{organisation_id}/aeds/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
            }
        }
    },
)
def export_aeds(
    organisation_id: Id,
    session: DbSession,
    principal: VenueStaff,
    format: Literal["csv", "geojson"] = "csv",
) -> Response:
    venue = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )
    body, media_type, filename = views.aed_export(session, venue, format)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- centres, policy, coverage ----------------------------------------------------------------


@router.put("/organisations/{organisation_id}/centre")
def save_centre(
    organisation_id: Id, data: CentreIn, session: DbSession, principal: Dispatching
) -> CentreOut:
    """Register or change the organisation's 120 centre; the HMAC secret is shown once."""
    organisation = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.DISPATCH
    )
    centre, secret = service.save_centre(session, principal, organisation, data)
    return views.centre_out(centre, secret)


@router.post("/organisations/{organisation_id}/centre/secret")
def rotate_centre_secret(
    organisation_id: Id, session: DbSession, principal: Dispatching
) -> CentreOut:
    organisation = organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.DISPATCH
    )
    centre, secret = service.rotate_centre_secret(session, principal, organisation)
    return views.centre_out(centre, secret)


@router.get("/regions/{code}/policy")
def get_policy(code: RegionCode, session: DbSession, principal: LoggedIn) -> PolicyOut:
    return views.policy_out(session, code)


@router.put("/regions/{code}/policy")
def put_policy(
    code: RegionCode, data: PolicyIn, session: DbSession, principal: Overseeing
) -> PolicyOut:
    service.set_policy(session, principal, regions.get_region(session, code), data)
    return views.policy_out(session, code)


@router.get("/regions/{code}/coverage")
def region_coverage(
    code: RegionCode,
    session: DbSession,
    principal: Overseeing,
    weekday: Annotated[int, Query(ge=0, le=6)] = 0,
    k: Annotated[int, Query(ge=0, le=50)] = 5,
) -> CoverageOut:
    """Share of the region's population points within a 3-minute walk of an AED that can be
    reached at each hour, and the next k AED sites that would add the most."""
    found = coverage.report(session, principal, regions.get_region(session, code), weekday, k)
    return CoverageOut(
        region_code=found.region.code,
        weekday=found.weekday,
        reach_m=found.reach_m,
        total_weight=found.total_weight,
        points=found.points,
        aeds=found.aeds,
        hours=[CoverageHourOut(hour=h, covered_weight=w, share=s) for h, w, s in found.by_hour],
        suggestions=[SuggestionOut(**vars(s)) for s in found.suggestions],
        share_after_suggestions=found.share_after,
    )


@router.post("/regions/{code}/population", status_code=201, max_body_size=UPLOAD_BODY_BYTES)
def import_population(
    code: RegionCode,
    file: Annotated[UploadFile, File()],
    session: DbSession,
    principal: Overseeing,
) -> ImportOut:
    """Replace the region's population points (CSV/Excel: label, lat, lng, weight)."""
    data = files.read_upload(file.file)
    region = regions.get_region(session, code)
    return ImportOut(
        created=coverage.import_points(session, principal, region, data, file.filename or "")
    )
