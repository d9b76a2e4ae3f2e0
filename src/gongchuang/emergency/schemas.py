"""What the emergency API accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gongchuang.core.i18n import N_
from gongchuang.emergency.matching import Policy

Text100 = Annotated[str, StringConstraints(max_length=100, strip_whitespace=True)]
Text300 = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)]
Text2000 = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Crs = Literal["WGS84", "GCJ02"]
IncidentKind = Literal["cardiac_arrest", "unconscious", "choking", "drowning", "trauma", "other"]
# What each kind and source of incident is called where people read it.
KINDS: dict[str, str] = {
    "cardiac_arrest": N_("Cardiac arrest"),
    "unconscious": N_("Unconscious person"),
    "choking": N_("Choking"),
    "drowning": N_("Drowning"),
    "trauma": N_("Serious injury"),
    "other": N_("Other emergency"),
}
SOURCES = {"dispatch": N_("120 centre"), "sos": N_("SOS"), "venue": N_("Venue")}


class PointIn(BaseModel):
    lat: Latitude
    lng: Longitude
    crs: Crs = Field("WGS84", description="GCJ02 for coordinates from Amap or Tencent maps")


# --- 120 intake, modelled on NENA EIDO (only the components we use; others are ignored) -------


class EidoIncidentComponent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    incidentTrackingIdentifier: Annotated[
        str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)
    ]
    incidentTypeCommonRegistryText: IncidentKind = "cardiac_arrest"
    dispatchCode: Annotated[str, StringConstraints(max_length=16, pattern=r"^[0-9A-Za-z\-]*$")] = ""


class EidoLocationComponent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    latitude: Latitude
    longitude: Longitude
    crs: Crs = "WGS84"
    civicAddressText: Text300 = ""


class EidoNote(BaseModel):
    model_config = ConfigDict(extra="ignore")
    notesActionComments: Text2000


class EidoDocument(BaseModel):
    """The incident a 120 centre sends: `POST /api/v1/emergency/centres/{code}/incidents` with
    `X-Gongchuang-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and an
    `Idempotency-Key` header."""

    model_config = ConfigDict(extra="ignore")
    eidoVersion: Text100 = "1.0"
    incidentComponent: EidoIncidentComponent
    locationComponent: EidoLocationComponent
    notesComponent: Annotated[list[EidoNote], Field(max_length=20)] = []


class SosIn(PointIn):
    kind: IncidentKind = "cardiac_arrest"
    address: Text300 = ""
    notes: Text2000 = ""


class IncidentSummary(BaseModel):
    id: int
    reference: str
    status: str
    created: bool = Field(description="false when this was a resent call with the same key")
    alerted: int
    source: str


class AlertOut(BaseModel):
    id: int
    incident_id: int
    incident_reference: str
    incident_status: str
    kind: str
    address: str
    lat: float
    lng: float
    route: str
    aed: AedPublic | None
    walk_m: int
    eta_s: int
    status: str
    sent_at: datetime
    at_aed_at: datetime | None
    on_scene_at: datetime | None
    handed_over_at: datetime | None


class AlertAnswer(BaseModel):
    accept: bool


# What a responder reports on the way, in order.
ProgressStep = Literal["at_aed", "on_scene", "handed_over"]


class ProgressIn(BaseModel):
    step: ProgressStep


class ResponderOut(BaseModel):
    status: str
    on_duty: bool
    located_at: datetime | None
    holds_first_aid: bool
    organisation_id: int | None


class DutyIn(BaseModel):
    on_duty: bool
    location: PointIn | None = None
    consent_location: bool = Field(
        False, description="Consent to share location while on duty, for matching only"
    )


class EtaIn(BaseModel):
    minutes: Annotated[int, Field(ge=0, le=240)]


class OutcomeIn(BaseModel):
    """Utstein-style core outcome of an out-of-hospital cardiac arrest."""

    cancelled: bool = Field(False, description="A false alarm: no outcome fields needed")
    witnessed: bool = False
    bystander_cpr: bool = False
    aed_applied: bool = False
    shock_delivered: bool = False
    rosc: bool = Field(False, description="Return of spontaneous circulation before hand-over")
    note: Text2000 = ""


# The outcome's yes/no fields, as the console's close form asks them.
OUTCOME_FIELDS = {
    "witnessed": N_("The collapse was witnessed"),
    "bystander_cpr": N_("Bystander CPR before the ambulance"),
    "aed_applied": N_("An AED was applied"),
    "shock_delivered": N_("A shock was delivered"),
    "rosc": N_("Pulse returned (ROSC) before hand-over"),
}


class TimelineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    person_id: int | None
    detail: dict[str, object]


class ConsoleAlertOut(BaseModel):
    id: int
    person_id: int
    name: str
    wave: int
    route: str
    aed_id: int | None
    walk_m: int
    eta_s: int
    status: str
    sent_at: datetime
    answered_at: datetime | None
    at_aed_at: datetime | None
    on_scene_at: datetime | None
    handed_over_at: datetime | None
    lat: float | None
    lng: float | None


class IncidentOut(BaseModel):
    id: int
    reference: str
    source: str
    status: str
    kind: str
    dispatch_code: str
    lat: float
    lng: float
    address: str
    notes: str
    external_id: str | None
    created_at: datetime
    alerting_at: datetime | None
    ambulance_eta_at: datetime | None
    closed_at: datetime | None
    outcome: dict[str, object] | None
    wave: int
    alerts: list[ConsoleAlertOut]
    timeline: list[TimelineOut]


class IncidentListItem(BaseModel):
    id: int
    reference: str
    source: str
    status: str
    kind: str
    address: str
    created_at: datetime
    accepted: int
    alerted: int


# --- AEDs -------------------------------------------------------------------------------------


class AedIn(PointIn):
    brand: Text100 = ""
    model: Text100 = ""
    serial: Text100 = ""
    address: Text300 = ""
    indoor_directions: Text2000 = ""
    opening_hours: Annotated[
        str | None,
        StringConstraints(max_length=200, strip_whitespace=True),
        Field(description="OpenStreetMap opening_hours; empty or absent: not known"),
    ] = None
    follows_workdays: bool = Field(
        False,
        description="Keeps to China's working calendar: open on make-up working days (调休), "
        "closed on public holidays",
    )
    status: Literal["active", "faulty", "missing", "retired"] = "active"
    battery_expires_on: date | None = None
    pads_expire_on: date | None = None
    last_inspected_on: date | None = None
    guardian_phone: Annotated[str, StringConstraints(max_length=20, strip_whitespace=True)] = ""


class AedPublic(BaseModel):
    id: int
    lat: float
    lng: float
    address: str
    indoor_directions: str
    opening_hours: str | None = Field(description="OpenStreetMap opening_hours; null: unknown")
    follows_workdays: bool
    hours_now: Literal["open", "closed", "unknown"] = Field(
        description="By its opening hours, at this moment (unknown: no hours are known)"
    )
    usable_now: bool = Field(description="In service, in date and known to be open now")
    organisation_name: str


class AedOut(AedPublic):
    organisation_id: int
    brand: str
    model: str
    serial: str
    status: str
    battery_expires_on: date | None
    pads_expire_on: date | None
    last_inspected_on: date | None
    guardian_person_id: int | None
    problems: list[str]


class StaffInvite(BaseModel):
    """A venue registers one of its members as its first-aid responder, by phone number."""

    phone: Annotated[str, StringConstraints(min_length=5, max_length=20, strip_whitespace=True)]


class ImportOut(BaseModel):
    created: int


class CentreIn(PointIn):
    code: Annotated[
        str, StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    ]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    auto_codes: Annotated[list[Text100], Field(max_length=50)] = ["09E", "09D", "31E", "31D"]
    service_radius_km: Annotated[int, Field(ge=1, le=500)] = 50


class CentreOut(BaseModel):
    id: int
    organisation_id: int
    code: str
    name: str
    auto_codes: list[str]
    lat: float
    lng: float
    service_radius_km: int
    secret: str | None = Field(None, description="Shown once, when created or rotated")


_DEFAULT_POLICY = Policy()


class PolicyIn(BaseModel):
    """A region's matching policy; what is left out is the platform's default (`Policy`)."""

    radius_m: Annotated[int, Field(ge=100, le=5000)] = _DEFAULT_POLICY.radius_m
    max_responders: Annotated[int, Field(ge=1, le=100)] = _DEFAULT_POLICY.max_responders
    wave_size: Annotated[int, Field(ge=1, le=100)] = _DEFAULT_POLICY.wave_size
    wave_interval_s: Annotated[int, Field(ge=10, le=600)] = _DEFAULT_POLICY.wave_interval_s
    target_accepted: Annotated[int, Field(ge=1, le=20)] = _DEFAULT_POLICY.target_accepted
    direct_percent: Annotated[int, Field(ge=0, le=100)] = _DEFAULT_POLICY.direct_percent
    aed_detour_percent: Annotated[int, Field(ge=0, le=100)] = _DEFAULT_POLICY.aed_detour_percent
    walking_speed_cm_s: Annotated[int, Field(ge=50, le=600)] = _DEFAULT_POLICY.walking_speed_cm_s
    detour_factor_percent: Annotated[int, Field(ge=100, le=300)] = (
        _DEFAULT_POLICY.detour_factor_percent
    )


class PolicyOut(PolicyIn):
    region_code: str
    inherited_from: str | None


class CoverageHourOut(BaseModel):
    hour: int
    covered_weight: int
    share: float


class SuggestionOut(BaseModel):
    label: str
    lat: float
    lng: float
    added_weight: int
    region_name: str = ""
    landmark: str = Field("", description="The nearest registered AED's venue and address")
    landmark_m: float | None = Field(None, description="Metres from the landmark to the site")
    direction: str = Field("", description="The site as seen from the landmark: n, ne, e, ...")


class CoverageOut(BaseModel):
    region_code: str
    weekday: int
    reach_m: float
    total_weight: int
    points: int
    aeds: int
    hours: list[CoverageHourOut]
    suggestions: list[SuggestionOut]
    share_after_suggestions: float


AlertOut.model_rebuild()
