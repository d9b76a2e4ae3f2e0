"""Training permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import (
    register_kinds,
    register_local_only,
    register_permissions,
    register_role,
    register_self_service,
)


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


register_permissions(TrainingPerm)
register_local_only(TrainingPerm.PUBLISH, TrainingPerm.INSTITUTION)
register_self_service(TrainingPerm.LEARN.value)
# Classes are run by accredited institutions. (DEPARTMENT is a reach over institutions in a
# region: it is checked on the institution, so it is not limited by kind.)
register_kinds(
    TrainingPerm.INSTITUTION,
    OrganisationKind.school,
    OrganisationKind.hospital,
    OrganisationKind.ngo,
    OrganisationKind.company,
)
register_role(
    "admin", N_("Administrator"), {TrainingPerm.PUBLISH.value, TrainingPerm.INSTITUTION.value}
)
register_role("staff", N_("Staff"), {TrainingPerm.PUBLISH.value, TrainingPerm.INSTITUTION.value})
register_role("trainer", N_("Trainer"), {TrainingPerm.INSTITUTION.value})
register_role(
    "department_staff",
    N_("Department staff"),
    {TrainingPerm.DEPARTMENT.value, TrainingPerm.PUBLISH.value},
)
