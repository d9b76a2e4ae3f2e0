"""The addresses the volunteer module hands out (behind a QR code, on an e-card, on a
certificate), spelt once for the pages and the API alike."""

from __future__ import annotations

from fastapi import Request

from gongchuang.volunteer import service
from gongchuang.volunteer.models import Certificate, Volunteer


def site(request: Request) -> str:
    """The address the request came to, without its trailing slash."""
    return str(request.base_url).rstrip("/")


def card_url(request: Request, volunteer: Volunteer) -> str:
    """Where anyone checks the volunteer's e-card (its QR code)."""
    return f"{site(request)}/volunteer/card/{service.card_token(volunteer)}"


def checkin_url(request: Request, code: str) -> str:
    """What the organiser's rotating QR code opens on a volunteer's phone."""
    return f"{site(request)}/volunteer/check?code={code}"


def certificate_check_url(request: Request, certificate: Certificate) -> str:
    """Where anyone checks a certificate by its code (printed on it)."""
    return f"{site(request)}/volunteer/certificates/verify/{certificate.code}"


def certificate_pdf_url(request: Request, certificate: Certificate) -> str:
    """The certificate's PDF, for its holder."""
    return f"{site(request)}/volunteer/certificates/{certificate.id}.pdf"
