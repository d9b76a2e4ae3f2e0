"""What the adoption API accepts and returns. The `...In` models are also what the pages read
their forms into: one input contract per use case (a page that takes yuan converts to fen before
the model sees it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from gongchuang.core.schemas import IdField

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Text200 = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Text5000 = Annotated[str, StringConstraints(max_length=5000, strip_whitespace=True)]
Fen = Annotated[int, Field(ge=1, le=100_000_000_00)]  # up to 100 million yuan
Photos = Annotated[list[IdField], Field(max_length=9)]


# --- farms, fields and seasons ----------------------------------------------------------------


class FarmIn(BaseModel):
    name: Name
    description: Text5000 = ""
    region_id: IdField
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180)] | None = None
    offers_pickup: bool = True
    offers_courier: bool = True
    # Where the courier delivers: regions (a province, a city ...); empty: only pickup.
    service_region_ids: Annotated[list[IdField], Field(max_length=100)] = []


class FieldIn(BaseModel):
    name: Name
    area_m2: int = Field(ge=1, le=100_000_000)
    crop: Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
    description: Text5000 = ""


class OfferingIn(BaseModel):
    """A season of a field offered for adoption, by the square metre or by the plot."""

    title: Name
    season: Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
    description: Text5000 = ""
    sale_unit: Literal["m2", "plot"] = "m2"
    unit_area_m2: int = Field(1, ge=1, le=1_000_000)  # a plot's area (1 when sold by m²)
    price_fen: Fen  # per unit
    total_units: int = Field(ge=1, le=100_000_000)
    min_units: int = Field(1, ge=1, le=100_000_000)
    max_units: int = Field(1000, ge=1, le=100_000_000)
    guaranteed_g_per_unit: int = Field(0, ge=0, le=1_000_000)
    reservation_minutes: int = Field(15, ge=5, le=120)


class OfferingStatusIn(BaseModel):
    status: Literal["open", "closed"]


# --- adopting ---------------------------------------------------------------------------------


class AdoptIn(BaseModel):
    units: int = Field(ge=1, le=100_000_000)
    delivery_method: Literal["courier", "pickup"] = "courier"
    # The share link the adopter came through, if any.
    via: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{6,16}$")] | None = None


class AddressIn(BaseModel):
    recipient_name: Annotated[
        str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)
    ]
    recipient_phone: Annotated[
        str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)
    ]
    region_id: IdField
    address_line: Annotated[
        str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)
    ]
    # PIPL: the address is kept only with this consent, for delivering the harvest.
    consent: bool

    @field_validator("consent")
    @classmethod
    def _consented(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is needed")
        return value


class ShipmentIn(BaseModel):
    courier: Annotated[str, StringConstraints(min_length=1, max_length=30, strip_whitespace=True)]
    tracking_no: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,40}$", strip_whitespace=True)
    ]


class DiaryPostIn(BaseModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)]
    photo_file_ids: Photos = []
    video_url: Annotated[
        str, StringConstraints(max_length=500, pattern=r"^(https?://\S+)?$", strip_whitespace=True)
    ] = ""


class HarvestIn(BaseModel):
    total_kg: Decimal = Field(ge=0, le=100_000_000, decimal_places=3)
    remedy: Literal["make_up", "credit"] = "make_up"
    note: Text5000 = ""


class ComplaintIn(BaseModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
    photo_file_ids: Photos = []


class ComplaintResolutionIn(BaseModel):
    outcome: Literal["resolved", "rejected"]
    resolution: Annotated[
        str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)
    ]
    refund_fen: int = Field(0, ge=0, le=100_000_000_00)


class RefundIn(BaseModel):
    amount_fen: Fen
    reason: Annotated[str, StringConstraints(min_length=1, max_length=80, strip_whitespace=True)]


class LedgerEntryIn(BaseModel):
    """A cost or a distribution to the collective: money out, typed as a positive amount."""

    kind: Literal["cost", "distribution"]
    amount_fen: Fen
    memo: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    offering_id: IdField | None = None


# --- what the API returns ---------------------------------------------------------------------


class FarmOut(BaseModel):
    id: int
    organisation_id: int
    name: str
    description: str
    region_id: int
    region_name: str
    lat: float | None
    lng: float | None
    offers_pickup: bool
    offers_courier: bool
    service_region_ids: list[int]


class FieldOut(BaseModel):
    id: int
    farm_id: int
    name: str
    area_m2: int
    crop: str
    description: str


class OfferingOut(BaseModel):
    id: int
    farm_id: int
    farm_name: str
    field_id: int
    field_name: str
    crop: str
    title: str
    season: str
    description: str
    status: str
    status_label: str
    sale_unit: str
    unit_area_m2: int
    price_fen: int
    total_units: int
    available_units: int
    adopted_units: int
    min_units: int
    max_units: int
    guaranteed_g_per_unit: int
    reservation_minutes: int
    href: str


class ProgressOut(BaseModel):
    offering_id: int
    adopted_units: int
    adopted_m2: int
    total_units: int
    available_units: int
    adopters: int
    first_adopted_at: AwareDatetime | None
    hours_since_first: float | None


class OrderOut(BaseModel):
    code: str
    offering_id: int
    status: str
    status_label: str
    units: int
    amount_fen: int
    refunded_fen: int
    reserved_until: AwareDatetime
    checkout_href: str | None
    plot_numbers: list[int]
    delivery_method: str
    has_address: bool
    courier: str
    tracking_no: str
    created_at: AwareDatetime
    href: str


class TransitionOut(BaseModel):
    from_status: str
    to_status: str
    note: str
    at: AwareDatetime


class ShareLinkOut(BaseModel):
    code: str
    url: str
    adoptions: int
    units: int


class DiaryPostOut(BaseModel):
    id: int
    offering_id: int
    body: str
    photo_file_ids: list[int]
    video_url: str
    posted_at: AwareDatetime


class HarvestShareOut(BaseModel):
    order_code: str
    share_g: int
    guaranteed_g: int
    delivered_g: int
    made_up_g: int
    credit_fen: int


class HarvestOut(BaseModel):
    offering_id: int
    total_g: int
    remedy: str
    shares: list[HarvestShareOut]


class ComplaintOut(BaseModel):
    id: int
    order_code: str
    body: str
    photo_file_ids: list[int]
    status: str
    resolution: str
    refund_fen: int
    created_at: AwareDatetime
    resolved_at: datetime | None


class LedgerEntryOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    amount_fen: int
    memo: str
    offering_id: int | None
    created_at: AwareDatetime


class LedgerOut(BaseModel):
    farm_id: int
    income_fen: int
    refunds_fen: int
    costs_fen: int
    distributions_fen: int
    balance_fen: int
    entries: list[LedgerEntryOut]
