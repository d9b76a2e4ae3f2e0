"""Events of the training module."""

from __future__ import annotations

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class CourseCompleted(Event):
    topic = "training.course_completed"
    label = N_("A learner completed a course")

    course_id: int
    person_id: int
    organisation_id: int


class ClassCompleted(Event):
    topic = "training.class_completed"
    label = N_("A training class was completed")

    class_id: int
    completed: int  # trainees who passed
    organisation_id: int
