"""The rules of adoption through the service: stock, payment, expiry, harvest, delivery,
complaints and the ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.adoption import service
from gongchuang.adoption.models import (
    AdoptionOrder,
    LedgerEntry,
    Offering,
    OrderStatus,
    OrderTransition,
)
from gongchuang.adoption.schemas import (
    AddressIn,
    AdoptIn,
    ComplaintIn,
    ComplaintResolutionIn,
    DiaryPostIn,
    HarvestIn,
    LedgerEntryIn,
    OfferingStatusIn,
    RefundIn,
    ShipmentIn,
)
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, GongchuangError, InvalidInput, NotFound
from gongchuang.core.models import Notification, Payment, Region
from tests.adoption.conftest import Farmland, adopt_and_pay, open_season
from tests.support.principals import acting
from tests.support.world import World


def counters(session: Session, offering: Offering) -> tuple[int, int]:
    session.refresh(offering)
    return offering.allocated_units, offering.reserved_units


def test_a_reservation_holds_stock_and_payment_allocates_it(
    session: Session, farmland: Farmland
) -> None:
    buyer = farmland.adopters[0]
    order = service.adopt(session, acting(buyer), farmland.offering.id, AdoptIn(units=100))
    assert order.status == OrderStatus.pending and order.amount_fen == 30_000
    assert counters(session, farmland.offering) == (0, 100)
    payment = session.get(Payment, order.payment_id)
    assert payment is not None and payment.amount_fen == 30_000
    payments.sandbox_pay(session, payment.out_trade_no, payer_id=buyer.id)
    session.refresh(order)
    assert order.status == OrderStatus.allocated
    assert counters(session, farmland.offering) == (100, 0)
    steps = session.scalars(
        select(OrderTransition.to_status)
        .where(OrderTransition.order_id == order.id)
        .order_by(OrderTransition.id)
    ).all()
    assert steps == ["pending", "paid", "allocated"]
    income = session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id)).all()
    assert [(e.kind, e.amount_fen) for e in income] == [("income", 30_000)]
    assert session.scalar(
        select(Notification).where(
            Notification.person_id == buyer.id, Notification.kind == "adoption.allocated"
        )
    )


def test_adopting_more_than_is_left_is_refused_and_changes_nothing(
    session: Session, world: World
) -> None:
    _, _, offering = open_season(session, world, total=100, max_units=100)
    adopt_and_pay(session, world.villager_a, offering, 90)
    orders_before = session.scalar(select(func.count(AdoptionOrder.id)))
    # A request's transaction is rolled back on a refusal: here, a savepoint's.
    with pytest.raises(Conflict) as refused, session.begin_nested():
        service.adopt(session, acting(world.outsider), offering.id, AdoptIn(units=11))
    assert "10" in str(refused.value)
    assert counters(session, offering) == (90, 0)
    assert session.scalar(select(func.count(AdoptionOrder.id))) == orders_before


@pytest.mark.parametrize(
    ("units", "field"), [(0, None), (501, "units")], ids=["zero", "over the most per order"]
)
def test_bad_quantities_are_refused(
    session: Session, farmland: Farmland, units: int, field: str | None
) -> None:
    buyer = acting(farmland.adopters[0])
    with pytest.raises((InvalidInput, ValueError)):
        service.adopt(session, buyer, farmland.offering.id, AdoptIn(units=units))
    assert counters(session, farmland.offering) == (0, 0)


def test_one_unpaid_adoption_per_person_and_season(session: Session, farmland: Farmland) -> None:
    buyer = acting(farmland.adopters[0])
    service.adopt(session, buyer, farmland.offering.id, AdoptIn(units=10))
    with pytest.raises(Conflict):
        service.adopt(session, buyer, farmland.offering.id, AdoptIn(units=10))
    assert counters(session, farmland.offering) == (0, 10)


def expire(session: Session, order: AdoptionOrder) -> None:
    session.execute(
        update(AdoptionOrder)
        .where(AdoptionOrder.id == order.id)
        .values(reserved_until=utcnow() - timedelta(seconds=1))
    )
    session.execute(
        update(Payment)
        .where(Payment.id == order.payment_id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )


def test_expired_reservations_release_stock_by_themselves(session: Session, world: World) -> None:
    _, _, offering = open_season(session, world, total=100, max_units=100)
    lapsed = service.adopt(session, acting(world.villager_a), offering.id, AdoptIn(units=100))
    expire(session, lapsed)
    # The next buyer needs the units: the lapsed reservation is released on the way.
    order = service.adopt(session, acting(world.outsider), offering.id, AdoptIn(units=60))
    assert order.status == OrderStatus.pending
    session.refresh(lapsed)
    assert lapsed.status == OrderStatus.expired and not lapsed.holds_reservation
    assert counters(session, offering) == (0, 60)
    assert session.get(Payment, lapsed.payment_id).status == "closed"  # type: ignore[union-attr]
    # The job releases what nobody needed.
    expire(session, order)
    assert service.release_expired(session) == 60
    assert counters(session, offering) == (0, 0)


def test_paying_an_expired_reservation_is_refused(session: Session, farmland: Farmland) -> None:
    buyer = farmland.adopters[0]
    order = service.adopt(session, acting(buyer), farmland.offering.id, AdoptIn(units=5))
    expire(session, order)
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    with pytest.raises(GongchuangError):
        payments.sandbox_pay(session, payment.out_trade_no, payer_id=buyer.id)
    with pytest.raises(Conflict):
        service.checkout(session, acting(buyer), order.code)
    session.refresh(order)
    assert order.status == OrderStatus.pending


def test_money_arriving_after_expiry_is_allocated_if_units_are_left(
    session: Session, farmland: Farmland
) -> None:
    """A real provider's notification can arrive after our reservation lapsed (the payer paid
    at the last second): the money is received, and the units given if any are left."""
    buyer = farmland.adopters[0]
    order = service.adopt(session, acting(buyer), farmland.offering.id, AdoptIn(units=5))
    expire(session, order)
    service.release_expired(session)
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    assert payments.handle_notification(session, "sandbox", headers, body) == payments.APPLIED
    session.refresh(order)
    assert order.status == OrderStatus.allocated
    assert counters(session, farmland.offering) == (5, 0)


def test_money_arriving_after_expiry_with_nothing_left_is_refunded(
    session: Session, world: World
) -> None:
    _, _, offering = open_season(session, world, total=10, max_units=10)
    late = service.adopt(session, acting(world.villager_a), offering.id, AdoptIn(units=10))
    expire(session, late)
    adopt_and_pay(session, world.outsider, offering, 10)
    payment = session.get(Payment, late.payment_id)
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    payments.handle_notification(session, "sandbox", headers, body)
    session.refresh(late)
    session.refresh(payment)
    assert late.status == OrderStatus.refunded
    assert payment.refunded_fen == payment.amount_fen
    assert counters(session, offering) == (10, 0)
    ledger = service.ledger(session, offering.farm_id)
    assert ledger.balance_fen == 10 * offering.price_fen


def test_a_forged_notification_changes_nothing(session: Session, farmland: Farmland) -> None:
    buyer = farmland.adopters[0]
    order = service.adopt(session, acting(buyer), farmland.offering.id, AdoptIn(units=5))
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    with pytest.raises(GongchuangError):
        payments.handle_notification(session, "sandbox", headers, body.replace(b"a", b"b", 1))
    wrong_amount = payments.sandbox_notification(session, payment, amount_fen=1)
    with pytest.raises(GongchuangError):
        payments.handle_notification(session, "sandbox", *wrong_amount)
    session.refresh(order)
    assert order.status == OrderStatus.pending
    assert counters(session, farmland.offering) == (0, 5)


def test_a_replayed_notification_is_applied_once(session: Session, farmland: Farmland) -> None:
    buyer = farmland.adopters[0]
    order = service.adopt(session, acting(buyer), farmland.offering.id, AdoptIn(units=5))
    payment = session.get(Payment, order.payment_id)
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    assert payments.handle_notification(session, "sandbox", headers, body) == payments.APPLIED
    assert payments.handle_notification(session, "sandbox", headers, body) == payments.DUPLICATE
    assert counters(session, farmland.offering) == (5, 0)
    assert service.ledger(session, farmland.farm.id).income_fen == 1500


def test_cancelling_gives_the_units_back(session: Session, farmland: Farmland) -> None:
    buyer = acting(farmland.adopters[0])
    order = service.adopt(session, buyer, farmland.offering.id, AdoptIn(units=50))
    service.cancel(session, buyer, order.code)
    assert order.status == OrderStatus.cancelled
    assert counters(session, farmland.offering) == (0, 0)
    with pytest.raises(NotFound):
        service.cancel(session, acting(farmland.adopters[1]), order.code)


def test_plots_get_the_lowest_free_numbers(session: Session, world: World) -> None:
    _, _, offering = open_season(
        session, world, total=10, sale_unit="plot", unit_area_m2=50, max_units=5
    )
    first = adopt_and_pay(session, world.villager_a, offering, 3)
    second = adopt_and_pay(session, world.outsider, offering, 2)
    assert first.plot_numbers == [1, 2, 3] and second.plot_numbers == [4, 5]
    service.refund_order(
        session,
        acting(world.cadre_a),
        first.code,
        RefundIn(amount_fen=first.amount_fen, reason="x"),
    )
    session.refresh(first)
    assert first.status == OrderStatus.refunded and first.plot_numbers == []
    third = adopt_and_pay(session, world.cadre_b, offering, 4)
    assert third.plot_numbers == [1, 2, 3, 6]


def test_a_refund_larger_than_paid_is_refused(session: Session, farmland: Farmland) -> None:
    order = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 10)
    cadre = acting(farmland.adopters[0])
    with pytest.raises(NotFound):  # not the farm's staff
        service.refund_order(session, cadre, order.code, RefundIn(amount_fen=100, reason="x"))
    with pytest.raises(GongchuangError):
        service.refund_order(
            session,
            acting_cadre(farmland),
            order.code,
            RefundIn(amount_fen=order.amount_fen + 1, reason="too much"),
        )
    assert service.refunded_fen(session, order) == 0


def acting_cadre(farmland: Farmland):  # type: ignore[no-untyped-def]
    from gongchuang.core.models import Person

    session = Session.object_session(farmland.farm)
    assert session is not None
    cadre = session.scalar(select(Person).where(Person.phone == "13700000001"))
    assert cadre is not None
    return acting(cadre)


@given(
    total=st.integers(0, 10**9),
    units=st.lists(st.integers(1, 10**6), min_size=1, max_size=50),
)
def test_harvest_shares_add_up_exactly_and_are_pro_rata(total: int, units: list[int]) -> None:
    keyed = list(enumerate(units))
    shares = service.share_out(total, keyed)
    assert sum(shares.values()) == total
    whole = sum(units)
    for key, u in keyed:
        exact = Decimal(total) * u / whole
        assert exact - 1 < shares[key] < exact + 1


def close_and_harvest(
    session: Session, farmland: Farmland, kg: str, remedy: str = "make_up"
) -> None:
    cadre = acting_cadre(farmland)
    service.set_offering_status(
        session, cadre, farmland.offering.id, OfferingStatusIn(status="closed")
    )
    service.record_harvest(
        session,
        cadre,
        farmland.offering.id,
        HarvestIn(total_kg=Decimal(kg), remedy=remedy),  # type: ignore[arg-type]
    )


def test_a_good_harvest_is_shared_pro_rata(session: Session, farmland: Farmland) -> None:
    a = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 100)
    b = adopt_and_pay(session, farmland.adopters[1], farmland.offering, 300)
    close_and_harvest(session, farmland, "1000")  # 2.5 kg/m², over the 0.5 kg guaranteed
    share_a = service.share_of(session, a.id)
    share_b = service.share_of(session, b.id)
    assert share_a and share_b
    assert (share_a.delivered_g, share_b.delivered_g) == (250_000, 750_000)
    assert share_a.made_up_g == share_b.made_up_g == 0
    session.refresh(a)
    assert a.status == OrderStatus.harvested


def test_a_shortfall_is_made_up_by_the_village(session: Session, farmland: Farmland) -> None:
    a = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 100)
    close_and_harvest(session, farmland, "20")  # 0.2 kg/m² against 0.5 guaranteed
    share = service.share_of(session, a.id)
    assert share is not None
    assert (share.share_g, share.guaranteed_g, share.delivered_g, share.made_up_g) == (
        20_000,
        50_000,
        50_000,
        30_000,
    )


def test_a_shortfall_can_be_credited_to_the_adopter(session: Session, farmland: Farmland) -> None:
    a = adopt_and_pay(session, farmland.adopters[0], farmland.offering, 100)
    close_and_harvest(session, farmland, "20", remedy="credit")
    share = service.share_of(session, a.id)
    assert share is not None
    assert share.delivered_g == 20_000 and share.credit_fen == 30_000 * 3 // 5
    assert service.refunded_fen(session, a) == share.credit_fen
    ledger = service.ledger(session, farmland.farm.id)
    assert ledger.refunds_fen == share.credit_fen
    assert ledger.balance_fen == 30_000 - share.credit_fen
    session.refresh(a)
    assert a.status == OrderStatus.harvested  # a partial refund keeps the order


def test_delivery_address_only_inside_the_service_area(
    session: Session, farmland: Farmland, world: World
) -> None:
    buyer = farmland.adopters[0]
    order = adopt_and_pay(session, buyer, farmland.offering, 10)
    elsewhere = session.scalar(select(Region).where(Region.code == "431321101201"))
    assert elsewhere is not None
    address = {
        "recipient_name": "张三",
        "recipient_phone": "13912345678",
        "address_line": "1号",
        "consent": True,
    }
    with pytest.raises(InvalidInput):
        service.set_address(
            session,
            acting(buyer),
            order.code,
            AddressIn(region_id=elsewhere.id, **address),  # type: ignore[arg-type]
        )
    assert order.address_region_id is None
    with pytest.raises(ValueError):
        AddressIn(region_id=world.village_a_region.id, **{**address, "consent": False})  # type: ignore[arg-type]
    service.set_address(
        session,
        acting(buyer),
        order.code,
        AddressIn(region_id=world.village_a_region.id, **address),  # type: ignore[arg-type]
    )
    assert order.address_region_id == world.village_a_region.id


def test_from_harvest_to_delivery_and_a_complaint(
    session: Session, farmland: Farmland, world: World
) -> None:
    buyer = farmland.adopters[0]
    order = adopt_and_pay(session, buyer, farmland.offering, 10)
    service.set_address(
        session,
        acting(buyer),
        order.code,
        AddressIn(
            recipient_name="张三",
            recipient_phone="13912345678",
            region_id=world.village_a_region.id,
            address_line="村口1号",
            consent=True,
        ),
    )
    with pytest.raises(Conflict):  # nothing to complain about before it is sent
        service.complain(session, acting(buyer), order.code, ComplaintIn(body="?"))
    close_and_harvest(session, farmland, "100")
    cadre = acting_cadre(farmland)
    sheet = service.courier_batch(session, cadre, farmland.offering.id)
    assert [row[0] for row in sheet] == [order.code]
    assert sheet[0][2] == "13912345678"  # the courier needs the number in full
    service.ship(session, cadre, order.code, ShipmentIn(courier="顺丰", tracking_no="SF1234567890"))
    service.confirm_delivery(session, acting(buyer), order.code)
    assert order.status == OrderStatus.delivered
    complaint = service.complain(session, acting(buyer), order.code, ComplaintIn(body="米有霉味"))
    with pytest.raises(Conflict):
        service.complain(session, acting(buyer), order.code, ComplaintIn(body="again"))
    with pytest.raises(InvalidInput):
        service.resolve(
            session,
            cadre,
            complaint.id,
            ComplaintResolutionIn(outcome="rejected", resolution="no", refund_fen=100),
        )
    service.resolve(
        session,
        cadre,
        complaint.id,
        ComplaintResolutionIn(outcome="resolved", resolution="补发并退款", refund_fen=500),
    )
    assert service.refunded_fen(session, order) == 500
    assert order.status == OrderStatus.delivered


def test_complaints_close_14_days_after_delivery(session: Session, farmland: Farmland) -> None:
    buyer = farmland.adopters[0]
    order = adopt_and_pay(session, buyer, farmland.offering, 10, delivery_method="pickup")
    close_and_harvest(session, farmland, "100")
    service.hand_over(session, acting_cadre(farmland), order.code)
    order.delivered_at = utcnow() - timedelta(days=15)
    with pytest.raises(Conflict):
        service.complain(session, acting(buyer), order.code, ComplaintIn(body="late"))


def test_the_diary_tells_adopters(session: Session, farmland: Farmland) -> None:
    buyer = farmland.adopters[0]
    adopt_and_pay(session, buyer, farmland.offering, 10)
    service.post(
        session, acting_cadre(farmland), farmland.offering.id, DiaryPostIn(body="今天插秧了")
    )
    assert session.scalar(
        select(Notification).where(
            Notification.person_id == buyer.id, Notification.kind == "adoption.diary"
        )
    )
    with pytest.raises(NotFound):
        service.post(session, acting(buyer), farmland.offering.id, DiaryPostIn(body="x"))
    with pytest.raises(InvalidInput):  # somebody else's upload
        service.post(
            session,
            acting_cadre(farmland),
            farmland.offering.id,
            DiaryPostIn(body="x", photo_file_ids=[999999]),
        )


def test_the_ledger_balances_and_cannot_go_negative(session: Session, farmland: Farmland) -> None:
    adopt_and_pay(session, farmland.adopters[0], farmland.offering, 100)  # 300 yuan
    cadre = acting_cadre(farmland)
    service.record_entry(
        session, cadre, farmland.farm.id, LedgerEntryIn(kind="cost", amount_fen=5_000, memo="种子")
    )
    service.record_entry(
        session,
        cadre,
        farmland.farm.id,
        LedgerEntryIn(kind="distribution", amount_fen=20_000, memo="村集体分红"),
    )
    with pytest.raises(InvalidInput):
        service.record_entry(
            session,
            cadre,
            farmland.farm.id,
            LedgerEntryIn(kind="cost", amount_fen=5_001, memo="超支"),
        )
    ledger = service.ledger(session, farmland.farm.id)
    assert (ledger.income_fen, ledger.costs_fen, ledger.distributions_fen) == (
        30_000,
        5_000,
        20_000,
    )
    assert ledger.balance_fen == 5_000 == service.balance(session, farmland.farm.id)


def test_terms_are_fixed_once_someone_adopted(session: Session, farmland: Farmland) -> None:
    from gongchuang.adoption.schemas import OfferingIn

    service.adopt(session, acting(farmland.adopters[0]), farmland.offering.id, AdoptIn(units=1))
    with pytest.raises(Conflict):
        service.update_offering(
            session,
            acting_cadre(farmland),
            farmland.offering.id,
            OfferingIn(title="涨价", season="2027", price_fen=1, total_units=10),
        )
