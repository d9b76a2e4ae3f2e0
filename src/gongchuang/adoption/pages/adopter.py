"""An adopter's pages: adopting and paying, my adoptions, the order page (address, delivery,
complaints) and my share links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from gongchuang.adoption import service
from gongchuang.adoption.pages._common import (
    labels,
    saved_photos,
    share_block,
)
from gongchuang.adoption.permissions import AdoptionPerm
from gongchuang.adoption.schemas import AddressIn, AdoptIn, ComplaintIn
from gongchuang.adoption.service.queries import address_regions, complaint_photo
from gongchuang.core.clock import utcnow
from gongchuang.core.forms import (
    parse_form,
)
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Region
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    DbSession,
    FormFields,
    Id,
    LoggedIn,
    Require,
    redirect,
    render,
    site_url,
)

router = APIRouter(include_in_schema=False)
Adopting = Annotated[Principal, Depends(Require(AdoptionPerm.ADOPT))]
OrderCode = Annotated[str, Path(pattern=r"^RY[A-Z0-9]{10}$")]


def _order_page(code: str) -> str:
    return service.order_href(code)


@router.post("/adoption/offerings/{offering_id}/adopt", dependencies=[CsrfChecked])
def adopt(offering_id: Id, session: DbSession, principal: Adopting, form: FormFields) -> Response:
    command = parse_form(AdoptIn, dict(form))
    order = service.adopt(session, principal, offering_id, command)
    return redirect(_order_page(order.code))


@router.post("/adoption/offerings/{offering_id}/share-link", dependencies=[CsrfChecked])
def share_link(offering_id: Id, session: DbSession, principal: Adopting) -> Response:
    service.share_link(session, principal, offering_id)
    return redirect(f"/adoption/offerings/{offering_id}#share-h")


@router.get("/adoption/mine", response_class=HTMLResponse)
def mine(request: Request, session: DbSession, principal: Adopting) -> HTMLResponse:
    person_id = principal.person_id or 0
    links = [
        (
            link,
            offering,
            service.attributed(session, link),
            share_block(site_url(request), link.code),
        )
        for link, offering in service.share_links_of(session, person_id)
    ]
    return render(
        request,
        "adoption/mine.html",
        {**labels(), "orders": service.orders_of(session, person_id), "links": links},
    )


@router.get("/adoption/orders/{code}", response_class=HTMLResponse)
def order_page(
    request: Request, code: OrderCode, session: DbSession, principal: Adopting
) -> HTMLResponse:
    order = service.own_order(session, principal, code)
    offering, field, farm = service.offering_detail(
        session, service.public_offering(session, order.offering_id)
    )
    return render(
        request,
        "adoption/order.html",
        {
            **labels(),
            "order": order,
            "offering": offering,
            "field": field,
            "farm": farm,
            "transitions": service.transitions(session, order.id),
            "refunded_fen": service.refunded_fen(session, order),
            "share": service.share_of(session, order.id),
            "complaints": service.complaints_of_order(session, order.id),
            "posts": service.posts(session, offering.id, limit=10),
            "regions": address_regions(session, farm),
            "address_region": session.get(Region, order.address_region_id)
            if order.address_region_id
            else None,
            "consent_purpose": service.CONSENT_PURPOSES[service.DELIVERY_PURPOSE],
            "now": utcnow(),
        },
    )


@router.get("/adoption/orders/{code}/pay")
def pay(code: OrderCode, session: DbSession, principal: Adopting) -> Response:
    """To the cashier, while the reservation holds (refused with the reason once it is over)."""
    return redirect(service.checkout(session, principal, code))


@router.post("/adoption/orders/{code}/cancel", dependencies=[CsrfChecked])
def cancel(code: OrderCode, session: DbSession, principal: Adopting) -> Response:
    service.cancel(session, principal, code)
    return redirect(_order_page(code))


@router.post("/adoption/orders/{code}/address", dependencies=[CsrfChecked])
def set_address(
    code: OrderCode, session: DbSession, principal: Adopting, form: FormFields
) -> Response:
    values = {**form, "consent": form.get("consent") == "yes"}
    service.set_address(session, principal, code, parse_form(AddressIn, values))
    return redirect(_order_page(code) + "#address")


@router.post("/adoption/orders/{code}/address/forget", dependencies=[CsrfChecked])
def forget_address(code: OrderCode, session: DbSession, principal: Adopting) -> Response:
    service.forget_address(session, principal, code)
    return redirect(_order_page(code) + "#address")


@router.post("/adoption/orders/{code}/delivered", dependencies=[CsrfChecked])
def confirm_delivery(code: OrderCode, session: DbSession, principal: Adopting) -> Response:
    service.confirm_delivery(session, principal, code)
    return redirect(_order_page(code))


@router.post(
    "/adoption/orders/{code}/complaints",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def complain(
    code: OrderCode,
    session: DbSession,
    principal: Adopting,
    body: Annotated[str, Form(max_length=5000)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    # Read first, so that a complaint refused for its words stores no photo.
    parse_form(ComplaintIn, {"body": body})
    command = parse_form(
        ComplaintIn,
        {"body": body, "photo_file_ids": saved_photos(session, principal, photos)},
        {"photo_file_ids": "photos"},
    )
    service.complain(session, principal, code, command)
    return redirect(_order_page(code) + "#complaints")


@router.get("/adoption/complaints/{complaint_id}/photos/{index}")
def complaint_photo_file(
    complaint_id: Id,
    index: Annotated[int, Path(ge=0, le=8)],
    session: DbSession,
    principal: LoggedIn,
) -> Response:
    """A complaint's photo: for its adopter and the farm answering it."""
    stored, data = complaint_photo(session, principal, complaint_id, index)
    return Response(
        data, media_type=stored.content_type, headers={"Cache-Control": "private, max-age=3600"}
    )
