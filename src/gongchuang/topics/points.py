"""Events of the village points module."""

from __future__ import annotations

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class RecordApproved(Event):
    """A record passed its last approval level and went onto a public notice."""

    topic = "points.record.approved"
    label = N_("A points record was approved")

    record_id: int
    village_id: int
    notice_id: int
    organisation_id: int  # the village, for its webhooks


class NoticeSettled(Event):
    topic = "points.notice.settled"
    label = N_("A public notice was settled into balances")

    notice_id: int
    village_id: int
    organisation_id: int


class ObjectionDecided(Event):
    topic = "points.objection.decided"
    label = N_("An objection was decided")

    objection_id: int
    record_id: int
    upheld: bool
    organisation_id: int
