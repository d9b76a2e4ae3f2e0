"""The farm's pages: farms, fields and seasons, the diary, the harvest, shipping, refunds,
complaints and the ledger's costs and distributions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from gongchuang.adoption import service
from gongchuang.adoption.pages._common import (
    labels,
    saved_photos,
)
from gongchuang.adoption.schemas import (
    ComplaintResolutionIn,
    DiaryPostIn,
    FarmIn,
    FieldIn,
    HarvestIn,
    LedgerEntryIn,
    OfferingIn,
    OfferingStatusIn,
    RefundIn,
    ShipmentIn,
)
from gongchuang.adoption.service.queries import farm_regions
from gongchuang.core import spreadsheets
from gongchuang.core.forms import (
    fen_from_yuan,
    parse_form,
    whole_number,
)
from gongchuang.core.i18n import gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render

router = APIRouter(include_in_schema=False)
OrderCode = Annotated[str, Path(pattern=r"^RY[A-Z0-9]{10}$")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/adoption/manage", response_class=HTMLResponse)
def manage(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    organisations = [
        (org, service.farms_of(session, org.id), farm_regions(session, org))
        for org in service.managed_organisations(session, principal)
    ]
    return render(request, "adoption/manage.html", {**labels(), "organisations": organisations})


def _farm_values(form: FormFields) -> dict[str, object]:
    return {
        **form,
        "offers_pickup": "offers_pickup" in form,
        "offers_courier": "offers_courier" in form,
        "service_region_ids": form.getlist("service_region_ids"),
    }


@router.post("/adoption/manage/{organisation_id}/farms", dependencies=[CsrfChecked])
def create_farm(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(FarmIn, _farm_values(form))
    farm = service.create_farm(session, principal, organisation_id, command)
    return redirect(f"/adoption/manage/farms/{farm.id}")


@router.get("/adoption/manage/farms/{farm_id}", response_class=HTMLResponse)
def farm_page(
    request: Request, farm_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    farm = service.farm_to_manage(session, principal, farm_id)
    return render(
        request,
        "adoption/farm.html",
        {
            **labels(),
            "farm": farm,
            "fields": service.fields_of(session, farm.id),
            "offerings": service.offerings_of_farm(session, farm.id),
            "balance_fen": service.balance(session, farm.id),
        },
    )


@router.post("/adoption/manage/farms/{farm_id}/fields", dependencies=[CsrfChecked])
def add_field(farm_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    service.add_field(session, principal, farm_id, parse_form(FieldIn, dict(form)))
    return redirect(f"/adoption/manage/farms/{farm_id}#fields")


@router.post("/adoption/manage/farms/{farm_id}/offerings", dependencies=[CsrfChecked])
def create_offering(
    farm_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    """A season on one of the farm's fields (the form names the field)."""
    field_id = whole_number(form.get("field_id"), "field_id")
    values = {**form, "price_fen": fen_from_yuan(form.get("price_yuan"), "price_yuan")}
    command = parse_form(OfferingIn, values, {"price_fen": "price_yuan"})
    offering = service.create_offering(session, principal, field_id, command)
    return redirect(f"/adoption/manage/offerings/{offering.id}")


@router.post("/adoption/manage/farms/{farm_id}/ledger", dependencies=[CsrfChecked])
def record_entry(
    farm_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    values = {**form, "amount_fen": fen_from_yuan(form.get("amount_yuan"), "amount_yuan")}
    command = parse_form(LedgerEntryIn, values, {"amount_fen": "amount_yuan"})
    service.record_entry(session, principal, farm_id, command)
    return redirect(f"/adoption/manage/farms/{farm_id}#ledger")


@router.get("/adoption/manage/offerings/{offering_id}", response_class=HTMLResponse)
def offering_page(
    request: Request, offering_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    offering, field, farm = service.offering_detail(
        session, service.offering_to_manage(session, principal, offering_id)
    )
    return render(
        request,
        "adoption/manage_offering.html",
        {
            **labels(),
            "offering": offering,
            "field": field,
            "farm": farm,
            "progress": service.progress(session, offering),
            "orders": service.orders_of_offering(session, offering.id),
            "complaints": service.open_complaints(session, offering.id),
            "harvest": service.harvest_of(session, offering.id),
            "waiting_for_address": service.waiting_for_address(session, offering.id),
            "posts": service.posts(session, offering.id, limit=5),
            "mask_name": mask_name,
        },
    )


def _to_offering(offering_id: int, anchor: str = "") -> Response:
    return redirect(f"/adoption/manage/offerings/{offering_id}{anchor}")


@router.post("/adoption/manage/offerings/{offering_id}/status", dependencies=[CsrfChecked])
def set_status(
    offering_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(OfferingStatusIn, dict(form))
    service.set_offering_status(session, principal, offering_id, command)
    return _to_offering(offering_id)


@router.post(
    "/adoption/manage/offerings/{offering_id}/diary",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def post_diary(
    offering_id: Id,
    session: DbSession,
    principal: LoggedIn,
    body: Annotated[str, Form(max_length=10_000)] = "",
    video_url: Annotated[str, Form(max_length=1000)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    # Checked before the photos are stored, and the season before anything is kept.
    parse_form(DiaryPostIn, {"body": body, "video_url": video_url})
    service.offering_to_manage(session, principal, offering_id)
    command = parse_form(
        DiaryPostIn,
        {
            "body": body,
            "video_url": video_url,
            "photo_file_ids": saved_photos(session, principal, photos),
        },
        {"photo_file_ids": "photos"},
    )
    service.post(session, principal, offering_id, command)
    return _to_offering(offering_id, "#diary")


@router.post("/adoption/manage/offerings/{offering_id}/harvest", dependencies=[CsrfChecked])
def record_harvest(
    offering_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(HarvestIn, dict(form))
    service.record_harvest(session, principal, offering_id, command)
    return _to_offering(offering_id, "#harvest")


@router.get("/adoption/manage/offerings/{offering_id}/courier-batch.xlsx")
def courier_batch(offering_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    rows = service.courier_batch(session, principal, offering_id)
    header = [gettext(h) for h in service.COURIER_HEADER]
    return Response(
        spreadsheets.workbook_bytes(header, rows, gettext("Courier batch")),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="courier-batch-{offering_id}.xlsx"'},
    )


@router.post("/adoption/manage/orders/{code}/ship", dependencies=[CsrfChecked])
def ship(code: OrderCode, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    order = service.ship(session, principal, code, parse_form(ShipmentIn, dict(form)))
    return _to_offering(order.offering_id, "#orders")


@router.post("/adoption/manage/orders/{code}/hand-over", dependencies=[CsrfChecked])
def hand_over(code: OrderCode, session: DbSession, principal: LoggedIn) -> Response:
    order = service.hand_over(session, principal, code)
    return _to_offering(order.offering_id, "#orders")


@router.post("/adoption/manage/orders/{code}/refund", dependencies=[CsrfChecked])
def refund(code: OrderCode, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    values = {**form, "amount_fen": fen_from_yuan(form.get("amount_yuan"), "amount_yuan")}
    command = parse_form(RefundIn, values, {"amount_fen": "amount_yuan"})
    service.refund_order(session, principal, code, command)
    order = service.order_to_manage(session, principal, code)
    return _to_offering(order.offering_id, "#orders")


@router.post("/adoption/manage/complaints/{complaint_id}/resolution", dependencies=[CsrfChecked])
def resolve(
    complaint_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    refund_yuan = form.get("refund_yuan")
    values = {**form, "refund_fen": fen_from_yuan(refund_yuan, "refund_yuan") or 0}
    command = parse_form(ComplaintResolutionIn, values, {"refund_fen": "refund_yuan"})
    service.resolve(session, principal, complaint_id, command)
    _, order = service.complaint_to_manage(session, principal, complaint_id)
    return _to_offering(order.offering_id, "#complaints")
