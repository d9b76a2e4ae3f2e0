"""HTML pages of the first-aid network: responders, the alert screen, the dispatcher console,
venues' AEDs, the public AED map and the coverage report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import files, geo, organisations, regions
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import (
    InvalidInput,
    NotFound,
    field_problems,
    refuse_if_any,
)
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    FormFields,
    Id,
    LoggedIn,
    audited_read,
    redirect,
    render,
)
from gongchuang.emergency import coverage, opening_hours, service
from gongchuang.emergency.models import (
    AED_STATUS_LABELS,
    ALERT_STATUS_LABELS,
    INCIDENT_STATUS_LABELS,
    ROUTE_LABELS,
    TIMELINE_LABELS,
    Aed,
    IncidentStatus,
)
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import (
    KINDS,
    OUTCOME_FIELDS,
    SOURCES,
    AedIn,
    AlertAnswer,
    CentreIn,
    DutyIn,
    EtaIn,
    OutcomeIn,
    PolicyIn,
    ProgressIn,
    SosIn,
    StaffInvite,
)
from gongchuang.emergency.service import views

router = APIRouter(include_in_schema=False)

# Where the public AED map opens when the visitor shares no location: the demo county seat.
DEFAULT_CENTRE = (27.7370, 111.3050)
WEEKDAYS = [N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
            N_("Saturday"), N_("Sunday")]  # fmt: skip


def _labels() -> dict[str, Any]:
    return {
        "kinds": KINDS,
        "sources": SOURCES,
        "alert_status": ALERT_STATUS_LABELS,
        "incident_status": INCIDENT_STATUS_LABELS,
        "timeline_labels": TIMELINE_LABELS,
        "routes": ROUTE_LABELS,
        "outcome_fields": OUTCOME_FIELDS,
    }


def _map_settings() -> dict[str, str]:
    settings = get_settings()
    return {
        "tiles": settings.map_tile_url,
        "attribution": settings.map_tile_attribution,
        "crs": settings.map_tile_crs,
        # Leaflet's own buttons, in the reader's language.
        "zoom_in": gettext("Zoom in"),
        "zoom_out": gettext("Zoom out"),
    }


def _for_map(lat: float, lng: float) -> list[float]:
    """Screen coordinates: GCJ-02 when the tiles are Chinese-map tiles, else WGS-84."""
    if get_settings().map_tile_crs.upper() == "GCJ02":
        shifted = geo.wgs84_to_gcj02(lat, lng)
        return [round(shifted.lat, 6), round(shifted.lng, 6)]
    return [round(lat, 6), round(lng, 6)]


def _map_data(
    markers: list[dict[str, Any]], circle: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a map's JSON block carries; the template embeds it with |tojson."""
    for marker in markers:
        marker["at"] = _for_map(marker.pop("lat"), marker.pop("lng"))
    if circle:
        circle["at"] = _for_map(circle.pop("lat"), circle.pop("lng"))
    return {"settings": _map_settings(), "markers": markers, "circle": circle}


M = TypeVar("M", bound=BaseModel)


def _field(loc: tuple[int | str, ...]) -> str:
    """A field as the form names it: a place (set by the phone, not typed) is "location"."""
    if loc and loc[-1] in ("lat", "lng"):
        return "location"
    return ".".join(str(p) for p in loc) or "body"


def _parse(model: type[M], values: Mapping[str, Any], message: str | None = None) -> M:
    """A form read into the same model the API takes. Refused with each field's problem in
    plain words, under `message` (or the first field's problem); a bad place is said as such."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = exc.errors()
    errors = field_problems(problems, _field)
    if message is None and any(e["field"] == "location" for e in errors):
        message = service.OUTSIDE_CHINA
    if message is None:
        refuse_if_any(errors)
    raise InvalidInput(message, errors=errors)


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    """A file to save (the incident's CAP alert, a venue's AED register)."""
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _sos(lat: str, lng: str, address: str, notes: str, kind: str) -> SosIn:
    """An emergency reported from a form (the SOS button, a venue's report): the API's body."""
    return _parse(SosIn, {"lat": lat, "lng": lng, "address": address, "notes": notes, "kind": kind})


# --- responder home ---------------------------------------------------------------------------


@router.get("/emergency", response_class=HTMLResponse)
def home(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    person_id = service.acting_person_id(principal)
    responder = service.get_responder(session, person_id)
    return render(
        request,
        "emergency/home.html",
        {
            **_labels(),
            "responder": responder,
            "holds_first_aid": service.holds_first_aid(session, person_id),
            "dispatch_orgs": organisations.organisations_with(
                session, principal, EmergencyPerm.DISPATCH
            ),
            "venues": organisations.organisations_with(session, principal, EmergencyPerm.VENUE),
            "oversee_regions": service.oversee_regions(session, principal),
            "my_incidents": [
                i
                for i in service.visible_incidents(session, principal, open_only=False, limit=5)
                if i.reporter_person_id == person_id
            ],
        },
    )


@router.get("/emergency/me/alerts", response_class=HTMLResponse)
def my_alerts(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    rows = service.my_alerts(session, service.acting_person_id(principal), limit=10)
    return render(request, "emergency/_my_alerts.html", {**_labels(), "rows": rows})


@router.post("/emergency/responder", dependencies=[CsrfChecked])
def responder_action(
    session: DbSession,
    principal: LoggedIn,
    action: Annotated[str, Form(max_length=20)],
    lat: Annotated[str, Form(max_length=30)] = "",
    lng: Annotated[str, Form(max_length=30)] = "",
    consent: Annotated[bool, Form()] = False,
) -> Response:
    if action == "join":
        service.join_network(session, principal)
    elif action == "on":
        data = _parse(
            DutyIn,
            {"on_duty": True, "location": {"lat": lat, "lng": lng}, "consent_location": consent},
        )
        service.set_duty(session, principal, data)
    elif action == "off":
        service.set_duty(session, principal, DutyIn(on_duty=False))
    elif action == "withdraw":
        service.withdraw(session, principal)
    else:
        raise InvalidInput(N_("Unknown action"))
    return redirect("/emergency")


@router.post("/emergency/sos", dependencies=[CsrfChecked])
def sos(
    session: DbSession,
    principal: LoggedIn,
    lat: Annotated[str, Form(max_length=30)] = "",
    lng: Annotated[str, Form(max_length=30)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=32)] = "cardiac_arrest",
) -> Response:
    service.raise_sos(session, principal, _sos(lat, lng, address, "", kind))
    return redirect("/emergency?sos=1")


# --- the alert screen -------------------------------------------------------------------------


def _alert_context(session: Session, alert_id: int, principal: Principal) -> dict[str, Any]:
    alert = service.get_alert_for(session, principal, alert_id, record=True)
    out = views.alert_out(session, alert)
    markers = [{"lat": out.lat, "lng": out.lng, "kind": "patient", "label": out.address}]
    if out.aed:
        markers.append(
            {"lat": out.aed.lat, "lng": out.aed.lng, "kind": "aed", "label": out.aed.address}
        )
    incident = service.incident_of(session, alert)
    return {
        **_labels(),
        "alert": out,
        "eta_at": incident.ambulance_eta_at,
        "map_data": _map_data(markers),
    }


@router.get("/emergency/alerts/{alert_id}", response_class=HTMLResponse)
@audited_read
def alert_page(
    request: Request, alert_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    context = _alert_context(session, alert_id, principal)
    return render(request, "emergency/alert.html", context)


@router.get("/emergency/alerts/{alert_id}/status", response_class=HTMLResponse)
@audited_read
def alert_status(
    request: Request, alert_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    context = _alert_context(session, alert_id, principal)
    return render(request, "emergency/_alert_status.html", context)


@router.post("/emergency/alerts/{alert_id}", dependencies=[CsrfChecked])
def alert_action(
    alert_id: Id,
    session: DbSession,
    principal: LoggedIn,
    action: Annotated[str, Form(max_length=20)],
) -> Response:
    if action in ("accept", "decline"):
        service.answer(session, principal, alert_id, AlertAnswer(accept=action == "accept"))
    elif action in service.STEPS:
        service.progress(session, principal, alert_id, _parse(ProgressIn, {"step": action}))
    else:
        raise InvalidInput(N_("Unknown action"))
    return redirect(f"/emergency/alerts/{alert_id}")


# --- dispatcher console -----------------------------------------------------------------------


@router.get("/emergency/console", response_class=HTMLResponse)
def console(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    open_incidents = service.visible_incidents(session, principal, open_only=True)
    recent = [
        i
        for i in service.visible_incidents(session, principal, open_only=False, limit=30)
        if i.status in (IncidentStatus.closed, IncidentStatus.cancelled)
    ]
    counts = service.alert_counts(session, [i.id for i in open_incidents + recent])
    return render(
        request,
        "emergency/console.html",
        {**_labels(), "open_incidents": open_incidents, "recent": recent, "counts": counts},
    )


def _aed_marker(aed: Aed, moment: datetime) -> str:
    """How a map and a list show an AED now: "aed" (can be sent for), "aed-unknown" (in
    service, opening hours not known) or "aed-off" (closed, out of date or out of service)."""
    state = service.worth_sending_for(aed, moment)
    if state is None:
        return "aed-off"
    return "aed" if state is opening_hours.Availability.open else "aed-unknown"


def _incident_context(session: Session, principal: Principal, incident_id: int) -> dict[str, Any]:
    incident = service.get_incident_for(session, principal, incident_id)
    view = service.picture(session, incident)
    markers: list[dict[str, Any]] = [
        {"lat": incident.lat, "lng": incident.lng, "kind": "patient", "label": incident.address}
    ]
    used = {a.aed_id for a, _ in view.alerts if a.aed_id}
    now = utcnow()
    for aed in view.aeds.values():
        markers.append(
            {
                "lat": aed.lat,
                "lng": aed.lng,
                "kind": _aed_marker(aed, now),
                "label": aed.address + (" ✓" if aed.id in used else ""),
            }
        )
    for alert, name in view.alerts:
        if alert.lat is not None and alert.lng is not None:
            markers.append({"lat": alert.lat, "lng": alert.lng, "kind": "responder", "label": name})
    policy = service.incident_policy(incident) if incident.policy else None
    circle = (
        {"lat": incident.lat, "lng": incident.lng, "radius": policy.radius_m} if policy else None
    )
    return {
        **_labels(),
        "incident": incident,
        "view": view,
        "can_dispatch": service.can_dispatch(session, principal, incident),
        "map_data": _map_data(markers, circle),
        "now": now,
    }


@router.get("/emergency/incidents/{incident_id}", response_class=HTMLResponse)
@audited_read
def incident_page(
    request: Request, incident_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    return render(
        request, "emergency/incident.html", _incident_context(session, principal, incident_id)
    )


@router.get("/emergency/incidents/{incident_id}/live", response_class=HTMLResponse)
@audited_read
def incident_live(
    request: Request, incident_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    return render(
        request, "emergency/_incident_live.html", _incident_context(session, principal, incident_id)
    )


@router.post("/emergency/incidents/{incident_id}", dependencies=[CsrfChecked])
def incident_action(
    request: Request, incident_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    action = str(form.get("action", ""))
    incident = service.get_incident_for(session, principal, incident_id, dispatch=True)
    if action == "alert":
        service.start_alerting(session, principal, incident)
    elif action == "eta":
        eta = _parse(
            EtaIn,
            {"minutes": str(form.get("minutes", ""))},
            N_("Enter the ambulance's arrival in minutes (0–240)"),
        )
        service.set_ambulance_eta(session, principal, incident, eta)
    elif action in ("close", "cancel"):
        outcome = _parse(
            OutcomeIn,
            {
                "cancelled": action == "cancel",
                "note": str(form.get("note", "")),
                **{name: form.get(name) == "on" for name in OUTCOME_FIELDS},
            },
            N_("The note is too long"),
        )
        service.close(session, principal, incident, outcome)
    else:
        raise InvalidInput(N_("Unknown action"))
    return redirect(f"/emergency/incidents/{incident_id}")


@router.get("/emergency/incidents/{incident_id}/cap.xml")
@audited_read
def incident_cap(
    request: Request, incident_id: Id, session: DbSession, principal: LoggedIn
) -> Response:
    incident = service.get_incident_for(session, principal, incident_id)
    data = service.cap_xml(session, incident, request.url.hostname or "gongchuang")
    return _download(data, "application/cap+xml", f"{incident.reference}.cap.xml")


# --- venues and their AEDs --------------------------------------------------------------------


def _venue(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.VENUE
    )


@router.get("/emergency/venues/{organisation_id}", response_class=HTMLResponse)
def venue_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    venue = _venue(session, principal, organisation_id)
    aeds = service.aeds_of(session, venue)
    today = local_today()
    return render(
        request,
        "emergency/venue.html",
        {
            **_labels(),
            "venue": venue,
            "aeds": [(a, service.aed_problems(a, today), _aed_marker(a, utcnow())) for a in aeds],
            "staff": service.staff_responders(session, venue),
            "map_data": _map_data(
                [{"lat": a.lat, "lng": a.lng, "kind": "aed", "label": a.address} for a in aeds]
            ),
        },
    )


def _aed_from_form(form: Any) -> AedIn:
    values = {k: str(v).strip() for k, v in form.items() if k not in ("csrf_token",)}
    for name in ("battery_expires_on", "pads_expire_on", "last_inspected_on"):
        if not values.get(name):
            values.pop(name, None)
    return _parse(AedIn, values, N_("Some details of the AED are not valid"))


@router.post("/emergency/venues/{organisation_id}/aeds", dependencies=[CsrfChecked])
def add_aed(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    venue = _venue(session, principal, organisation_id)
    service.create_aed(session, principal, venue, _aed_from_form(form))
    return redirect(f"/emergency/venues/{venue.id}")


@router.get("/emergency/aeds/{aed_id}/edit", response_class=HTMLResponse)
def edit_aed_page(
    request: Request, aed_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    aed = service.get_aed_for(session, principal, aed_id)
    return render(request, "emergency/aed_edit.html", {"aed": aed, "statuses": AED_STATUS_LABELS})


@router.post("/emergency/aeds/{aed_id}", dependencies=[CsrfChecked])
def edit_aed(
    request: Request, aed_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    aed = service.get_aed_for(session, principal, aed_id)
    service.update_aed(session, principal, aed, _aed_from_form(form))
    return redirect(f"/emergency/venues/{aed.organisation_id}")


@router.post(
    "/emergency/venues/{organisation_id}/aeds/import",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_aeds(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    file: Annotated[UploadFile, File()],
) -> Response:
    venue = _venue(session, principal, organisation_id)
    data = files.read_upload(file.file)
    service.import_aeds(session, principal, venue, data, file.filename or "aeds.csv")
    return redirect(f"/emergency/venues/{venue.id}")


@router.get("/emergency/venues/{organisation_id}/aeds.{fmt}")
def export_aeds(organisation_id: Id, fmt: str, session: DbSession, principal: LoggedIn) -> Response:
    if fmt not in ("csv", "geojson"):
        raise NotFound()
    venue = _venue(session, principal, organisation_id)
    return _download(*views.aed_export(session, venue, fmt))


@router.post("/emergency/venues/{organisation_id}/responders", dependencies=[CsrfChecked])
def invite_staff(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    phone: Annotated[str, Form(max_length=20)],
) -> Response:
    venue = _venue(session, principal, organisation_id)
    service.invite_staff(session, principal, venue, _parse(StaffInvite, {"phone": phone}))
    return redirect(f"/emergency/venues/{venue.id}")


@router.post("/emergency/venues/{organisation_id}/incidents", dependencies=[CsrfChecked])
def venue_incident(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    lat: Annotated[str, Form(max_length=30)],
    lng: Annotated[str, Form(max_length=30)],
    address: Annotated[str, Form(max_length=300)] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
    kind: Annotated[str, Form(max_length=32)] = "cardiac_arrest",
) -> Response:
    venue = _venue(session, principal, organisation_id)
    incident = service.report_from_venue(
        session, principal, venue, _sos(lat, lng, address, notes, kind)
    )
    return redirect(f"/emergency/incidents/{incident.id}")


# --- 120 centre settings ----------------------------------------------------------------------


def _dispatch_centre_org(
    session: Session, principal: Principal, organisation_id: int
) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, EmergencyPerm.DISPATCH
    )


@router.get("/emergency/centres/{organisation_id}", response_class=HTMLResponse)
def centre_page(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = _dispatch_centre_org(session, principal, organisation_id)
    return render(
        request,
        "emergency/centre.html",
        {"organisation": organisation, "centre": service.centre_of(session, organisation)},
    )


@router.post("/emergency/centres/{organisation_id}", dependencies=[CsrfChecked])
def save_centre(
    request: Request, organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    organisation = _dispatch_centre_org(session, principal, organisation_id)
    secret: str | None
    if form.get("action") == "rotate":
        centre, secret = service.rotate_centre_secret(session, principal, organisation)
    else:
        values: dict[str, Any] = {
            "code": str(form.get("code", "")).strip(),
            "name": str(form.get("name", "")),
            "lat": str(form.get("lat") or ""),
            "lng": str(form.get("lng") or ""),
            "auto_codes": str(form.get("auto_codes", "")).replace("，", ",").split(","),
        }
        if form.get("service_radius_km"):
            values["service_radius_km"] = str(form.get("service_radius_km"))
        data = _parse(
            CentreIn,
            values,
            N_("Check the code (lower-case letters, digits, dashes), the place and the radius"),
        )
        centre, secret = service.save_centre(session, principal, organisation, data)
    return render(
        request,
        "emergency/centre.html",
        {"organisation": organisation, "centre": centre, "secret": secret},
    )


# --- public AED map ---------------------------------------------------------------------------


@router.get("/first-aid", response_class=HTMLResponse)
def first_aid(
    request: Request,
    session: DbSession,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    place: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """For whoever finds a collapsed person, no account needed: call 120, the nearest AEDs
    that can be fetched now with walking directions in the phone's map app, and the CPR guide.
    The position is asked for only when the person taps the button, and is used for this one
    answer only (it is neither stored nor logged)."""
    located = (lat, lng) if lat is not None and lng is not None else None
    if located is not None and not geo.in_mainland_bounds(*located):
        located = None
    searched = located is not None or bool(place.strip())
    found = service.aeds_for_a_bystander(session, utcnow(), near=located, place=place)
    org_names = service.owner_names(session, [f.aed for f in found])
    return render(
        request,
        "emergency/first_aid.html",
        {
            "searched": searched,
            "located": located is not None,
            "place": place,
            "found": [
                (f, geo.walking_directions(f.aed.lat, f.aed.lng, f.aed.address)) for f in found
            ],
            "org_names": org_names,
            "map_data": _map_data(
                [
                    {
                        "lat": f.aed.lat,
                        "lng": f.aed.lng,
                        "kind": "aed" if f.known_open else "aed-unknown",
                        "label": f.aed.address,
                    }
                    for f in found
                ],
                {"lat": located[0], "lng": located[1], "radius": service.PUBLIC_RADIUS_M}
                if located
                else None,
            )
            if found
            else None,
        },
    )


@router.get("/emergency/aeds", response_class=HTMLResponse)
def aed_map(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> HTMLResponse:
    """Anyone may find an AED: where it is, how to get to it, whether it is open now."""
    centre = (lat, lng) if lat is not None and lng is not None else DEFAULT_CENTRE
    if not geo.in_mainland_bounds(*centre):
        centre = DEFAULT_CENTRE
    found = service.aeds_on_the_map(session, centre[0], centre[1], 3000)
    now = utcnow()
    rows = [
        (
            a,
            _aed_marker(a, now),
            round(geo.haversine_m(geo.Point(*centre), geo.Point(a.lat, a.lng))),
        )
        for a in found
    ]
    org_names = service.owner_names(session, found)
    return render(
        request,
        "emergency/aeds.html",
        {
            "rows": rows,
            "org_names": org_names,
            "map_data": _map_data(
                [
                    {
                        "lat": a.lat,
                        "lng": a.lng,
                        "kind": kind,
                        "label": a.address,
                    }
                    for a, kind, _ in rows
                ],
                {"lat": centre[0], "lng": centre[1], "radius": 3000},
            ),
        },
    )


# --- coverage and policy ----------------------------------------------------------------------


@router.get("/emergency/coverage", response_class=HTMLResponse)
def coverage_page(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    region: Annotated[str | None, Query(max_length=12)] = None,
    weekday: Annotated[int, Query(ge=0, le=6)] = 0,
    k: Annotated[int, Query(ge=0, le=50)] = 5,
) -> HTMLResponse:
    oversee = service.oversee_regions(session, principal)
    code = region or (oversee[0].code if oversee else None)
    if code is None:
        raise NotFound()
    place = regions.get_region(session, code)
    report = coverage.report(session, principal, place, weekday, k)
    policy, source = service.policy_for(session, place.id)
    markers = [
        {"lat": lat, "lng": lng, "kind": "covered" if ok else "uncovered", "label": str(w)}
        for lat, lng, w, ok in report.point_rows
    ]
    markers += [
        {"lat": lat, "lng": lng, "kind": "aed" if ok else "aed-off", "label": hours}
        for lat, lng, hours, ok in report.aed_rows
    ]
    markers += [
        {"lat": s.lat, "lng": s.lng, "kind": "suggestion", "label": s.label}
        for s in report.suggestions
    ]
    chart = {
        "hours": [h for h, _, _ in report.by_hour],
        "share": [round(s * 100, 1) for _, _, s in report.by_hour],
    }
    return render(
        request,
        "emergency/coverage.html",
        {
            "report": report,
            "weekdays": WEEKDAYS,
            "directions": coverage.DIRECTIONS,
            "policy": policy,
            "policy_source": source,
            "chart_data": chart,
            "map_data": _map_data(markers),
            "k": k,
        },
    )


@router.post(
    "/emergency/coverage/{code}/population",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_population(
    code: str, session: DbSession, principal: LoggedIn, file: Annotated[UploadFile, File()]
) -> Response:
    place = regions.get_region(session, code)
    coverage.import_points(
        session, principal, place, files.read_upload(file.file), file.filename or ""
    )
    return redirect(f"/emergency/coverage?region={place.code}")


@router.post("/emergency/coverage/{code}/policy", dependencies=[CsrfChecked])
def save_policy(
    request: Request, code: str, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    place = regions.get_region(session, code)
    values = _parse(
        PolicyIn,
        {k: str(form.get(k)) for k in PolicyIn.model_fields if form.get(k)},
        N_("Each setting must be a whole number within its range"),
    )
    service.set_policy(session, principal, place, values)
    return redirect(f"/emergency/coverage?region={place.code}")
