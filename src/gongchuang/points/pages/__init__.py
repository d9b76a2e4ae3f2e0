"""HTML pages of points governance. Routes parse, call the service, and render.

One module per part of the work; `router` includes each one's routes, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from gongchuang.points.pages import board, figures, home, manage, records, reporting, shop

router = APIRouter(include_in_schema=False)
for part in (home, reporting, records, board, figures, shop, manage):
    router.include_router(part.router)

__all__ = ["router"]
