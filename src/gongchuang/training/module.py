"""The training and quiz module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module
from gongchuang.core.web import PersonalBlock
from gongchuang.topics import training as topics
from gongchuang.training import jobs, service
from gongchuang.training.permissions import ACCESS

MODULE = Module(
    code="training",
    title=N_("Training and quizzes"),
    summary=N_(
        "Courses on policy, farming and skills that work offline on a phone, training "
        "classes with certificates, and science quizzes anyone can join."
    ),
    href="/training",
    access=ACCESS,
    models="gongchuang.training.models",
    publishes=(topics.CourseCompleted, topics.ClassCompleted),
    jobs=(
        JobSpec(
            "training.expire_attempts", jobs.expire_attempts, lease_seconds=300, every_seconds=300
        ),
    ),
    routers=("gongchuang.training.api", "gongchuang.training.pages"),
    templates=Path(__file__).resolve().parent / "templates",
    personal_block=PersonalBlock("training/_home_mine.html", service.home_summary),
)
