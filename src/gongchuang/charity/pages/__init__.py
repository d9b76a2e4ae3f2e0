"""HTML pages of charity with matched giving: the public's and donors' pages, a charity's
management, the reviewers' queue and the community funds' work. Routes parse, call the service,
and render.

One module per audience; `router` includes each one's routes, in this order: the fixed paths of
the management pages (/charity/campaigns/manage, /charity/funds/manage) before the public
pages' /charity/campaigns/{id} and /charity/funds/{id} would take them."""

from __future__ import annotations

from fastapi import APIRouter

from gongchuang.charity.pages import donor, fundwork, manage, public, review

router = APIRouter(include_in_schema=False)
for part in (manage, review, fundwork, public, donor):
    router.include_router(part.router)

__all__ = ["router"]
