"""The addresses the volunteer module hands out (behind a QR code, on an e-card, on a
certificate), spelt once for the pages and the API alike, from the site's address (`site`: its
scheme and host, without a trailing slash; `links.site` reads it from a request)."""

from __future__ import annotations

from gongchuang.volunteer.models import Certificate, Volunteer
from gongchuang.volunteer.service.profiles import card_token


def card_url(site: str, volunteer: Volunteer) -> str:
    """Where anyone checks the volunteer's e-card (its QR code)."""
    return f"{site}/volunteer/card/{card_token(volunteer)}"


def checkin_url(site: str, code: str) -> str:
    """What the organiser's rotating QR code opens on a volunteer's phone."""
    return f"{site}/volunteer/check?code={code}"


def certificate_check_url(site: str, certificate: Certificate) -> str:
    """Where anyone checks a certificate by its code (printed on it)."""
    return f"{site}/volunteer/certificates/verify/{certificate.code}"


def certificate_pdf_url(site: str, certificate: Certificate) -> str:
    """The certificate's PDF, for its holder."""
    return f"{site}/volunteer/certificates/{certificate.id}.pdf"
