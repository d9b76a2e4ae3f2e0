"""HTML pages of rural training: the course catalogue and lessons (offline-capable), course
publishing, institutions' classes, departments' accreditation and dashboards, and the public quiz
campaigns (guests welcome). Routes parse, call the service, and render.

One module per audience; `router` includes each one's routes, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from gongchuang.training.pages import campaigns, classes, departments, learner, publishing

router = APIRouter(include_in_schema=False)
for part in (learner, publishing, classes, departments, campaigns):
    router.include_router(part.router)

__all__ = ["router"]
