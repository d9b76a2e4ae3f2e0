"""Social emergency response (社会化应急): AED registry, responder network, 120 intake,
matching and alerting, the dispatcher console and coverage analysis."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gongchuang.core.i18n import N_
from gongchuang.core.web import (
    ModuleEntry,
    PersonalBlock,
    register_module,
    register_template_global,
)


def register() -> None:
    from gongchuang.emergency import jobs, permissions, service  # noqa: F401


def install(app: FastAPI) -> None:
    from gongchuang.emergency import api, opening_hours, pages, service

    app.include_router(api.router)
    app.include_router(pages.router)
    register_template_global("opening_hours_in_words", opening_hours.describe)
    register_template_global("aed_problems_in_words", service.aed_problems_in_words)
    register_module(
        ModuleEntry(
            code="emergency",
            title=N_("First aid network"),
            summary=N_(
                "AEDs on a map, first-aiders alerted to a cardiac arrest nearby, and a live "
                "console for 120 dispatchers."
            ),
            href="/emergency",
            personal_block=PersonalBlock(
                "emergency/_home_mine.html", service.home_summary, urgent=True
            ),
            home_block="emergency/_home_first_aid.html",
            header_link=(N_("First aid"), "/first-aid"),
        ),
        Path(__file__).resolve().parent / "templates",
    )
