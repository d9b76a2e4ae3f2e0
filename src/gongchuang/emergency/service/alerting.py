"""Alerting: waves of responders matched to an incident, their answers and progress, the
ambulance's arrival and the close. Every change of an incident's status, waves and alerts
happens under its row lock (`_lock_incident`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import get_args

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongchuang.core import audit, credentials, jobs, live, notifications
from gongchuang.core.clock import utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, translatable
from gongchuang.core.permissions import Principal
from gongchuang.emergency import matching
from gongchuang.emergency.models import (
    AcceptStat,
    Aed,
    Alert,
    AlertStatus,
    Incident,
    IncidentStatus,
    Responder,
    ResponderStatus,
    Route,
)
from gongchuang.emergency.schemas import (
    KINDS,
    AlertAnswer,
    EtaIn,
    OutcomeIn,
    ProgressIn,
    ProgressStep,
)
from gongchuang.emergency.service._common import (
    FIRST_AID,
    _lock_incident,
    _publish_status,
    _shanghai,
    _timeline,
    incident_of,
    to_wgs84,
)
from gongchuang.emergency.service.access import can_dispatch
from gongchuang.emergency.service.aeds import aeds_to_send_for, worth_sending_for
from gongchuang.emergency.service.policy import policy_for

log = logging.getLogger(__name__)
# An on-duty location older than this is not trusted for matching; the phone refreshes it.
LOCATION_FRESH = timedelta(minutes=30)
# Waves keep coming (while too few accepted and the cap is not reached) for about 7 minutes.
MAX_WAVES = 10


def begin_alerting(session: Session, incident: Incident) -> bool:
    """Start alerting now, and leave a durable job that will do it if this attempt fails.
    False when alerting had already started (or the incident was closed) meanwhile."""
    if incident.status != IncidentStatus.logged:
        return False
    policy, _ = policy_for(session, incident.region_id)
    values = {
        "status": IncidentStatus.alerting,
        "alerting_at": utcnow(),
        "policy": policy.as_dict(),
    }
    # Conditional, so that a double tap starts one first wave: the second waits for the
    # first to commit and then matches no row. The row stays locked while the wave is sent.
    started = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.logged)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(started, "rowcount", 0):
        session.refresh(incident)
        return False
    for name, value in values.items():
        set_committed_value(incident, name, value)
    jobs.enqueue(session, "emergency.alert_wave", {"incident_id": incident.id, "wave": 1})
    try:
        with session.begin_nested():
            send_wave(session, incident, 1)
    except Exception:
        log.exception("first wave of incident %s failed; the job retries", incident.id)
    return True


def start_alerting(session: Session, actor: Principal, incident: Incident) -> None:
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    if not begin_alerting(session, incident):
        if incident.status in (IncidentStatus.closed, IncidentStatus.cancelled):
            raise Conflict(N_("This incident is already closed"))
        raise Conflict(N_("Alerting has already started for this incident"))
    audit.record(
        session, actor, "emergency.incident.start_alerting", "emergency_incident", incident.id
    )


def incident_policy(incident: Incident) -> matching.Policy:
    return matching.Policy(
        **{k: v for k, v in (incident.policy or {}).items() if k in matching.POLICY_FIELDS}
    )


def _busy_person_ids(session: Session, person_ids: list[int], incident_id: int) -> set[int]:
    if not person_ids:
        return set()
    return set(
        session.scalars(
            select(Alert.person_id)
            .join(Incident, Incident.id == Alert.incident_id)
            .where(
                Alert.person_id.in_(person_ids),
                Alert.status == AlertStatus.accepted,
                Incident.status == IncidentStatus.alerting,
                Incident.id != incident_id,
            )
        )
    )


def candidates_near(
    session: Session, incident: Incident, policy: matching.Policy
) -> matching.Candidates:
    """On-duty responders near the incident with a fresh location, a valid first-aid
    credential, not engaged at another incident; with their chance of accepting now."""
    rows = list(
        session.execute(
            select(Responder.person_id, Responder.lat, Responder.lng).where(
                Responder.duty_cell.in_(
                    matching.cells_around(incident.lat, incident.lng, policy.radius_m)
                ),
                Responder.status == ResponderStatus.active,
                Responder.located_at > utcnow() - LOCATION_FRESH,
            )
        )
    )
    ids = [int(r[0]) for r in rows]
    allowed = credentials.holders(session, FIRST_AID, ids) - _busy_person_ids(
        session, ids, incident.id
    )
    if incident.reporter_person_id is not None:
        allowed.discard(incident.reporter_person_id)
    located: list[tuple[int, float, float]] = [
        (pid, float(lat), float(lng))
        for pid, lat, lng in rows
        if pid in allowed and lat is not None and lng is not None
    ]
    hour = _shanghai(utcnow()).hour
    chances = {
        person_id: matching.likelihood_from_counts(alerted, accepted)
        for person_id, alerted, accepted in session.execute(
            select(AcceptStat.person_id, AcceptStat.alerted, AcceptStat.accepted).where(
                AcceptStat.person_id.in_([r[0] for r in located]), AcceptStat.hour == hour
            )
        )
    }
    return matching.Candidates.of(located, chances)


def _count_stat(
    session: Session, person_ids: list[int], *, alerted: int = 0, accepted: int = 0
) -> None:
    if not person_ids:
        return
    hour = _shanghai(utcnow()).hour
    statement = upsert(session, AcceptStat).values(
        [
            {"person_id": p, "hour": hour, "alerted": alerted, "accepted": accepted}
            for p in sorted(set(person_ids))
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["person_id", "hour"],
            set_={
                "alerted": AcceptStat.alerted + alerted,
                "accepted": AcceptStat.accepted + accepted,
            },
        )
    )


def send_wave(session: Session, incident: Incident, wave: int, count: int | None = None) -> int:
    """Alert the next responders. `count` defaults to a wave's size (within the total cap).

    The caller holds the incident's row lock (`_lock_incident`, or the update that started
    alerting): the alerts counted here are still all there are when the new ones go in."""
    policy = incident_policy(incident)
    existing = list(session.scalars(select(Alert).where(Alert.incident_id == incident.id)))
    before = matching.AlreadyAlerted(
        person_ids={a.person_id for a in existing},
        aed_ids={a.aed_id for a in existing if a.aed_id and a.status != AlertStatus.declined},
        total=sum(1 for a in existing if a.status != AlertStatus.declined),
        via_aed=sum(
            1 for a in existing if a.route == Route.via_aed and a.status != AlertStatus.declined
        ),
    )
    room = policy.max_responders - before.total
    wanted = min(policy.wave_size if count is None else count, room)
    if wanted <= 0:
        return 0
    now = utcnow()
    aeds = aeds_to_send_for(session, incident.lat, incident.lng, policy.radius_m * 1.5, now)
    plans = matching.plan(
        incident.lat,
        incident.lng,
        candidates_near(session, incident, policy),
        matching.AedSites.of((a.id, a.lat, a.lng, known) for a, known in aeds),
        policy,
        count=wanted,
        before=before,
    )
    if not plans:
        _timeline(session, incident, "no_candidates", wave=wave)
        if count is None and wave < MAX_WAVES:
            # Nobody yet: someone may come on duty nearby in the next minute, so keep looking.
            incident.wave = max(incident.wave, wave)
            jobs.enqueue(
                session,
                "emergency.alert_wave",
                {"incident_id": incident.id, "wave": wave + 1},
                run_at=utcnow() + timedelta(seconds=policy.wave_interval_s),
            )
        return 0
    alerts = [
        Alert(
            incident_id=incident.id,
            person_id=p.person_id,
            wave=wave,
            route=p.route,
            aed_id=p.aed_id,
            walk_m=p.walk_m,
            eta_s=p.eta_s,
            accept_likelihood=round(p.likelihood, 3),
            sent_at=now,
        )
        for p in plans
    ]
    session.add_all(alerts)
    session.flush()
    _count_stat(session, [a.person_id for a in alerts], alerted=1)
    label = KINDS.get(incident.kind, KINDS["other"])
    for alert in alerts:
        notifications.notify(
            session,
            alert.person_id,
            kind="emergency.alert",
            title=N_("Emergency nearby: %(kind)s"),
            body=N_("%(address)s, about %(minutes)s min on foot. Can you help?"),
            params={
                "kind": translatable(label),
                "address": incident.address or "",
                "minutes": max(1, round(alert.eta_s / 60)),
            },
            link=f"/emergency/alerts/{alert.id}",
            channels=("push", "sms"),
        )
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    incident.wave = max(incident.wave, wave)
    _timeline(
        session,
        incident,
        "wave",
        wave=wave,
        alerted=len(alerts),
        via_aed=sum(1 for a in alerts if a.route == Route.via_aed),
    )
    if count is None and before.total + len(alerts) < policy.max_responders and wave < MAX_WAVES:
        jobs.enqueue(
            session,
            "emergency.alert_wave",
            {"incident_id": incident.id, "wave": wave + 1},
            run_at=now + timedelta(seconds=policy.wave_interval_s),
        )
    _publish_status(session, incident, "alerting")
    return len(alerts)


def next_wave(session: Session, incident_id: int, wave: int) -> int:
    """The durable job: wave 1 if the first attempt failed; later waves if too few accepted."""
    incident = _lock_incident(session, incident_id)
    if incident is None or incident.status != IncidentStatus.alerting:
        return 0
    if wave == 1:
        if incident.wave >= 1:
            return 0
        return send_wave(session, incident, 1)
    if incident.wave != wave - 1:
        return 0  # this wave was already sent (a retried job)
    accepted = (
        session.scalar(
            select(func.count(Alert.id)).where(
                Alert.incident_id == incident.id, Alert.status == AlertStatus.accepted
            )
        )
        or 0
    )
    if accepted >= incident_policy(incident).target_accepted:
        _timeline(session, incident, "enough_accepted", accepted=accepted)
        return 0
    return send_wave(session, incident, wave)


def get_alert_for(
    session: Session, actor: Principal, alert_id: int, *, record: bool = False
) -> Alert:
    """The responder's own alert; `record` writes the look at the incident to the audit chain."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.person_id != actor.person_id:
        raise NotFound()
    if record:
        audit.record(session, actor, "emergency.alert.view", "emergency_alert", alert.id)
    return alert


def _open_incident(session: Session, alert: Alert, *, lock: bool = False) -> Incident:
    incident = _lock_incident(session, alert.incident_id) if lock else incident_of(session, alert)
    if incident is None:
        raise LookupError(f"alert {alert.id}: incident {alert.incident_id} is gone")
    if incident.status != IncidentStatus.alerting:
        raise Conflict(N_("This incident is already closed; thank you"))
    return incident


def answer(session: Session, actor: Principal, alert_id: int, command: AlertAnswer) -> Alert:
    accept = command.accept
    alert = get_alert_for(session, actor, alert_id)
    # Under the incident's lock, so that an answer and the close (or a wave) come one after
    # the other: an accept never lands on an incident closed meanwhile. The alert is read
    # again under it, so a double tap that waited sees the first tap's answer.
    incident = _open_incident(session, alert, lock=True)
    session.refresh(alert)
    wanted = AlertStatus.accepted if accept else AlertStatus.declined
    if alert.status == wanted:
        return alert
    if alert.status not in (AlertStatus.sent, AlertStatus.declined) or (
        alert.status == AlertStatus.declined and not accept
    ):
        raise Conflict(N_("You have already answered this alert"))
    if accept and _busy_person_ids(session, [alert.person_id], incident.id):
        raise Conflict(N_("You are already helping at another incident"))
    # Conditional so that a double tap, or two devices, answer once. Two alerts of other
    # incidents accepted at the same moment both pass the check above: the unique index on
    # accepted alerts lets one stand.
    try:
        with session.begin_nested():
            result = session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.status == alert.status)
                .values(status=wanted, answered_at=utcnow())
            )
    except IntegrityError:
        raise Conflict(N_("You are already helping at another incident")) from None
    if not getattr(result, "rowcount", 0):
        raise Conflict(N_("You have already answered this alert"))
    session.refresh(alert)
    if accept:
        _count_stat(session, [alert.person_id], accepted=1)
        if (
            alert.route == Route.via_aed
            and alert.aed_id
            and not _aed_still_usable(session, alert.aed_id)
        ):
            alert.route, alert.aed_id = Route.direct, None
    _timeline(
        session,
        incident,
        "accepted" if accept else "declined",
        alert.person_id,
        alert_id=alert.id,
        route=alert.route,
    )
    if not accept:
        # The place passes to the next candidate, who may take this alert's AED (a declined
        # alert keeps its AED on record but no longer holds it). The decline stands even if
        # passing it on fails; the wave job carries on.
        try:
            with session.begin_nested():
                send_wave(session, incident, max(incident.wave, 1), count=1)
        except IntegrityError:
            log.exception("incident %s: the place of a decline was not passed on", incident.id)
    _publish_status(session, incident, "responder_accepted" if accept else "responder_declined")
    return alert


def _aed_still_usable(session: Session, aed_id: int) -> bool:
    aed = session.get(Aed, aed_id)
    return aed is not None and worth_sending_for(aed, utcnow()) is not None


STEPS: tuple[str, ...] = get_args(ProgressStep)


def progress(session: Session, actor: Principal, alert_id: int, command: ProgressIn) -> Alert:
    step = command.step
    alert = get_alert_for(session, actor, alert_id)
    incident = _open_incident(session, alert)
    if alert.status != AlertStatus.accepted:
        raise Conflict(N_("Accept the alert first"))
    if step == "at_aed" and alert.route != Route.via_aed:
        raise InvalidInput(N_("You were not asked to fetch an AED"))
    column = f"{step}_at"
    if getattr(alert, column) is None:
        setattr(alert, column, utcnow())
        _timeline(session, incident, step, alert.person_id, alert_id=alert.id, aed_id=alert.aed_id)
        _publish_status(session, incident, step)
    return alert


def report_position(
    session: Session, actor: Principal, alert_id: int, point: tuple[float, float, str]
) -> Alert:
    alert = get_alert_for(session, actor, alert_id)
    incident = _open_incident(session, alert)
    if alert.status != AlertStatus.accepted:
        raise Conflict(N_("Accept the alert first"))
    alert.lat, alert.lng = to_wgs84(*point)
    alert.located_at = utcnow()
    live.announce(session, f"incident:{incident.id}", "changed", {"kind": "position"})
    return alert


def set_ambulance_eta(
    session: Session, actor: Principal, incident: Incident, command: EtaIn
) -> None:
    minutes = command.minutes
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    _lock_incident(session, incident.id)  # refreshes `incident`, the session's own copy
    if incident.status not in (IncidentStatus.logged, IncidentStatus.alerting):
        raise Conflict(N_("This incident is already closed"))
    incident.ambulance_eta_at = utcnow() + timedelta(minutes=minutes)
    _timeline(session, incident, "ambulance_eta", actor.person_id, minutes=minutes)
    audit.record(
        session,
        actor,
        "emergency.incident.eta",
        "emergency_incident",
        incident.id,
        after={"minutes": minutes},
    )
    for alert in session.scalars(
        select(Alert).where(Alert.incident_id == incident.id, Alert.status == AlertStatus.accepted)
    ):
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    _publish_status(session, incident, "ambulance_eta")


def close(session: Session, actor: Principal, incident: Incident, outcome: OutcomeIn) -> None:
    if not can_dispatch(session, actor, incident):
        raise NotFound()
    # Every answer and wave of the incident waits for this close, or went before it: the
    # alerts read below are all there are, in their final statuses.
    _lock_incident(session, incident.id)  # refreshes `incident`, the session's own copy
    if incident.status in (IncidentStatus.closed, IncidentStatus.cancelled):
        raise Conflict(N_("This incident is already closed"))
    if outcome.shock_delivered and not outcome.aed_applied:
        raise InvalidInput(
            N_("A shock can only be delivered when an AED was applied"),
            errors=[{"field": "shock_delivered", "message": N_("only when an AED was applied")}],
        )
    incident.status = IncidentStatus.cancelled if outcome.cancelled else IncidentStatus.closed
    incident.closed_at = utcnow()
    incident.outcome = outcome.model_dump()
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.incident_id == incident.id)
            .execution_options(populate_existing=True)
        )
    )
    for alert in alerts:
        if alert.status == AlertStatus.sent:
            alert.status = AlertStatus.withdrawn
        elif alert.status == AlertStatus.accepted:
            alert.status = AlertStatus.released
            notifications.notify(
                session,
                alert.person_id,
                kind="emergency.closed",
                title=N_("The incident is closed. Thank you for helping."),
                link=f"/emergency/alerts/{alert.id}",
            )
        live.announce(
            session, f"person:{alert.person_id}", "emergency_alert", {"alert_id": alert.id}
        )
    _timeline(
        session,
        incident,
        str(incident.status),
        actor.person_id,
        **{k: v for k, v in incident.outcome.items() if k != "note"},
    )
    audit.record(
        session,
        actor,
        "emergency.incident.close",
        "emergency_incident",
        incident.id,
        after=incident.outcome,
    )
    _publish_status(session, incident, str(incident.status))
