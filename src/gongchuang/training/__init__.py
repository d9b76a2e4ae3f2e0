"""Rural training (为村耕耘者) and science quizzes (科普答题): courses that work offline,
accredited institutions' classes against yearly targets, credentials into the core registry,
and quiz campaigns for millions with leaderboards."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gongchuang.core.i18n import N_
from gongchuang.core.web import ModuleEntry, PersonalBlock, register_module


def register() -> None:
    from gongchuang.training import permissions, quiz, service  # noqa: F401


def install(app: FastAPI) -> None:
    from gongchuang.training import api, pages, service

    app.include_router(api.router)
    app.include_router(pages.router)
    register_module(
        ModuleEntry(
            code="training",
            title=N_("Training and quizzes"),
            summary=N_(
                "Courses on policy, farming and skills that work offline on a phone, training "
                "classes with certificates, and science quizzes anyone can join."
            ),
            href="/training",
            personal_block=PersonalBlock("training/_home_mine.html", service.home_summary),
        ),
        Path(__file__).resolve().parent / "templates",
    )
