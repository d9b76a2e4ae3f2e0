"""A donor's pages: giving to a project or a community fund (to the cashier), a monthly gift,
a donation with its matches and receipt, and my giving."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from gongchuang.charity import service
from gongchuang.charity.models import DonationStatus
from gongchuang.charity.pages._common import (
    keep_device,
    labels,
    origin_of,
    typed_or_picked,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import DonateIn, RecurringIn
from gongchuang.charity.service import queries
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.forms import (
    fen_from_yuan,
    parse_form,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    DbSession,
    FormFields,
    Id,
    Require,
    redirect,
    render,
    site_url,
)

router = APIRouter(include_in_schema=False)
Donating = Annotated[Principal, Depends(Require(CharityPerm.DONATE))]
DonationCode = Annotated[str, Path(pattern=r"^D\d{14}$")]


def _gift(form: FormFields) -> DonateIn:
    values = {
        **form,
        "amount_fen": fen_from_yuan(typed_or_picked(form), "amount_yuan"),
        "anonymous": form.get("anonymous") == "yes",
    }
    return parse_form(DonateIn, values, {"amount_fen": "amount_yuan"})


@router.post("/charity/projects/{project_id}/donate", dependencies=[CsrfChecked])
def donate(
    request: Request, project_id: Id, session: DbSession, principal: Donating, form: FormFields
) -> Response:
    donation = service.donate(session, principal, project_id, _gift(form), origin_of(request))
    return keep_device(request, redirect(service.checkout(session, principal, donation.code)))


@router.post("/charity/funds/{fund_id}/donate", dependencies=[CsrfChecked])
def contribute(
    request: Request, fund_id: Id, session: DbSession, principal: Donating, form: FormFields
) -> Response:
    donation = service.donate_to_fund(session, principal, fund_id, _gift(form), origin_of(request))
    return keep_device(request, redirect(service.checkout(session, principal, donation.code)))


@router.post("/charity/projects/{project_id}/monthly", dependencies=[CsrfChecked])
def give_monthly(
    project_id: Id, session: DbSession, principal: Donating, form: FormFields
) -> Response:
    values = {
        **form,
        "amount_fen": fen_from_yuan(form.get("amount_yuan"), "amount_yuan"),
        "anonymous": form.get("anonymous") == "yes",
    }
    command = parse_form(RecurringIn, values, {"amount_fen": "amount_yuan"})
    service.start_recurring(session, principal, project_id, command)
    return redirect("/charity/mine#gifts")


@router.post("/charity/gifts/{gift_id}/cancel", dependencies=[CsrfChecked])
def cancel_gift(gift_id: Id, session: DbSession, principal: Donating) -> Response:
    service.cancel_recurring(session, principal, gift_id)
    return redirect("/charity/mine#gifts")


@router.get("/charity/mine", response_class=HTMLResponse)
def mine(request: Request, session: DbSession, principal: Donating) -> HTMLResponse:
    person_id = principal.person_id or 0
    gifts = service.gifts_of(session, person_id)
    return render(
        request,
        "charity/mine.html",
        {
            **labels(),
            "donations": queries.donations_of(session, person_id),
            "gifts": gifts,
            "titles": queries.project_titles(session, [g.project_id for g in gifts]),
        },
    )


@router.get("/charity/donations/{code}", response_class=HTMLResponse)
def donation_page(
    request: Request, code: DonationCode, session: DbSession, principal: Donating
) -> HTMLResponse:
    donation = service.own_donation(session, principal, code)
    payment = payments.payment_of(session, donation.payment_id)
    return render(
        request,
        "charity/donation.html",
        {
            **labels(),
            "donation": donation,
            "recipient": queries.recipient_of(session, donation),
            "matches": service.matches_of_donation(session, donation.id),
            "matched_before": queries.matched_before(session, donation),
            "payment": payment,
            "payable": donation.status == DonationStatus.pending
            and payment is not None
            and payment.expires_at > utcnow(),
            "check_url": f"{site_url(request)}/charity/receipts/{donation.code}",
        },
    )


@router.get("/charity/donations/{code}/pay")
def pay(code: DonationCode, session: DbSession, principal: Donating) -> Response:
    """To the cashier, while the donation waits for its payment (refused with the reason once
    it is over)."""
    return redirect(service.checkout(session, principal, code))


@router.get("/charity/donations/{code}/receipt.pdf")
def receipt(
    request: Request, code: DonationCode, session: DbSession, principal: Donating
) -> Response:
    """The donation's receipt, once the money was received."""
    # Imported here: receipts draw PDFs, which only this download needs.
    from gongchuang.charity import receipts

    donation = service.own_donation(session, principal, code)
    if donation.status != DonationStatus.paid:
        raise NotFound()
    return Response(
        receipts.receipt_pdf(session, donation, site_url(request)),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{donation.code}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
