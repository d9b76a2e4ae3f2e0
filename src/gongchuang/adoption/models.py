"""Tables of cloud adoption of farmland (云认养).

A village or cooperative (`Farm`) puts a field (`Field`) online for one season (`Offering`):
people adopt square metres or whole plots before planting, follow the crop in the diary, and
receive their share of the harvest.

Stock is counted on the offering row, as Saleor counts it: what is left is
`total_units - allocated_units - reserved_units`, where a reservation holds units while its
payment is open and payment turns it into an allocation. The counters only move by conditional
UPDATEs (never read-then-write), and a CHECK constraint holds the sum under `total_units`, so
two buyers of the last square metre cannot both get it on any database. A reservation past its
time is released by the next buyer who needs its units and by a job, whichever comes first.

The village's income ledger (`LedgerEntry`) is append-only: a refund or a correction is an
entry of its own, never an edit.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_
from gongchuang.core.models import BigId


class Farm(Base):
    """A village's or cooperative's farm: where its fields are and how its harvest travels."""

    __tablename__ = "adoption_farm"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    lat: Mapped[float | None] = mapped_column(Float)  # WGS-84
    lng: Mapped[float | None] = mapped_column(Float)
    offers_pickup: Mapped[bool] = mapped_column(Boolean, default=True)
    offers_courier: Mapped[bool] = mapped_column(Boolean, default=True)
    # Regions the courier delivers to (ids; an address anywhere under one of them is served).
    service_region_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Field(Base):
    __tablename__ = "adoption_field"

    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("adoption_farm.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    area_m2: Mapped[int] = mapped_column(Integer)
    crop: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("area_m2 > 0", name="ck_adoption_field_area"),)


class SaleUnit(enum.StrEnum):
    square_metre = "m2"
    plot = "plot"


SALE_UNIT_LABELS: dict[str, str] = {
    SaleUnit.square_metre: N_("square metres"),
    SaleUnit.plot: N_("plots"),
}


class OfferingStatus(enum.StrEnum):
    draft = "draft"  # being prepared: not shown to the public
    open = "open"  # adoptions accepted
    closed = "closed"  # sold out or closed by the farm; growing
    harvested = "harvested"  # the harvest is recorded and shared out


OFFERING_STATUS_LABELS: dict[str, str] = {
    OfferingStatus.draft: N_("Draft"),
    OfferingStatus.open: N_("Open for adoption"),
    OfferingStatus.closed: N_("Adoption closed, growing"),
    OfferingStatus.harvested: N_("Harvested"),
}


class Offering(Base):
    """One season of one field offered for adoption, and its stock counters."""

    __tablename__ = "adoption_offering"
    __table_args__ = (
        # The last line against overselling, whatever the code above it does.
        CheckConstraint(
            "allocated_units >= 0 AND reserved_units >= 0 "
            "AND allocated_units + reserved_units <= total_units",
            name="ck_adoption_offering_stock",
        ),
        CheckConstraint("total_units > 0", name="ck_adoption_offering_total"),
        CheckConstraint("price_fen > 0", name="ck_adoption_offering_price"),
        Index("ix_adoption_offering_status", "status", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("adoption_field.id"), index=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("adoption_farm.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    title: Mapped[str] = mapped_column(String(100))
    season: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    sale_unit: Mapped[str] = mapped_column(String(8), default=SaleUnit.square_metre)
    unit_area_m2: Mapped[int] = mapped_column(Integer, default=1)  # a plot's area; 1 for m²
    price_fen: Mapped[int] = mapped_column(Integer)  # per unit
    total_units: Mapped[int] = mapped_column(Integer)
    min_units: Mapped[int] = mapped_column(Integer, default=1)  # per order
    max_units: Mapped[int] = mapped_column(Integer)  # per order
    # Grams of the crop each unit is guaranteed at harvest, whatever the weather.
    guaranteed_g_per_unit: Mapped[int] = mapped_column(Integer, default=0)
    reservation_minutes: Mapped[int] = mapped_column(Integer, default=15)
    status: Mapped[str] = mapped_column(String(16), default=OfferingStatus.draft)
    allocated_units: Mapped[int] = mapped_column(Integer, default=0)
    reserved_units: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column()
    first_adopted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderStatus(enum.StrEnum):
    pending = "pending"  # units reserved, waiting for the payment
    paid = "paid"  # money received (an instant: allocation follows in the same transaction)
    allocated = "allocated"  # the units are the adopter's
    harvested = "harvested"  # the harvest share is recorded
    shipped = "shipped"  # handed to the courier (or ready for pickup)
    delivered = "delivered"
    refunded = "refunded"
    expired = "expired"  # not paid in time: the reservation was released
    cancelled = "cancelled"  # the adopter gave up before paying


ORDER_STATUS_LABELS: dict[str, str] = {
    OrderStatus.pending: N_("Waiting for payment"),
    OrderStatus.paid: N_("Paid"),
    OrderStatus.allocated: N_("Adopted, growing"),
    OrderStatus.harvested: N_("Harvested"),
    OrderStatus.shipped: N_("Shipped"),
    OrderStatus.delivered: N_("Delivered"),
    OrderStatus.refunded: N_("Refunded"),
    OrderStatus.expired: N_("Expired, not paid in time"),
    OrderStatus.cancelled: N_("Cancelled"),
}

# An adopter's orders still under way (the home page lists them).
UNDER_WAY = (
    OrderStatus.pending,
    OrderStatus.allocated,
    OrderStatus.harvested,
    OrderStatus.shipped,
)

# Orders that hold units of the offering for their adopter.
HOLDING = (
    OrderStatus.allocated,
    OrderStatus.harvested,
    OrderStatus.shipped,
    OrderStatus.delivered,
)


class DeliveryMethod(enum.StrEnum):
    courier = "courier"
    pickup = "pickup"


DELIVERY_METHOD_LABELS: dict[str, str] = {
    DeliveryMethod.courier: N_("Courier to my address"),
    DeliveryMethod.pickup: N_("I collect it at the village"),
}


class AdoptionOrder(Base):
    __tablename__ = "adoption_order"
    __table_args__ = (
        CheckConstraint("units > 0", name="ck_adoption_order_units"),
        CheckConstraint("amount_fen > 0", name="ck_adoption_order_amount"),
        # One unpaid order per person and offering, held by the database: a second reservation
        # would only hold stock away from others.
        Index(
            "uq_adoption_order_pending",
            "offering_id",
            "adopter_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_adoption_order_offering_status", "offering_id", "status"),
        Index("ix_adoption_order_adopter", "adopter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("adoption_offering.id"))
    adopter_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    units: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.pending)
    # Whether the order's units are counted in the offering's reserved_units: set with the
    # reservation, cleared in the statement that releases or allocates them (exactly once).
    holds_reservation: Mapped[bool] = mapped_column(Boolean, default=True)
    reserved_until: Mapped[datetime] = mapped_column()
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    share_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("adoption_share_link.id"), index=True
    )
    plot_numbers: Mapped[list[int]] = mapped_column(JSON, default=list)
    delivery_method: Mapped[str] = mapped_column(String(16), default=DeliveryMethod.courier)
    # The shipping address: kept only while the adopter consents to its use for delivery.
    recipient_name: Mapped[str] = mapped_column(String(50), default="")
    recipient_phone: Mapped[str] = mapped_column(String(20), default="")
    address_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    address_line: Mapped[str] = mapped_column(String(200), default="")
    courier: Mapped[str] = mapped_column(String(30), default="")
    tracking_no: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    allocated_at: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


class OrderTransition(Base):
    """Each change of an order's status, who made it and why (the audit ledger has it too)."""

    __tablename__ = "adoption_order_transition"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("adoption_order.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareLink(Base):
    """An adopter's link (and QR code) to the offering: adoptions through it are counted."""

    __tablename__ = "adoption_share_link"
    __table_args__ = (
        UniqueConstraint("offering_id", "owner_id", name="uq_adoption_share_link_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("adoption_offering.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DiaryPost(Base):
    """The farmer's note on the crop, with photos and an optional video link."""

    __tablename__ = "adoption_diary_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("adoption_offering.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    body: Mapped[str] = mapped_column(Text)
    photo_file_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    video_url: Mapped[str] = mapped_column(String(500), default="")
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShortfallRemedy(enum.StrEnum):
    make_up = "make_up"  # the village makes up the guaranteed weight from elsewhere
    credit = "credit"  # the adopter is refunded the shortfall's share of the price


SHORTFALL_REMEDY_LABELS: dict[str, str] = {
    ShortfallRemedy.make_up: N_("The village makes up the guaranteed weight"),
    ShortfallRemedy.credit: N_("Adopters are refunded the shortfall"),
}


class Harvest(Base):
    __tablename__ = "adoption_harvest"

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("adoption_offering.id"), unique=True)
    total_g: Mapped[int] = mapped_column(Integer)
    remedy: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("total_g >= 0", name="ck_adoption_harvest_total"),)


class HarvestShare(Base):
    """One order's part of the harvest: its pro-rata share, the guarantee, what is sent."""

    __tablename__ = "adoption_harvest_share"

    id: Mapped[int] = mapped_column(primary_key=True)
    harvest_id: Mapped[int] = mapped_column(ForeignKey("adoption_harvest.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("adoption_order.id"), unique=True)
    share_g: Mapped[int] = mapped_column(Integer)
    guaranteed_g: Mapped[int] = mapped_column(Integer)
    delivered_g: Mapped[int] = mapped_column(Integer)
    made_up_g: Mapped[int] = mapped_column(Integer, default=0)
    credit_fen: Mapped[int] = mapped_column(Integer, default=0)


class ComplaintStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"
    rejected = "rejected"


COMPLAINT_STATUS_LABELS: dict[str, str] = {
    ComplaintStatus.open: N_("Open"),
    ComplaintStatus.resolved: N_("Resolved"),
    ComplaintStatus.rejected: N_("Not upheld"),
}


class Complaint(Base):
    __tablename__ = "adoption_complaint"
    __table_args__ = (
        # One open complaint per order: a second is added to while the first is handled.
        Index(
            "uq_adoption_complaint_open",
            "order_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("adoption_order.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    body: Mapped[str] = mapped_column(Text)
    photo_file_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.open)
    resolution: Mapped[str] = mapped_column(Text, default="")
    refund_fen: Mapped[int] = mapped_column(Integer, default=0)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()


class LedgerKind(enum.StrEnum):
    income = "income"  # an adoption paid
    refund = "refund"  # money returned to an adopter
    cost = "cost"  # seed, labour, packing, postage ...
    distribution = "distribution"  # paid to the village collective


LEDGER_KIND_LABELS: dict[str, str] = {
    LedgerKind.income: N_("Adoption income"),
    LedgerKind.refund: N_("Refund"),
    LedgerKind.cost: N_("Cost"),
    LedgerKind.distribution: N_("Distribution to the collective"),
}


class LedgerEntry(Base):
    """One movement of the village's adoption money, public. Append-only: income and refunds
    are written by the payment that moved the money, costs and distributions by the farm."""

    __tablename__ = "adoption_ledger_entry"
    __table_args__ = (
        # Income is positive, everything else takes money out.
        CheckConstraint(
            "(kind = 'income' AND amount_fen > 0) OR (kind <> 'income' AND amount_fen < 0)",
            name="ck_adoption_ledger_sign",
        ),
        # A payment's income, or a refund's, is written once however often it is announced.
        UniqueConstraint("kind", "source", name="uq_adoption_ledger_source"),
        Index("ix_adoption_ledger_farm", "farm_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("adoption_farm.id"))
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("adoption_offering.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(Integer)
    memo: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("adoption_order.id"))
    # What wrote it: "payment:12", "refund:7", or "entry:<uuid>" for one typed in by the farm.
    source: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
