"""HTML pages of volunteer service, one module per part of the work; `router` holds them all
(in the order they were always matched)."""

from __future__ import annotations

from fastapi import APIRouter

from gongchuang.volunteer.pages import (
    activities,
    benefits,
    calls,
    certificates,
    checkin,
    home,
    organisations,
    organising,
)

router = APIRouter(include_in_schema=False)
router.include_router(home.router)
router.include_router(activities.router)
router.include_router(organising.router)
router.include_router(checkin.router)
router.include_router(certificates.router)
router.include_router(benefits.router)
router.include_router(organisations.router)
router.include_router(calls.router)
