"""The cloud adoption REST API under /api/v1/adoption."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from gongchuang.adoption import service
from gongchuang.adoption.permissions import AdoptionPerm
from gongchuang.adoption.schemas import (
    AddressIn,
    AdoptIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintResolutionIn,
    DiaryPostIn,
    DiaryPostOut,
    FarmIn,
    FarmOut,
    FieldIn,
    FieldOut,
    HarvestIn,
    HarvestOut,
    LedgerEntryIn,
    LedgerEntryOut,
    LedgerOut,
    OfferingIn,
    OfferingOut,
    OfferingStatusIn,
    OrderOut,
    ProgressOut,
    RefundIn,
    ShareLinkOut,
    ShipmentIn,
    TransitionOut,
)
from gongchuang.adoption.service.views import (
    complaint_out,
    diary_out,
    farm_out,
    field_out,
    harvest_out,
    ledger_entry_out,
    ledger_out,
    offering_out,
    order_out,
    progress_out,
    share_link_out,
    transition_out,
)
from gongchuang.core import spreadsheets
from gongchuang.core.api import PROBLEMS
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import gettext
from gongchuang.core.permissions import Principal
from gongchuang.core.web import DbSession, Id, LoggedIn, Require, site_url

router = APIRouter(prefix="/api/v1/adoption", tags=["adoption"], responses=PROBLEMS)
Adopting = Annotated[Principal, Depends(Require(AdoptionPerm.ADOPT))]
OrderCode = Annotated[str, Path(pattern=r"^RY[A-Z0-9]{10}$")]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- seasons anyone may read ------------------------------------------------------------------


@router.get("/offerings")
def list_offerings(session: DbSession) -> list[OfferingOut]:
    return [offering_out(*row) for row in service.public_offerings(session)]


@router.get("/offerings/{offering_id}")
def get_offering(offering_id: Id, session: DbSession) -> OfferingOut:
    offering = service.public_offering(session, offering_id)
    return offering_out(*service.offering_detail(session, offering))


@router.get("/offerings/{offering_id}/progress")
def get_progress(offering_id: Id, session: DbSession) -> ProgressOut:
    return progress_out(service.progress(session, service.public_offering(session, offering_id)))


@router.get("/offerings/{offering_id}/diary")
def list_diary(offering_id: Id, session: DbSession) -> list[DiaryPostOut]:
    offering = service.public_offering(session, offering_id)
    return [diary_out(p) for p in service.posts(session, offering.id)]


@router.get("/offerings/{offering_id}/harvest")
def get_harvest(offering_id: Id, session: DbSession, principal: LoggedIn) -> HarvestOut:
    offering = service.offering_to_manage(session, principal, offering_id)
    harvest = service.harvest_of(session, offering.id)
    if harvest is None:
        raise NotFound()
    return harvest_out(session, harvest)


@router.get("/farms/{farm_id}/ledger")
def get_ledger(
    farm_id: Id,
    session: DbSession,
    offering_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> LedgerOut:
    return ledger_out(service.ledger(session, farm_id, offering_id))


# --- farms ------------------------------------------------------------------------------------


@router.post("/organisations/{organisation_id}/farms", status_code=201)
def create_farm(
    organisation_id: Id, data: FarmIn, session: DbSession, principal: LoggedIn
) -> FarmOut:
    return farm_out(session, service.create_farm(session, principal, organisation_id, data))


@router.put("/farms/{farm_id}")
def update_farm(farm_id: Id, data: FarmIn, session: DbSession, principal: LoggedIn) -> FarmOut:
    return farm_out(session, service.update_farm(session, principal, farm_id, data))


@router.post("/farms/{farm_id}/fields", status_code=201)
def add_field(farm_id: Id, data: FieldIn, session: DbSession, principal: LoggedIn) -> FieldOut:
    return field_out(service.add_field(session, principal, farm_id, data))


@router.post("/fields/{field_id}/offerings", status_code=201)
def create_offering(
    field_id: Id, data: OfferingIn, session: DbSession, principal: LoggedIn
) -> OfferingOut:
    offering = service.create_offering(session, principal, field_id, data)
    return offering_out(*service.offering_detail(session, offering))


@router.put("/offerings/{offering_id}")
def update_offering(
    offering_id: Id, data: OfferingIn, session: DbSession, principal: LoggedIn
) -> OfferingOut:
    offering = service.update_offering(session, principal, offering_id, data)
    return offering_out(*service.offering_detail(session, offering))


@router.post("/offerings/{offering_id}/status")
def set_offering_status(
    offering_id: Id, data: OfferingStatusIn, session: DbSession, principal: LoggedIn
) -> OfferingOut:
    offering = service.set_offering_status(session, principal, offering_id, data)
    return offering_out(*service.offering_detail(session, offering))


@router.get("/offerings/{offering_id}/orders")
def list_offering_orders(
    offering_id: Id, session: DbSession, principal: LoggedIn
) -> list[OrderOut]:
    offering = service.offering_to_manage(session, principal, offering_id)
    return [order_out(session, o) for o in service.orders_of_offering(session, offering.id)]


@router.post("/offerings/{offering_id}/diary", status_code=201)
def post_diary(
    offering_id: Id, data: DiaryPostIn, session: DbSession, principal: LoggedIn
) -> DiaryPostOut:
    return diary_out(service.post(session, principal, offering_id, data))


@router.post("/offerings/{offering_id}/harvest", status_code=201)
def record_harvest(
    offering_id: Id, data: HarvestIn, session: DbSession, principal: LoggedIn
) -> HarvestOut:
    return harvest_out(session, service.record_harvest(session, principal, offering_id, data))


@router.get(
    "/offerings/{offering_id}/courier-batch.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def courier_batch(offering_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    rows = service.courier_batch(session, principal, offering_id)
    header = [gettext(h) for h in service.COURIER_HEADER]
    return Response(
        spreadsheets.workbook_bytes(header, rows, gettext("Courier batch")),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="courier-batch-{offering_id}.xlsx"'},
    )


@router.post("/orders/{code}/shipment")
def ship(code: OrderCode, data: ShipmentIn, session: DbSession, principal: LoggedIn) -> OrderOut:
    return order_out(session, service.ship(session, principal, code, data))


@router.post("/orders/{code}/handover")
def hand_over(code: OrderCode, session: DbSession, principal: LoggedIn) -> OrderOut:
    return order_out(session, service.hand_over(session, principal, code))


@router.post("/orders/{code}/refunds", status_code=201)
def refund(code: OrderCode, data: RefundIn, session: DbSession, principal: LoggedIn) -> OrderOut:
    service.refund_order(session, principal, code, data)
    return order_out(session, service.order_to_manage(session, principal, code))


@router.post("/complaints/{complaint_id}/resolution")
def resolve_complaint(
    complaint_id: Id, data: ComplaintResolutionIn, session: DbSession, principal: LoggedIn
) -> ComplaintOut:
    complaint = service.resolve(session, principal, complaint_id, data)
    _, order = service.complaint_to_manage(session, principal, complaint.id)
    return complaint_out(complaint, order.code)


@router.post("/farms/{farm_id}/ledger", status_code=201)
def record_ledger_entry(
    farm_id: Id, data: LedgerEntryIn, session: DbSession, principal: LoggedIn
) -> LedgerEntryOut:
    return ledger_entry_out(service.record_entry(session, principal, farm_id, data))


# --- adopters ---------------------------------------------------------------------------------


@router.post("/offerings/{offering_id}/orders", status_code=201)
def adopt(offering_id: Id, data: AdoptIn, session: DbSession, principal: Adopting) -> OrderOut:
    return order_out(session, service.adopt(session, principal, offering_id, data))


@router.get("/orders/mine")
def my_orders(session: DbSession, principal: Adopting) -> list[OrderOut]:
    person_id = principal.person_id or 0
    return [order_out(session, order) for order, _ in service.orders_of(session, person_id)]


@router.get("/orders/{code}")
def get_order(code: OrderCode, session: DbSession, principal: Adopting) -> OrderOut:
    return order_out(session, service.own_order(session, principal, code))


@router.get("/orders/{code}/transitions")
def order_transitions(
    code: OrderCode, session: DbSession, principal: Adopting
) -> list[TransitionOut]:
    order = service.own_order(session, principal, code)
    return [transition_out(t) for t in service.transitions(session, order.id)]


@router.post("/orders/{code}/cancellation")
def cancel(code: OrderCode, session: DbSession, principal: Adopting) -> OrderOut:
    return order_out(session, service.cancel(session, principal, code))


@router.put("/orders/{code}/address", status_code=204)
def set_address(
    code: OrderCode, data: AddressIn, session: DbSession, principal: Adopting
) -> Response:
    service.set_address(session, principal, code, data)
    return Response(status_code=204)


@router.delete("/orders/{code}/address", status_code=204)
def forget_address(code: OrderCode, session: DbSession, principal: Adopting) -> Response:
    service.forget_address(session, principal, code)
    return Response(status_code=204)


@router.post("/orders/{code}/delivery-confirmation")
def confirm_delivery(code: OrderCode, session: DbSession, principal: Adopting) -> OrderOut:
    return order_out(session, service.confirm_delivery(session, principal, code))


@router.post("/orders/{code}/complaints", status_code=201)
def complain(
    code: OrderCode, data: ComplaintIn, session: DbSession, principal: Adopting
) -> ComplaintOut:
    return complaint_out(service.complain(session, principal, code, data), code)


@router.post("/offerings/{offering_id}/share-link")
def share_link(
    offering_id: Id, request: Request, session: DbSession, principal: Adopting
) -> ShareLinkOut:
    link = service.share_link(session, principal, offering_id)
    return share_link_out(session, link, site_url(request))
