"""Notifications: an in-app inbox, live delivery over SSE, and outside channels (SMS ...).

Title and body are message ids with parameters, rendered in the reader's language when shown.
Outside channels are sent by a durable job after commit, and every attempt is recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import jobs, live
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import gettext, shown_param
from gongchuang.core.models import Job, Notification, NotificationDelivery, Person

log = logging.getLogger(__name__)


class Channel(Protocol):
    """An outside way to reach a person. `send` raises to have the job retried."""

    name: str

    def send(
        self, session: Session, person: Person, title: str, body: str, link: str | None
    ) -> str: ...


class LogSmsGateway:
    """Development SMS gateway: writes the message to the log instead of a carrier. A real
    deployment registers its carrier's gateway with `register_channel`."""

    name = "sms"
    # One line a minute says how many were "sent"; each message is at debug level (the demo's
    # backlog would otherwise flood the log at start-up with hundreds of lines).
    SUMMARY_EVERY_S = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unreported = 0
        self._last_summary = 0.0

    def send(
        self, session: Session, person: Person, title: str, body: str, link: str | None
    ) -> str:
        log.debug("SMS to %s: %s %s", person.phone[:3] + "****", title, body)
        with self._lock:
            self._unreported += 1
            now = time.monotonic()
            if now - self._last_summary >= self.SUMMARY_EVERY_S:
                log.info(
                    "%d SMS written to the log, not sent: no SMS carrier is configured "
                    "(each message at debug level)",
                    self._unreported,
                )
                self._unreported, self._last_summary = 0, now
        return "logged (no SMS carrier configured)"


_channels: dict[str, Channel] = {}


def register_channel(channel: Channel) -> None:
    _channels[channel.name] = channel


if get_settings().sms_gateway == "log":
    register_channel(LogSmsGateway())


def render(notification: Notification) -> tuple[str, str]:
    params = {key: shown_param(value) for key, value in (notification.params or {}).items()}
    return gettext(notification.title, **params), gettext(notification.body, **params)


def notify(
    session: Session,
    person_id: int,
    *,
    kind: str,
    title: str,
    body: str = "",
    params: dict[str, Any] | None = None,
    link: str | None = None,
    channels: tuple[str, ...] = (),
) -> Notification:
    notification = Notification(
        person_id=person_id, kind=kind, title=title, body=body, params=params or {}, link=link
    )
    session.add(notification)
    session.flush()
    live.announce(
        session, f"person:{person_id}", "notification", {"id": notification.id, "kind": kind}
    )
    for channel in channels:
        jobs.enqueue(
            session,
            "notification.deliver",
            {"notification_id": notification.id, "channel": channel},
        )
    return notification


@jobs.job_handler("notification.deliver")
def _deliver(session: Session, job: Job) -> None:
    notification = session.get(Notification, job.payload["notification_id"])
    channel = _channels.get(job.payload["channel"])
    if notification is None:
        return
    person = session.get(Person, notification.person_id)
    if channel is None or person is None:
        session.add(
            NotificationDelivery(
                notification_id=notification.id,
                channel=job.payload["channel"],
                status="skipped",
                detail="channel not configured",
            )
        )
        return
    title, body = render(notification)
    detail = channel.send(session, person, title, body, notification.link)
    session.add(
        NotificationDelivery(
            notification_id=notification.id, channel=channel.name, status="sent", detail=detail
        )
    )


def inbox(
    session: Session, person_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[Notification]:
    query = select(Notification).where(Notification.person_id == person_id)
    if before_id:
        query = query.where(Notification.id < before_id)
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(session: Session, person_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.person_id == person_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(session: Session, person_id: int, notification_id: int | None = None) -> int:
    """Mark one notification (or all) read. Someone else's notification is NotFound."""
    query = update(Notification).where(
        Notification.person_id == person_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        if (
            session.scalar(select(Notification.person_id).where(Notification.id == notification_id))
            != person_id
        ):
            raise NotFound()
        query = query.where(Notification.id == notification_id)
    result = session.execute(query.values(read_at=utcnow()))
    live.announce(session, f"person:{person_id}", "read", {"id": notification_id})
    return int(getattr(result, "rowcount", 0) or 0)
