"""Events of the cloud adoption module."""

from __future__ import annotations

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class AdoptionAllocated(Event):
    topic = "adoption.allocated"
    label = N_("An adoption was paid and its units allocated")

    organisation_id: int
    offering_id: int
    order_code: str
    units: int
    amount_fen: int


class DiaryPosted(Event):
    topic = "adoption.diary_posted"
    label = N_("A farm posted in a season's growth diary")

    organisation_id: int
    offering_id: int
    post_id: int


class HarvestRecorded(Event):
    topic = "adoption.harvest_recorded"
    label = N_("A season's harvest was recorded and shared out")

    organisation_id: int
    offering_id: int
    total_g: int


class LedgerEntryRecorded(Event):
    topic = "adoption.ledger_entry_recorded"
    label = N_("A cost or a distribution was written in a village's adoption ledger")

    organisation_id: int
    farm_id: int
    kind: str
    amount_fen: int
