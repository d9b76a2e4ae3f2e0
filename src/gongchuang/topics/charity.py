"""Events of the charity module."""

from __future__ import annotations

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class DonationReceived(Event):
    topic = "charity.donation_received"
    label = N_("A donation to a project or a community fund was received")

    organisation_id: int
    project_id: int | None
    fund_id: int | None
    donation_code: str
    amount_fen: int


class MatchFrozen(Event):
    topic = "charity.match_frozen"
    label = N_("A match was held for review by the anti-gaming rules")

    pot_id: int
    match_id: int
    project_id: int
    amount_fen: int
    signals: list[str]


class MatchReviewed(Event):
    topic = "charity.match_reviewed"
    label = N_("A reviewer released a held match or clawed one back")

    pot_id: int
    match_id: int
    project_id: int
    amount_fen: int
    decision: str


class GrantMade(Event):
    topic = "charity.grant_made"
    label = N_("A community fund granted money to a community organisation")

    fund_id: int
    proposal_id: int
    organisation_id: int
    amount_fen: int
