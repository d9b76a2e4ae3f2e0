"""Presenters: rows into what the API returns (the pages read the same rows)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    LEDGER_KIND_LABELS,
    OFFERING_STATUS_LABELS,
    ORDER_STATUS_LABELS,
    AdoptionOrder,
    Complaint,
    DiaryPost,
    Farm,
    Field,
    Harvest,
    LedgerEntry,
    Offering,
    OrderStatus,
    OrderTransition,
    ShareLink,
)
from gongchuang.adoption.schemas import (
    ComplaintOut,
    DiaryPostOut,
    FarmOut,
    FieldOut,
    HarvestOut,
    HarvestShareOut,
    LedgerEntryOut,
    LedgerOut,
    OfferingOut,
    OrderOut,
    ProgressOut,
    ShareLinkOut,
    TransitionOut,
)
from gongchuang.adoption.service import harvest as harvests
from gongchuang.adoption.service.ledger import Ledger
from gongchuang.adoption.service.orders import order_href
from gongchuang.adoption.service.progress import Progress, attributed, share_url
from gongchuang.adoption.service.stock import left
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import gettext
from gongchuang.core.models import Region


def farm_out(session: Session, farm: Farm) -> FarmOut:
    region = session.get(Region, farm.region_id)
    return FarmOut(
        id=farm.id,
        organisation_id=farm.organisation_id,
        name=farm.name,
        description=farm.description,
        region_id=farm.region_id,
        region_name=region.name if region else "",
        lat=farm.lat,
        lng=farm.lng,
        offers_pickup=farm.offers_pickup,
        offers_courier=farm.offers_courier,
        service_region_ids=list(farm.service_region_ids or []),
    )


def field_out(field: Field) -> FieldOut:
    return FieldOut(
        id=field.id,
        farm_id=field.farm_id,
        name=field.name,
        area_m2=field.area_m2,
        crop=field.crop,
        description=field.description,
    )


def offering_out(offering: Offering, field: Field, farm: Farm) -> OfferingOut:
    return OfferingOut(
        id=offering.id,
        farm_id=farm.id,
        farm_name=farm.name,
        field_id=field.id,
        field_name=field.name,
        crop=field.crop,
        title=offering.title,
        season=offering.season,
        description=offering.description,
        status=offering.status,
        status_label=gettext(OFFERING_STATUS_LABELS[offering.status]),
        sale_unit=offering.sale_unit,
        unit_area_m2=offering.unit_area_m2,
        price_fen=offering.price_fen,
        total_units=offering.total_units,
        available_units=left(offering),
        adopted_units=offering.allocated_units,
        min_units=offering.min_units,
        max_units=offering.max_units,
        guaranteed_g_per_unit=offering.guaranteed_g_per_unit,
        reservation_minutes=offering.reservation_minutes,
        href=f"/adoption/offerings/{offering.id}",
    )


def progress_out(progress: Progress) -> ProgressOut:
    return ProgressOut(
        offering_id=progress.offering_id,
        adopted_units=progress.adopted_units,
        adopted_m2=progress.adopted_m2,
        total_units=progress.total_units,
        available_units=progress.available_units,
        adopters=progress.adopters,
        first_adopted_at=progress.first_adopted_at,
        hours_since_first=progress.hours_since_first,
    )


def order_out(session: Session, order: AdoptionOrder) -> OrderOut:
    payment = payments.payment_of(session, order.payment_id)
    payable = (
        payment is not None
        and order.status == OrderStatus.pending
        and order.reserved_until > utcnow()
    )
    return OrderOut(
        code=order.code,
        offering_id=order.offering_id,
        status=order.status,
        status_label=gettext(ORDER_STATUS_LABELS[order.status]),
        units=order.units,
        amount_fen=order.amount_fen,
        refunded_fen=payment.refunded_fen if payment else 0,
        reserved_until=order.reserved_until,
        checkout_href=payments.checkout_href(payment) if payable and payment else None,
        plot_numbers=list(order.plot_numbers or []),
        delivery_method=order.delivery_method,
        has_address=order.address_region_id is not None,
        courier=order.courier,
        tracking_no=order.tracking_no,
        created_at=order.created_at,
        href=order_href(order.code),
    )


def transition_out(transition: OrderTransition) -> TransitionOut:
    return TransitionOut(
        from_status=transition.from_status,
        to_status=transition.to_status,
        note=transition.note,
        at=transition.at,
    )


def share_link_out(session: Session, link: ShareLink, site: str) -> ShareLinkOut:
    adoptions, units = attributed(session, link)
    return ShareLinkOut(
        code=link.code, url=share_url(site, link.code), adoptions=adoptions, units=units
    )


def diary_out(entry: DiaryPost) -> DiaryPostOut:
    return DiaryPostOut(
        id=entry.id,
        offering_id=entry.offering_id,
        body=entry.body,
        photo_file_ids=list(entry.photo_file_ids or []),
        video_url=entry.video_url,
        posted_at=entry.posted_at,
    )


def harvest_out(session: Session, harvest: Harvest) -> HarvestOut:
    return HarvestOut(
        offering_id=harvest.offering_id,
        total_g=harvest.total_g,
        remedy=harvest.remedy,
        shares=[
            HarvestShareOut(
                order_code=code,
                share_g=share.share_g,
                guaranteed_g=share.guaranteed_g,
                delivered_g=share.delivered_g,
                made_up_g=share.made_up_g,
                credit_fen=share.credit_fen,
            )
            for share, code in harvests.shares(session, harvest)
        ],
    )


def complaint_out(complaint: Complaint, order_code: str) -> ComplaintOut:
    return ComplaintOut(
        id=complaint.id,
        order_code=order_code,
        body=complaint.body,
        photo_file_ids=list(complaint.photo_file_ids or []),
        status=complaint.status,
        resolution=complaint.resolution,
        refund_fen=complaint.refund_fen,
        created_at=complaint.created_at,
        resolved_at=complaint.resolved_at,
    )


def ledger_entry_out(entry: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(
        id=entry.id,
        kind=entry.kind,
        kind_label=gettext(LEDGER_KIND_LABELS[entry.kind]),
        amount_fen=entry.amount_fen,
        memo=entry.memo,
        offering_id=entry.offering_id,
        created_at=entry.created_at,
    )


def ledger_out(ledger: Ledger) -> LedgerOut:
    return LedgerOut(
        farm_id=ledger.farm.id,
        income_fen=ledger.income_fen,
        refunds_fen=ledger.refunds_fen,
        costs_fen=ledger.costs_fen,
        distributions_fen=ledger.distributions_fen,
        balance_fen=ledger.balance_fen,
        entries=[ledger_entry_out(e) for e in ledger.entries],
    )
