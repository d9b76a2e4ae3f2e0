"""Programmes, their yearly targets, and progress against plan by province, institution and
month: the figures a provincial department reports upwards."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, regions, spreadsheets
from gongchuang.core.clock import local_today
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, refuse_if_any
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation, Region
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import (
    ClassTrainee,
    Course,
    Enrolment,
    Programme,
    ProgrammeTarget,
    TraineeStatus,
    TrainingClass,
)
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import TargetIn, TargetsIn


def create_programme(
    session: Session,
    actor: Principal,
    department: Organisation,
    *,
    code: str,
    name: str,
    start_year: int,
    end_year: int,
) -> Programme:
    if not has_permission(session, actor, TrainingPerm.DEPARTMENT, department):
        raise NotFound()
    code = clean_text(code, "code", max_length=40)
    if not 2000 <= start_year <= end_year <= start_year + 10:
        raise InvalidInput(
            N_("A programme runs from a start year to an end year at most ten years later"),
            errors=[{"field": "end_year", "message": N_("invalid years")}],
        )
    programme = Programme(
        organisation_id=department.id,
        code=code,
        name=clean_text(name, "name", max_length=200),
        start_year=start_year,
        end_year=end_year,
    )
    try:
        # The code is unique (uq_training_programme_code): of two programmes given the same
        # one at once, the second is told so.
        with session.begin_nested():
            session.add(programme)
            session.flush()
    except IntegrityError:
        if session.scalar(select(Programme.id).where(Programme.code == code)):
            raise Conflict(N_("Another programme already has this code")) from None
        raise
    audit.record(session, actor, "training.programme.create", "training_programme", programme.id)
    return programme


def get_programme_for(session: Session, actor: Principal, programme_id: int) -> Programme:
    programme = session.get(Programme, programme_id)
    department = session.get(Organisation, programme.organisation_id) if programme else None
    if programme is None or not has_permission(session, actor, TrainingPerm.DEPARTMENT, department):
        raise NotFound()
    return programme


def programmes(session: Session) -> list[Programme]:
    return list(session.scalars(select(Programme).order_by(Programme.start_year, Programme.id)))


def set_targets(session: Session, actor: Principal, programme_id: int, command: TargetsIn) -> int:
    """Replace the plan of the provinces named in the command. The plan is cumulative, so it
    may not shrink from one year to the next."""
    get_programme_for(session, actor, programme_id)
    # One replacement at a time, each deleting what the one before it stored (two at once
    # would each delete only the old plan, and the second's rows collide with the first's).
    programme = session.scalars(
        select(Programme)
        .where(Programme.id == programme_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()
    errors: list[dict[str, object]] = []
    resolved: list[tuple[int, TargetIn]] = []
    for index, row in enumerate(command.targets):
        region = session.scalar(select(Region).where(Region.code == row.region_code))
        if region is None or region.level != "province":
            errors.append({"field": f"rows[{index}].region_code", "message": N_("not a province")})
            continue
        if not programme.start_year <= row.year <= programme.end_year:
            errors.append({"field": f"rows[{index}].year", "message": N_("outside the programme")})
        resolved.append((region.id, row))
    plans: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for region_id, row in resolved:
        plans[(region_id, row.mode)].append((row.year, row.cumulative_planned))
    for years in plans.values():
        years.sort()
        if len({y for y, _ in years}) != len(years):
            errors.append(
                {"field": "rows", "message": N_("a province's plan gives the same year twice")}
            )
        if any(b[1] < a[1] for a, b in itertools.pairwise(years)):
            errors.append(
                {
                    "field": "rows",
                    "message": N_("the cumulative plan shrinks from a year to the next"),
                }
            )
    refuse_if_any(errors)
    region_ids = {region_id for region_id, _ in resolved}
    for target in session.scalars(
        select(ProgrammeTarget).where(
            ProgrammeTarget.programme_id == programme.id, ProgrammeTarget.region_id.in_(region_ids)
        )
    ):
        session.delete(target)
    session.flush()
    for region_id, row in resolved:
        session.add(
            ProgrammeTarget(
                programme_id=programme.id,
                region_id=region_id,
                year=row.year,
                mode=row.mode,
                cumulative_planned=row.cumulative_planned,
            )
        )
    session.flush()
    audit.record(
        session, actor, "training.targets", "training_programme", programme.id,
        after={"rows": len(resolved)},
    )  # fmt: skip
    return len(resolved)


# --- progress ---------------------------------------------------------------------------------


def _beijing_month(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", cast(column, String), "+8 hours")


@dataclass
class ProvinceRow:
    region_id: int
    name: str
    planned: dict[str, int] = field(default_factory=dict)  # mode -> cumulative plan this year
    actual: dict[str, int] = field(default_factory=dict)  # mode -> trained so far

    def percent(self, mode: str) -> int | None:
        plan = self.planned.get(mode, 0)
        return round(100 * self.actual.get(mode, 0) / plan) if plan else None


@dataclass(frozen=True)
class InstitutionRow:
    organisation_id: int
    name: str
    province: str
    classes: int
    completed: int
    not_passed: int


@dataclass
class Progress:
    programme: Programme
    year: int
    provinces: list[ProvinceRow]
    institutions: list[InstitutionRow]
    months: list[str]
    # mode -> cumulative per month (actual; plan interpolated between year ends)
    actual_by_month: dict[str, list[int]]
    plan_by_month: dict[str, list[int]]
    # Index in `months` of the month still running (its actual figures count up to today);
    # the actual series stop there: months to come have no figure, not 0.
    partial_month: int | None = None

    def month_rows(self) -> list[tuple[str, int | None, int, int | None, int]]:
        """Month, offline trained, offline plan, online trained, online plan: the chart's
        figures as a table (None where the month has not begun)."""

        def at(series: list[int], index: int) -> int | None:
            return series[index] if index < len(series) else None

        offline = self.actual_by_month.get("offline", [])
        online = self.actual_by_month.get("online", [])
        plan_off = self.plan_by_month.get("offline", [0] * len(self.months))
        plan_on = self.plan_by_month.get("online", [0] * len(self.months))
        return [
            (month, at(offline, i), plan_off[i], at(online, i), plan_on[i])
            for i, month in enumerate(self.months)
        ]

    def total(self, mode: str, which: str = "actual") -> int:
        return sum(getattr(p, which).get(mode, 0) for p in self.provinces)

    def chart_data(self) -> dict[str, object]:
        return {
            "months": self.months,
            "partial": self.partial_month,
            "actual": self.actual_by_month,
            "plan": self.plan_by_month,
            "provinces": [
                {
                    "name": p.name,
                    "planned": p.planned,
                    "actual": p.actual,
                }
                for p in self.provinces
            ],
            "labels": {
                "offline": gettext("Offline trained"),
                "online": gettext("Online trained"),
                "plan_offline": gettext("Offline plan"),
                "plan_online": gettext("Online plan"),
                "planned": gettext("Plan"),
                "actual": gettext("Trained"),
                "partial": gettext("so far"),
            },
        }


def _province_of(paths: dict[int, str], region_id: int | None) -> int | None:
    path = paths.get(region_id) if region_id is not None else None
    return regions.path_ids(path)[0] if path else None


def progress(session: Session, programme: Programme, year: int | None = None) -> Progress:
    """Trained people against the cumulative plan: offline = trainees who completed a class of
    the programme (counted for the institution's province), online = learners who completed a
    course of the programme (counted for the learner's home province)."""
    today = local_today()
    year = year or min(max(today.year, programme.start_year), programme.end_year)
    months = [
        f"{y}-{m:02d}"
        for y in range(programme.start_year, programme.end_year + 1)
        for m in range(1, 13)
    ]
    counts: dict[str, dict[tuple[int | None, str], int]] = {"offline": {}, "online": {}}
    by_institution: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    month = _beijing_month(session, TrainingClass.completed_at)
    institution_region: dict[int, int] = dict(
        session.execute(
            select(Organisation.id, Organisation.region_id).where(
                Organisation.id.in_(
                    select(TrainingClass.institution_organisation_id).where(
                        TrainingClass.programme_id == programme.id
                    )
                )
            )
        ).all()
    )
    class_rows = session.execute(
        select(
            TrainingClass.institution_organisation_id,
            month,
            ClassTrainee.status,
            func.count(ClassTrainee.id),
        )
        .join(ClassTrainee, ClassTrainee.class_id == TrainingClass.id)
        .where(TrainingClass.programme_id == programme.id, TrainingClass.completed_at.is_not(None))
        .group_by(TrainingClass.institution_organisation_id, month, ClassTrainee.status)
    ).all()
    classes_per_institution = dict(
        session.execute(
            select(TrainingClass.institution_organisation_id, func.count(TrainingClass.id))
            .where(TrainingClass.programme_id == programme.id)
            .group_by(TrainingClass.institution_organisation_id)
        ).all()
    )
    online_month = _beijing_month(session, Enrolment.completed_at)
    online_rows = session.execute(
        select(Enrolment.region_id, online_month, func.count(Enrolment.id))
        .join(Course, Course.id == Enrolment.course_id)
        .where(Course.programme_id == programme.id, Enrolment.completed_at.is_not(None))
        .group_by(Enrolment.region_id, online_month)
    ).all()
    region_ids = set(institution_region.values()) | {r for r, _m, _c in online_rows if r}
    paths: dict[int, str] = dict(
        session.execute(select(Region.id, Region.path).where(Region.id.in_(region_ids))).all()
    )
    for institution_id, when, status, count in class_rows:
        if status == TraineeStatus.completed:
            province = _province_of(paths, institution_region.get(institution_id))
            key = (province, str(when))
            counts["offline"][key] = counts["offline"].get(key, 0) + int(count)
            by_institution[institution_id][1] += int(count)
        elif status == TraineeStatus.not_passed:
            by_institution[institution_id][2] += int(count)
    for region_id, when, count in online_rows:
        key = (_province_of(paths, region_id), str(when))
        counts["online"][key] = counts["online"].get(key, 0) + int(count)

    targets = list(
        session.scalars(select(ProgrammeTarget).where(ProgrammeTarget.programme_id == programme.id))
    )
    province_ids = {t.region_id for t in targets} | {
        p for mode in counts.values() for (p, _m) in mode if p is not None
    }
    names = dict(
        session.execute(select(Region.id, Region.name).where(Region.id.in_(province_ids))).all()
    )
    end_of_year = f"{year}-12"
    rows = {pid: ProvinceRow(pid, names.get(pid, "?")) for pid in province_ids}
    for target in targets:
        if target.year == year:
            rows[target.region_id].planned[target.mode] = target.cumulative_planned
    for mode, per in counts.items():
        for (province, when), count in per.items():
            if province is not None and when <= end_of_year:
                rows[province].actual[mode] = rows[province].actual.get(mode, 0) + count

    current = f"{today.year}-{today.month:02d}"
    shown_months = [m for m in months if m <= current] or months[:1]
    actual_by_month: dict[str, list[int]] = {}
    plan_by_month: dict[str, list[int]] = {}
    for mode in ("offline", "online"):
        per_month: dict[str, int] = defaultdict(int)
        for (_province, when), count in counts[mode].items():
            per_month[when] += count
        running, series = 0, []
        for m in shown_months:
            running += per_month.get(m, 0)
            series.append(running)
        actual_by_month[mode] = series
        year_end: dict[int, int] = defaultdict(int)
        for target in targets:
            if target.mode == mode:
                year_end[target.year] += target.cumulative_planned
        plan_by_month[mode] = [_plan_at(year_end, programme.start_year, m) for m in months]
    institution_names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_(set(classes_per_institution))
            )
        ).all()
    )
    institutions = sorted(
        (
            InstitutionRow(
                organisation_id=i,
                name=institution_names.get(i, "?"),
                province=names.get(_province_of(paths, institution_region.get(i)) or 0, ""),
                classes=int(classes_per_institution.get(i, 0)),
                completed=by_institution[i][1],
                not_passed=by_institution[i][2],
            )
            for i in classes_per_institution
        ),
        key=lambda row: (-row.completed, row.name),
    )
    return Progress(
        programme=programme,
        year=year,
        provinces=sorted(rows.values(), key=lambda r: -r.planned.get("offline", 0)),
        institutions=institutions,
        months=months,
        actual_by_month=actual_by_month,
        plan_by_month=plan_by_month,
        partial_month=months.index(current) if current in months else None,
    )


def _plan_at(year_end: dict[int, int], start_year: int, month: str) -> int:
    """The cumulative plan at the end of a month, straight-line within each year."""
    year, number = int(month[:4]), int(month[5:])
    before = year_end.get(year - 1, 0) if year > start_year else 0
    target = year_end.get(year, before)
    return round(before + (target - before) * number / 12)


def progress_workbook(report: Progress) -> bytes:
    province_header = [
        gettext("Province"),
        gettext("Offline plan"),
        gettext("Offline trained"),
        "%",
        gettext("Online plan"),
        gettext("Online trained"),
        "%",
    ]
    province_rows: list[list[object]] = [
        [
            p.name,
            p.planned.get("offline", 0),
            p.actual.get("offline", 0),
            p.percent("offline"),
            p.planned.get("online", 0),
            p.actual.get("online", 0),
            p.percent("online"),
        ]
        for p in report.provinces
    ]
    institution_rows: list[list[object]] = [
        [i.name, i.province, i.classes, i.completed, i.not_passed] for i in report.institutions
    ]
    month_rows: list[list[object]] = [
        [
            month,
            report.actual_by_month.get("offline", [])[index]
            if index < len(report.actual_by_month.get("offline", []))
            else None,
            report.plan_by_month.get("offline", [0] * len(report.months))[index],
            report.actual_by_month.get("online", [])[index]
            if index < len(report.actual_by_month.get("online", []))
            else None,
            report.plan_by_month.get("online", [0] * len(report.months))[index],
        ]
        for index, month in enumerate(report.months)
    ]
    return spreadsheets.workbook_sheets(
        [
            (f"{gettext('By province')} {report.year}", province_header, province_rows),
            (
                gettext("By institution"),
                [
                    gettext("Institution"),
                    gettext("Province"),
                    gettext("Classes"),
                    gettext("Completed"),
                    gettext("Not passed"),
                ],
                institution_rows,
            ),
            (
                gettext("By month"),
                [
                    gettext("Month"),
                    gettext("Offline trained"),
                    gettext("Offline plan"),
                    gettext("Online trained"),
                    gettext("Online plan"),
                ],
                month_rows,
            ),
        ]
    )
