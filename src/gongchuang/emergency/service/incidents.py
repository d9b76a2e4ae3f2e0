"""Incidents coming in: from a 120 centre (signed, idempotent), an SOS or a venue.

An incident, once acknowledged to its sender, is committed before anything else can fail:
alerting runs inside a savepoint, and a durable job retries it if it did not finish.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations, webhooks
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.emergency.models import DispatchCentre, Incident
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import EidoDocument, SosIn
from gongchuang.emergency.service._common import (
    _publish_status,
    _shanghai,
    _timeline,
    acting_person_id,
    to_wgs84,
)
from gongchuang.emergency.service.alerting import begin_alerting
from gongchuang.emergency.service.centres import _covering_centre


def _reference() -> str:
    return f"EM{_shanghai(utcnow()):%Y%m%d}-{secrets.token_hex(3).upper()}"


def _new_incident(session: Session, **values: Any) -> Incident:
    """The incident's region (for its matching policy) is that of the organisation it came
    through: the 120 centre's or the venue's; an SOS uses the reporter's home region."""
    if values.get("organisation_id") is not None:
        values["region_id"] = session.scalar(
            select(Organisation.region_id).where(Organisation.id == values["organisation_id"])
        )
    elif values.get("reporter_person_id") is not None:
        values["region_id"] = session.scalar(
            select(Person.home_region_id).where(Person.id == values["reporter_person_id"])
        )
    incident = Incident(reference=_reference(), **values)
    session.add(incident)
    session.flush()
    _timeline(session, incident, "received", source=incident.source)
    return incident


def receive_from_centre(
    session: Session,
    actor: Principal,
    centre_code: str,
    body: bytes,
    signature: str | None,
    idempotency_key: str | None,
) -> tuple[Incident, bool]:
    """Intake from a 120 centre: its token, its HMAC signature and an idempotency key.
    A resend with the same key returns the first incident; a different body is refused."""
    centre = session.scalar(select(DispatchCentre).where(DispatchCentre.code == centre_code))
    if centre is None or not centre.active:
        raise NotFound(N_("Unknown dispatch centre"))
    organisation = organisations.get_organisation(session, centre.organisation_id)
    if not has_permission(session, actor, EmergencyPerm.DISPATCH, organisation):
        raise PermissionDenied(N_("This token may not send incidents for this centre"))
    key = (idempotency_key or "").strip()[:200]
    # A captured intake sent again with a new key is refused; the centre's own resend (the
    # same key) goes on to be answered with the first incident.
    webhooks.accept_signed_request(
        session,
        scope=f"dispatch_centre:{centre.id}",
        secret=centre.secret,
        body=body,
        header=signature,
        request_key=key,
    )
    if not key or len(key) > 100:
        raise InvalidInput(
            N_("An Idempotency-Key header (up to 100 characters) is required"),
            errors=[{"field": "Idempotency-Key", "message": N_("required")}],
        )
    digest = hashlib.sha256(body).hexdigest()
    existing = session.scalar(
        select(Incident).where(Incident.centre_id == centre.id, Incident.idempotency_key == key)
    )
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict(N_("This Idempotency-Key was already used for a different incident"))
        return existing, False
    try:
        document = EidoDocument.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(
            N_("The incident document is not valid"),
            errors=[
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ][:50],
        ) from None
    location = document.locationComponent
    lat, lng = to_wgs84(location.latitude, location.longitude, location.crs)
    code = document.incidentComponent.dispatchCode.upper()
    automatic = any(code.startswith(prefix) for prefix in centre.auto_codes)
    try:
        with session.begin_nested():
            incident = _new_incident(
                session,
                source="dispatch",
                centre_id=centre.id,
                organisation_id=centre.organisation_id,
                external_id=document.incidentComponent.incidentTrackingIdentifier,
                idempotency_key=key,
                request_hash=digest,
                kind=document.incidentComponent.incidentTypeCommonRegistryText,
                dispatch_code=code,
                lat=lat,
                lng=lng,
                address=location.civicAddressText,
                notes="\n".join(n.notesActionComments for n in document.notesComponent),
                # What the platform reads of the document, not whatever else was sent.
                eido=document.model_dump(mode="json"),
            )
    except IntegrityError:
        # The same key raced in from a second connection: that one won, answer with it.
        existing = session.scalar(
            select(Incident).where(Incident.centre_id == centre.id, Incident.idempotency_key == key)
        )
        if existing is None or existing.request_hash != digest:
            raise Conflict(
                N_("This Idempotency-Key was already used for a different incident")
            ) from None
        return existing, False
    audit.record(
        session,
        actor,
        "emergency.incident.receive",
        "emergency_incident",
        incident.id,
        after={"centre": centre.code, "external_id": incident.external_id, "code": code},
    )
    if automatic:
        begin_alerting(session, incident)
    else:
        _publish_status(session, incident, "logged")
    return incident, True


def raise_sos(session: Session, actor: Principal, command: SosIn) -> Incident:
    """Help asked for where the person is, as the API and the SOS button read it."""
    person_id = acting_person_id(actor)
    lat, lng = to_wgs84(command.lat, command.lng, command.crs)
    # SOS pressed on several devices at once are counted one after another. NO KEY UPDATE:
    # alerts and notifications for this person (foreign keys to the row) are not held up.
    session.execute(select(Person.id).where(Person.id == person_id).with_for_update(key_share=True))
    recent = session.scalar(
        select(func.count(Incident.id)).where(
            Incident.reporter_person_id == person_id,
            Incident.created_at > utcnow() - timedelta(minutes=10),
        )
    )
    if (recent or 0) >= 3:
        raise Conflict(N_("You have raised several alarms in the last minutes; please call 120"))
    centre = _covering_centre(session, lat, lng)
    incident = _new_incident(
        session,
        source="sos",
        centre_id=centre.id if centre else None,
        organisation_id=centre.organisation_id if centre else None,
        kind=command.kind,
        lat=lat,
        lng=lng,
        address=command.address,
        notes=command.notes,
        reporter_person_id=person_id,
    )
    audit.record(session, actor, "emergency.incident.sos", "emergency_incident", incident.id)
    begin_alerting(session, incident)
    return incident


def report_from_venue(
    session: Session, actor: Principal, venue: Organisation, command: SosIn
) -> Incident:
    if not has_permission(session, actor, EmergencyPerm.VENUE, venue):
        raise NotFound()
    lat, lng = to_wgs84(command.lat, command.lng, command.crs)
    centre = _covering_centre(session, lat, lng)
    incident = _new_incident(
        session,
        source="venue",
        centre_id=centre.id if centre else None,
        organisation_id=venue.id,
        kind=command.kind,
        lat=lat,
        lng=lng,
        address=command.address,
        notes=command.notes,
        reporter_person_id=actor.person_id,
    )
    audit.record(session, actor, "emergency.incident.venue", "emergency_incident", incident.id)
    begin_alerting(session, incident)
    return incident
