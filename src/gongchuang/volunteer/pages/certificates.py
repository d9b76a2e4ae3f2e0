"""Certificates of verified hours: asking for one, its PDF and the public check by code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core.identity import mask_name
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    Id,
    LoggedIn,
    redirect,
    render,
)
from gongchuang.volunteer import links, reports, service
from gongchuang.volunteer.models import HOURS_ENTRY_LABELS
from gongchuang.volunteer.schemas import CertificateIn

router = APIRouter(include_in_schema=False)


@router.get("/volunteer/certificates", response_model=None)
def certificates(request: Request, session: DbSession, principal: LoggedIn) -> Response:
    volunteer = service.get_volunteer(session, principal.person_id)
    if volunteer is None:
        return redirect("/volunteer/profile")
    start, end = reports.period_default()
    return render(
        request,
        "volunteer/certificates.html",
        {
            "certificates": service.certificates_of(session, volunteer.person_id),
            "organisations": service.served_organisations(session, volunteer.person_id),
            "ledger": service.hours_ledger(session, volunteer.person_id, 50),
            "entry_labels": HOURS_ENTRY_LABELS,
            "start": start,
            "end": end,
        },
    )


@router.post("/volunteer/certificates", dependencies=[CsrfChecked])
def request_certificate(
    session: DbSession,
    principal: LoggedIn,
    command: Annotated[CertificateIn, Form()],
) -> RedirectResponse:
    certificate = service.issue_certificate(session, principal, **command.model_dump())
    return redirect(f"/volunteer/certificates?issued={certificate.id}")


@router.get("/volunteer/certificates/{certificate_id}.pdf")
def certificate_pdf(
    certificate_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> Response:
    certificate = service.get_certificate_for(session, principal, certificate_id)
    verify = links.certificate_check_url(request, certificate)
    return Response(
        reports.certificate_pdf(certificate, verify),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{certificate.id}.pdf"'},
    )


@router.get("/volunteer/certificates/verify/{code}", response_class=HTMLResponse)
def verify_certificate(
    code: Annotated[str, Path(max_length=32)],
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
) -> HTMLResponse:
    certificate = service.certificate_by_code(session, code)
    return render(
        request,
        "volunteer/certificate_check.html",
        {
            "certificate": certificate,
            "holder": mask_name(certificate.holder_name),
            "hours": round(certificate.minutes / 60, 1),
        },
    )
