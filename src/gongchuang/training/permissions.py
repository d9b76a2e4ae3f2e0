"""Training permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import Access, Role


class TrainingPerm(enum.StrEnum):
    # Publish courses, question banks and quiz campaigns in the organisation's name.
    PUBLISH = "training.publish"
    # An accredited institution's staff: its classes, rosters, attendance, assessment.
    INSTITUTION = "training.institution"
    # A department (provincial agriculture department ...): accredits institutions, sets
    # programme targets, spot-checks classes; reaches the institutions in its region.
    DEPARTMENT = "training.department"
    # A learner's own acts: enrol, learn, take quizzes.
    LEARN = "training.learn"


ACCESS = Access(
    permissions=TrainingPerm,
    local_only=(TrainingPerm.PUBLISH, TrainingPerm.INSTITUTION),
    self_service=(TrainingPerm.LEARN,),
    # Classes are run by accredited institutions. (DEPARTMENT is a reach over institutions in a
    # region: it is checked on the institution, so it is not limited by kind.)
    kinds={
        TrainingPerm.INSTITUTION: (
            OrganisationKind.school,
            OrganisationKind.hospital,
            OrganisationKind.ngo,
            OrganisationKind.company,
        )
    },
    roles=(
        Role(
            "admin",
            N_("Administrator"),
            frozenset({TrainingPerm.PUBLISH, TrainingPerm.INSTITUTION}),
        ),
        Role("staff", N_("Staff"), frozenset({TrainingPerm.PUBLISH, TrainingPerm.INSTITUTION})),
        Role("trainer", N_("Trainer"), frozenset({TrainingPerm.INSTITUTION})),
        Role(
            "department_staff",
            N_("Department staff"),
            frozenset({TrainingPerm.DEPARTMENT, TrainingPerm.PUBLISH}),
        ),
    ),
)
