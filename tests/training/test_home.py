"""A learner's home page block: the courses begun and not completed, with lessons done."""

from __future__ import annotations

from gongchuang.core.clock import utcnow
from gongchuang.training import service
from tests.conftest import login
from tests.support.principals import acting
from tests.training.conftest import TrainingWorld


def test_course_progress_on_the_learners_home_page(client, session, tw: TrainingWorld) -> None:
    learner = acting(tw.learner)
    assert service.home_summary(session, learner) is None  # nothing begun: no block
    service.enrol(session, learner, tw.course.id)
    lessons = service.lessons_of(session, tw.course.id)
    service.record_progress(
        session, learner, [service.ProgressItem(lessons[0].id, 0, True, utcnow())]
    )
    [underway] = service.home_summary(session, learner) or []
    assert (underway.course.id, underway.lessons_done, underway.lessons) == (
        tw.course.id,
        1,
        len(lessons),
    )
    session.commit()
    login(client, tw.learner.phone)
    html = client.get("/").text
    assert (
        'data-testid="home-courses"' in html and f'href="/training/courses/{tw.course.id}"' in html
    )
