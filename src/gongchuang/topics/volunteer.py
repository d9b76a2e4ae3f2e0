"""Events of the volunteer service module."""

from __future__ import annotations

from datetime import date

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class HoursVerified(Event):
    """An organiser confirmed a volunteer's service: villages turn it into points."""

    topic = "volunteer.hours_verified"
    label = N_("A volunteer's service hours were verified")

    person_id: int
    organisation_id: int
    signup_id: int
    minutes: int
    served_on: date  # the shift's day in China
    verified_by: int | None  # None when the platform closed the shift itself


class ActivityCancelled(Event):
    topic = "volunteer.activity_cancelled"
    label = N_("A volunteer activity was cancelled")

    activity_id: int
    told: int  # volunteers told
    organisation_id: int


class ResponderInvited(Event):
    """An organisation asked one of its first-aid volunteers to join the responder network:
    the emergency module lets the volunteer decide, with consent."""

    topic = "volunteer.responder_invited"
    label = N_("A first-aider was invited into the responder network")

    person_id: int
    organisation_id: int
