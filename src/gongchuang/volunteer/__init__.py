"""Volunteer service (志愿服务): activities, sign-up, verified check-in and hours, certificates,
recommendation, benefits and mass mobilisation."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gongchuang.core.i18n import N_
from gongchuang.core.web import ModuleEntry, PersonalBlock, register_module


def register() -> None:
    from gongchuang.volunteer import jobs, permissions, service  # noqa: F401


def install(app: FastAPI) -> None:
    from gongchuang.volunteer import api, pages, service

    app.include_router(api.router)
    app.include_router(pages.router)
    register_module(
        ModuleEntry(
            code="volunteer",
            title=N_("Volunteering"),
            summary=N_(
                "Find activities near you, sign up, check in with a QR code, and earn verified "
                "hours, star levels, certificates and benefits."
            ),
            href="/volunteer",
            personal_block=PersonalBlock("volunteer/_home_mine.html", service.home_summary),
        ),
        Path(__file__).resolve().parent / "templates",
    )
