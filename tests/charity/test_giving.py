"""Giving and matching through the service, on either database: the pot, the caps, the
window, one match per donor and project, screening and review, refunds, quadratic funding,
monthly giving. Every refusal leaves the pot, the counters and the ledger as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    Campaign,
    Donation,
    DonationStatus,
    LedgerEntry,
    Match,
    MatchStatus,
    PotShard,
    Project,
    RecurringGift,
)
from gongchuang.charity.schemas import (
    ClawBackIn,
    DonateIn,
    RecurringIn,
    RefundDonationIn,
    ReviewIn,
)
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.permissions import SYSTEM
from tests.charity.giving import Giving, build_giving, give, pay, quadratic_pot
from tests.support.principals import acting
from tests.support.world import World, make_person


def left_in_pot(session: Session, pot_id: int) -> int:
    return int(
        session.scalar(select(func.sum(PotShard.remaining_fen)).where(PotShard.pot_id == pot_id))
        or 0
    )


def ledger_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def project_of(session: Session, giving: Giving) -> Project:
    session.refresh(giving.project)
    return giving.project


@pytest.fixture
def giving(session: Session, world: World) -> Giving:
    return build_giving(session, world)


def test_a_paid_donation_is_the_projects_and_is_matched_one_to_one(
    session: Session, giving: Giving
) -> None:
    donation = give(session, giving.donors[0], giving.project, 5_000)
    assert donation.status == DonationStatus.paid
    [match] = service.matches_of_donation(session, donation.id)
    assert (match.amount_fen, match.ratio_pct, match.status) == (5_000, 100, "credited")
    project = project_of(session, giving)
    assert (project.raised_fen, project.matched_fen, project.donors_count) == (5_000, 5_000, 1)
    assert left_in_pot(session, giving.pot.id) == 1_000_000 - 5_000
    # Two movements, each a balanced pair: donors → project, pot → project.
    assert ledger_rows(session) == 4
    assert service.unbalanced_movements(session) == []
    account = service.balance(session, service.project_account(project.id))
    assert account.balance_fen == 10_000


def test_one_match_per_donor_per_project(session: Session, giving: Giving) -> None:
    give(session, giving.donors[0], giving.project, 1_000)
    second = give(session, giving.donors[0], giving.project, 2_000)
    assert service.matches_of_donation(session, second.id) == []
    assert project_of(session, giving).matched_fen == 1_000


def test_below_the_pots_minimum_nothing_is_matched(session: Session, giving: Giving) -> None:
    donation = give(session, giving.donors[0], giving.project, 99)  # the pot's minimum is ¥1
    assert service.matches_of_donation(session, donation.id) == []
    assert left_in_pot(session, giving.pot.id) == 1_000_000


@pytest.mark.parametrize("amount", [0, -1, 5_000_001])
def test_a_donation_out_of_bounds_is_refused_before_anything(amount: int) -> None:
    with pytest.raises(ValidationError):
        DonateIn(amount_fen=amount)


def test_caps_per_donor_per_day_and_per_project_hold(session: Session, world: World) -> None:
    giving = build_giving(session, world, cap_donor_day_fen=3_000, cap_project_fen=5_000)
    first = give(session, giving.donors[0], giving.project, 10_000)
    assert service.matches_of_donation(session, first.id)[0].amount_fen == 3_000
    second = give(session, giving.donors[1], giving.project, 10_000)
    # The project's cap has 2,000 left of 5,000: the match is pro-rated to it.
    assert service.matches_of_donation(session, second.id)[0].amount_fen == 2_000
    third = give(session, giving.donors[2], giving.project, 10_000)
    assert service.matches_of_donation(session, third.id) == []
    assert project_of(session, giving).matched_fen == 5_000


def test_a_pot_running_short_gives_what_it_has_and_no_more(session: Session, world: World) -> None:
    giving = build_giving(session, world, total_fen=1_600)  # 100 fen in each of 16 slices
    first = give(session, giving.donors[0], giving.project, 1_000)
    assert service.matches_of_donation(session, first.id)[0].amount_fen == 1_000
    second = give(session, giving.donors[1], giving.project, 1_000)
    assert service.matches_of_donation(session, second.id)[0].amount_fen == 600
    third = give(session, giving.donors[2], giving.project, 1_000)
    assert service.matches_of_donation(session, third.id) == []
    assert left_in_pot(session, giving.pot.id) == 0


def test_a_donation_paid_after_the_window_is_not_matched(session: Session, giving: Giving) -> None:
    donation = service.donate(
        session, acting(giving.donors[0]), giving.project.id, DonateIn(amount_fen=1_000)
    )
    campaign = session.get(Campaign, giving.campaign.id)
    assert campaign is not None
    campaign.ends_at = utcnow() - timedelta(seconds=1)
    session.flush()
    pay(session, donation)
    assert donation.status == DonationStatus.paid
    assert service.matches_of_donation(session, donation.id) == []
    assert left_in_pot(session, giving.pot.id) == 1_000_000


def test_random_ratios_stay_in_range_and_can_be_recomputed(session: Session, world: World) -> None:
    from gongchuang.charity.service.matching import terms_of
    from gongchuang.charity.service.rules import match_draw, ratio_pct

    giving = build_giving(session, world, rule="random", ratio_min_pct=10, ratio_max_pct=200)
    for donor in giving.donors:
        donation = give(session, donor, giving.project, 10_000)
        [match] = service.matches_of_donation(session, donation.id)
        assert 10 <= match.ratio_pct <= 200
        assert match.amount_fen == 10_000 * match.ratio_pct // 100
        # An auditor holding the pot's secret gets the same ratio.
        pot = giving.pot
        assert ratio_pct(terms_of(pot), match_draw(pot.secret, donation.id)) == match.ratio_pct


def test_a_tiny_gift_from_a_new_account_is_held_then_released_by_a_reviewer(
    session: Session, giving: Giving
) -> None:
    newcomer = make_person(session, "13811112222", "新用户")
    donation = give(session, newcomer, giving.project, 100)
    [match] = service.matches_of_donation(session, donation.id)
    assert match.status == MatchStatus.frozen
    assert match.signals == ["tiny_from_new_account"]
    assert project_of(session, giving).matched_fen == 0
    assert left_in_pot(session, giving.pot.id) == 1_000_000 - 100  # held from the pot
    assert service.matches_to_review(session, acting(giving.reviewer)) == [match]
    # Not the charity's staff: a reviewer of the campaign's organisation.
    with pytest.raises(NotFound):
        service.review(session, acting(giving.staff), match.id, ReviewIn(decision="release"))
    service.review(session, acting(giving.reviewer), match.id, ReviewIn(decision="release"))
    assert match.status == MatchStatus.credited
    assert project_of(session, giving).matched_fen == 100
    with pytest.raises(Conflict):
        service.review(session, acting(giving.reviewer), match.id, ReviewIn(decision="release"))


def test_a_burst_from_one_device_is_held_and_clawed_back_to_the_pot(
    session: Session, giving: Giving
) -> None:
    phone = service.DonationOrigin(device="same-phone", address="10.0.0.7")
    donors = [make_person(session, f"1381000{i:04d}", f"刷单{i}") for i in range(7)]
    for donor in donors:
        donor.created_at = utcnow() - timedelta(days=60)
    matches = []
    for donor in donors:
        donation = give(session, donor, giving.project, 500, origin=phone)
        matches += service.matches_of_donation(session, donation.id)
    frozen = [m for m in matches if m.status == MatchStatus.frozen]
    assert len(frozen) == 2  # the 6th and 7th from the same device within ten minutes
    assert "burst_from_one_device" in frozen[0].signals
    before = left_in_pot(session, giving.pot.id)
    service.review(
        session,
        acting(giving.reviewer),
        frozen[0].id,
        ReviewIn(decision="claw_back", note="同一设备刷单"),
    )
    assert frozen[0].status == MatchStatus.clawed_back
    assert left_in_pot(session, giving.pot.id) == before + frozen[0].amount_fen


def test_a_refund_takes_back_the_match_and_the_next_one_is_held(
    session: Session, giving: Giving
) -> None:
    donor = giving.donors[0]
    donation = give(session, donor, giving.project, 2_000)
    service.refund_donation(
        session, acting(giving.staff), donation.code, RefundDonationIn(reason="捐赠人申请退款")
    )
    assert donation.status == DonationStatus.refunded
    [match] = service.matches_of_donation(session, donation.id)
    assert match.status == MatchStatus.clawed_back
    project = project_of(session, giving)
    assert (project.raised_fen, project.matched_fen) == (0, 0)
    assert left_in_pot(session, giving.pot.id) == 1_000_000
    assert service.unbalanced_movements(session) == []
    assert service.balance(session, service.project_account(project.id)).balance_fen == 0
    # The same donor and project cannot be matched again by this pot (one match each); on
    # another project of the campaign the refund-after-match signal holds the match.
    other = service.create_project(
        session,
        acting(giving.staff),
        giving.charity.id,
        _project_in(giving),
    )
    service.set_project_status(session, acting(giving.staff), other.id, service_status("open"))
    service.enrol(session, acting(giving.staff), giving.campaign.id, other.id)
    again = give(session, donor, other, 2_000)
    [held] = service.matches_of_donation(session, again.id)
    assert held.status == MatchStatus.frozen
    assert held.signals == ["refund_after_match"]


def _project_in(giving: Giving):  # type: ignore[no-untyped-def]
    from gongchuang.charity.schemas import BudgetLineIn, ProjectIn

    return ProjectIn(
        title="留守儿童图书角",
        region_id=giving.project.region_id,
        goal_fen=100_000,
        budget_lines=[BudgetLineIn(name="图书", budget_fen=100_000)],
    )


def service_status(status: str):  # type: ignore[no-untyped-def]
    from gongchuang.charity.schemas import ProjectStatusIn

    return ProjectStatusIn(status=status)  # type: ignore[arg-type]


def test_a_claw_back_after_audit_writes_a_reversing_entry(session: Session, giving: Giving) -> None:
    donation = give(session, giving.donors[0], giving.project, 3_000)
    [match] = service.matches_of_donation(session, donation.id)
    rows = ledger_rows(session)
    service.claw_back_after_audit(
        session, acting(giving.reviewer), match.id, ClawBackIn(note="审计发现异常账户")
    )
    assert match.status == MatchStatus.clawed_back
    assert ledger_rows(session) == rows + 2  # nothing edited: a movement the other way
    assert project_of(session, giving).matched_fen == 0
    assert left_in_pot(session, giving.pot.id) == 1_000_000


def test_a_donation_to_a_suspended_charity_or_closed_project_is_refused(
    session: Session, giving: Giving
) -> None:
    from gongchuang.charity.schemas import CertificationIn

    service.certify(session, SYSTEM, giving.charity.id, CertificationIn(certification="suspended"))
    with pytest.raises(Conflict):
        service.donate(
            session, acting(giving.donors[0]), giving.project.id, DonateIn(amount_fen=1_000)
        )
    assert session.scalar(select(func.count()).select_from(Donation)) == 0


def test_quadratic_funding_favours_many_small_donors(session: Session, world: World) -> None:
    giving = build_giving(session, world)
    campaign, pot = quadratic_pot(session, giving)
    other = service.create_project(
        session, acting(giving.staff), giving.charity.id, _project_in(giving)
    )
    service.set_project_status(session, acting(giving.staff), other.id, service_status("open"))
    service.enrol(session, acting(giving.staff), campaign.id, giving.project.id)
    service.enrol(session, acting(giving.staff), campaign.id, other.id)
    # The first project: three donors of ¥10; the other: one donor of ¥30 and one of ¥1.
    for donor in giving.donors[:3]:
        give(session, donor, giving.project, 1_000)
    give(session, giving.donors[3], other, 3_000)
    give(session, giving.reviewer, other, 100)
    with pytest.raises(Conflict):
        service.share_out(session, SYSTEM, pot.id)  # not before the campaign ends
    campaign.ends_at = utcnow() + timedelta(microseconds=1)
    session.flush()
    import time

    time.sleep(0.01)
    shares = service.share_out(session, SYSTEM, pot.id)
    assert sum(shares.values()) <= 10_000
    assert shares[giving.project.id] > shares.get(other.id, 0)
    with pytest.raises(Conflict):
        service.share_out(session, SYSTEM, pot.id)
    assert service.unbalanced_movements(session) == []


def test_monthly_giving_raises_a_donation_and_can_be_cancelled(
    session: Session, giving: Giving
) -> None:
    donor = acting(giving.donors[0])
    gift = service.start_recurring(
        session, donor, giving.project.id, RecurringIn(amount_fen=1_000, day_of_month=1)
    )
    with pytest.raises(Conflict):
        service.start_recurring(
            session, donor, giving.project.id, RecurringIn(amount_fen=500, day_of_month=2)
        )
    gift.next_due_on = gift.next_due_on - timedelta(days=40)
    session.flush()
    assert service.raise_due(session) == 1
    raised = session.scalar(select(Donation).where(Donation.recurring_gift_id == gift.id))
    assert raised is not None and raised.status == DonationStatus.pending
    assert gift.next_due_on > utcnow().date()
    assert service.raise_due(session) == 0  # not twice in a month
    service.cancel_recurring(session, donor, gift.id)
    with pytest.raises(Conflict):
        service.cancel_recurring(session, donor, gift.id)
    # Cancelled: a new monthly gift to the same project may start.
    service.start_recurring(
        session, donor, giving.project.id, RecurringIn(amount_fen=500, day_of_month=2)
    )
    assert session.scalar(select(func.count()).select_from(RecurringGift)) == 2


def test_unpaid_donations_are_closed_with_their_payments(session: Session, giving: Giving) -> None:
    from gongchuang.core.models import Payment

    donation = service.donate(
        session, acting(giving.donors[0]), giving.project.id, DonateIn(amount_fen=1_000)
    )
    payment = session.get(Payment, donation.payment_id)
    assert payment is not None
    payment.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    assert service.close_unpaid(session) == 1
    session.refresh(donation)
    assert donation.status == DonationStatus.closed
    assert session.scalar(select(func.count()).select_from(Match)) == 0


def test_a_suspended_charitys_monthly_gifts_end_and_none_start(
    session: Session, giving: Giving
) -> None:
    from gongchuang.charity.schemas import CertificationIn

    donor = acting(giving.donors[0])
    gift = service.start_recurring(
        session, donor, giving.project.id, RecurringIn(amount_fen=1_000, day_of_month=1)
    )
    service.certify(session, SYSTEM, giving.charity.id, CertificationIn(certification="suspended"))
    with pytest.raises(Conflict):
        service.start_recurring(
            session,
            acting(giving.donors[1]),
            giving.project.id,
            RecurringIn(amount_fen=500, day_of_month=2),
        )
    gift.next_due_on = gift.next_due_on - timedelta(days=40)
    session.flush()
    assert service.raise_due(session) == 0
    assert gift.cancelled_at is not None
    assert session.scalar(select(Donation).where(Donation.recurring_gift_id == gift.id)) is None
