"""HTML pages of cloud adoption: the public seasons, progress and ledgers; adopters' orders;
the farm's management. Routes parse, call the service, and render.

One module per audience; `router` includes each one's routes, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from gongchuang.adoption.pages import adopter, farm, public

router = APIRouter(include_in_schema=False)
for part in (public, adopter, farm):
    router.include_router(part.router)

__all__ = ["router"]
