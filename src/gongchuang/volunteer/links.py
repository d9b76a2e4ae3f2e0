"""The volunteer module's addresses (spelt in `service.addresses`) for the request at hand: the
site's address is the one the request came to."""

from __future__ import annotations

from fastapi import Request

from gongchuang.core.web import site_url
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Certificate, Volunteer


def site(request: Request) -> str:
    """The address the request came to, without its trailing slash."""
    return site_url(request)


def card_url(request: Request, volunteer: Volunteer) -> str:
    """Where anyone checks the volunteer's e-card (its QR code)."""
    return service.card_url(site(request), volunteer)


def checkin_url(request: Request, code: str) -> str:
    """What the organiser's rotating QR code opens on a volunteer's phone."""
    return service.checkin_url(site(request), code)


def certificate_check_url(request: Request, certificate: Certificate) -> str:
    """Where anyone checks a certificate by its code (printed on it)."""
    return service.certificate_check_url(site(request), certificate)
