"""Village points governance (村级事务积分制管理): rules, records, approval, public notice,
objections, the points supermarket and dashboards."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gongchuang.core.i18n import N_
from gongchuang.core.web import ModuleEntry, PersonalBlock, register_module


def register() -> None:
    from gongchuang.points import jobs, permissions, service  # noqa: F401


def install(app: FastAPI) -> None:
    from gongchuang.points import api, pages, service

    app.include_router(api.router)
    app.include_router(pages.router)
    register_module(
        ModuleEntry(
            code="points",
            title=N_("Village points"),
            summary=N_(
                "Record civic deeds for points, approve them, post them publicly, and redeem "
                "points in the village shop."
            ),
            href="/points",
            personal_block=PersonalBlock("points/_home_mine.html", service.home_summary),
        ),
        Path(__file__).resolve().parent / "templates",
    )
