"""Offline training classes: opening one, who may run or see it, the roster, attendance,
assessment and completion with credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events, notifications, organisations, people, spreadsheets
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, refuse_bad_rows, refuse_if_any
from gongchuang.core.i18n import N_, Phrase, gettext
from gongchuang.core.identity import (
    is_valid_phone,
    is_valid_resident_id,
    mask_resident_id,
    normalise_phone,
)
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.topics.training import ClassCompleted
from gongchuang.training.models import (
    Attendance,
    ClassStatus,
    ClassTrainee,
    Course,
    TraineeStatus,
    TrainingClass,
)
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import AssessmentIn, ClassIn
from gongchuang.training.service._common import check_credential, issue_credential
from gongchuang.training.service.accreditation import active_accreditation


@dataclass(frozen=True)
class ClassInput:
    """A class's fields from code (the demo, tests): checked here as `ClassIn`, the contract of
    the API and the class form, is checked on the way in."""

    title: str
    starts_on: date
    ends_on: date
    onsite_days: int
    venue: str
    trainer_name: str
    cohort: str = ""
    online_hours: int = 0
    online_course_id: int | None = None
    programme_id: int | None = None
    funding_per_trainee_fen: int = 0
    pass_score: int = 60
    min_attendance_percent: int = 80
    credential_kind: str | None = None
    credential_title: str = ""
    credential_valid_days: int | None = None


def create_class(
    session: Session, actor: Principal, institution: Organisation, data: ClassInput | ClassIn
) -> TrainingClass:
    if not has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        raise NotFound()
    if active_accreditation(session, institution.id) is None:
        raise Conflict(N_("The institution holds no valid accreditation: it cannot open classes"))
    errors: list[dict[str, object]] = []
    texts: dict[str, str] = {}
    for name, limit, required in (
        ("title", 200, True),
        ("venue", 300, True),
        ("trainer_name", 100, True),
        ("cohort", 100, False),
    ):
        try:
            texts[name] = clean_text(getattr(data, name), name, max_length=limit, required=required)
        except InvalidInput as exc:
            errors += exc.errors
    span = (data.ends_on - data.starts_on).days + 1
    if span < 1:
        errors.append({"field": "ends_on", "message": N_("before the start")})
    elif span > 366:
        errors.append({"field": "ends_on", "message": N_("a class lasts at most a year")})
    if not 1 <= data.onsite_days <= max(span, 1):
        errors.append(
            {
                "field": "onsite_days",
                "message": gettext(N_("between 1 and %(most)s"), most=max(span, 1)),
            }
        )
    if not 0 <= data.online_hours <= 2000:
        errors.append({"field": "online_hours", "message": N_("between 0 and 2000")})
    if not 0 <= data.funding_per_trainee_fen <= 100_000_00:
        errors.append({"field": "funding_per_trainee_fen", "message": N_("0 to 100,000 yuan")})
    if not 0 <= data.pass_score <= 100:
        errors.append({"field": "pass_score", "message": N_("0 to 100")})
    if not 0 <= data.min_attendance_percent <= 100:
        errors.append({"field": "min_attendance_percent", "message": N_("0 to 100")})
    if data.online_course_id is not None and session.get(Course, data.online_course_id) is None:
        errors.append({"field": "online_course_id", "message": N_("no such course")})
    check_credential(
        data.credential_kind, data.credential_title, data.credential_valid_days, errors
    )
    refuse_if_any(errors)
    klass = TrainingClass(
        institution_organisation_id=institution.id,
        programme_id=data.programme_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        onsite_days=data.onsite_days,
        online_hours=data.online_hours,
        online_course_id=data.online_course_id,
        funding_per_trainee_fen=data.funding_per_trainee_fen,
        pass_score=data.pass_score,
        min_attendance_percent=data.min_attendance_percent,
        credential_kind=data.credential_kind or None,
        credential_title=data.credential_title.strip() if data.credential_kind else "",
        credential_valid_days=data.credential_valid_days if data.credential_kind else None,
        **texts,
    )
    session.add(klass)
    session.flush()
    audit.record(session, actor, "training.class.create", "training_class", klass.id)
    return klass


def institution_to_view(
    session: Session, actor: Principal, organisation_id: int
) -> tuple[Organisation, bool]:
    """(institution, may manage). Its own staff run it; the department that accredits it
    (reaching it by region) sees it without managing, as it sees the institution's classes.
    Everyone else: not found."""
    institution = session.get(Organisation, organisation_id)
    if institution is None:
        raise NotFound()
    if has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        return institution, True
    if has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        return institution, False
    raise NotFound()


def get_class_for(
    session: Session, actor: Principal, class_id: int, *, manage: bool = False
) -> TrainingClass:
    """The institution's staff may run it; its accrediting department (by region) may look and
    spot-check. Everyone else: not found."""
    klass = session.get(TrainingClass, class_id)
    institution = session.get(Organisation, klass.institution_organisation_id) if klass else None
    if klass is None or institution is None:
        raise NotFound()
    if has_permission(session, actor, TrainingPerm.INSTITUTION, institution):
        return klass
    if not manage and has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        return klass
    raise NotFound()


def class_to_view(
    session: Session, actor: Principal, class_id: int
) -> tuple[TrainingClass, Organisation, bool]:
    """(class, its institution, may run it): see `get_class_for`."""
    klass = get_class_for(session, actor, class_id)
    institution = organisations.get_organisation(session, klass.institution_organisation_id)
    return klass, institution, has_permission(session, actor, TrainingPerm.INSTITUTION, institution)


def class_to_manage(session: Session, actor: Principal, class_id: int) -> TrainingClass:
    """The class for its institution's staff, its row locked until commit and read afresh: the
    roster, the registers, the scores, the spending and the completion of one class change one
    at a time, each seeing what the one before it committed (two completions at once would
    otherwise issue two sets of credentials, and two expenses at once pass the funding cap).
    FOR NO KEY UPDATE, so rows that merely point at the class are not held up."""
    get_class_for(session, actor, class_id, manage=True)
    klass = session.scalar(
        select(TrainingClass)
        .where(TrainingClass.id == class_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if klass is None:
        raise NotFound()
    return klass


def _open_class(session: Session, actor: Principal, class_id: int) -> TrainingClass:
    klass = class_to_manage(session, actor, class_id)
    if klass.status != ClassStatus.open:
        raise Conflict(N_("This class is closed: its records can no longer change"))
    return klass


ROSTER_COLUMNS = {
    "name": ("name", "姓名"),
    "phone": ("phone", "手机号", "手机号码", "联系电话"),
    "resident_id": ("resident_id", "id_number", "身份证号", "身份证号码"),
    "position_title": ("position", "title", "职务"),
}


@dataclass(frozen=True)
class RosterImport:
    added: int
    registered: int
    unchanged: int


def import_roster(
    session: Session, actor: Principal, class_id: int, data: bytes, filename: str
) -> RosterImport:
    """Trainees from the institution's spreadsheet (name, phone, resident ID, position). All or
    nothing: every bad row is reported with its line and nothing is stored."""
    klass = _open_class(session, actor, class_id)
    rows = spreadsheets.read_rows(
        data, filename, ROSTER_COLUMNS, required={"name", "phone", "resident_id"}
    )
    errors: list[dict[str, object]] = []
    seen_phones: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    parsed = []
    for row in rows:
        phone = normalise_phone(row.values["phone"])
        resident_id = row.values["resident_id"].strip().upper()
        problems = []
        if not row.values["name"].strip():
            problems.append(N_("name is empty"))
        if not is_valid_phone(phone):
            problems.append(
                Phrase(
                    N_("phone %(phone)s is not an 11-digit mobile number"),
                    phone=row.values["phone"],
                )
            )
        elif phone in seen_phones:
            problems.append(Phrase(N_("phone repeats line %(line)s"), line=seen_phones[phone]))
        if not is_valid_resident_id(resident_id):
            problems.append(N_("resident ID number is invalid (length, birth date or check digit)"))
        elif resident_id in seen_ids:
            problems.append(
                Phrase(N_("resident ID repeats line %(line)s"), line=seen_ids[resident_id])
            )
        else:
            person = session.scalar(select(Person).where(Person.phone == phone))
            id_hash = people.resident_id_hash(resident_id)
            holder = session.scalar(select(Person.id).where(Person.id_number_hash == id_hash))
            if person is not None and person.id_number_hash and person.id_number_hash != id_hash:
                problems.append(N_("this phone is registered with a different resident ID"))
            elif holder is not None and (person is None or holder != person.id):
                problems.append(N_("this resident ID is registered with a different phone"))
        for problem in problems:
            errors.append({"line": row.line, "message": problem})
        seen_phones.setdefault(phone, row.line)
        seen_ids.setdefault(resident_id, row.line)
        parsed.append((row, phone, resident_id))
    spreadsheets.name_rows(errors, rows, "phone")  # never the resident ID: it is kept masked
    refuse_bad_rows(errors)
    on_roster = set(
        session.scalars(
            select(Person.phone)
            .join(ClassTrainee, ClassTrainee.person_id == Person.id)
            .where(ClassTrainee.class_id == klass.id)
        )
    )
    added = registered = unchanged = 0
    for row, phone, resident_id in parsed:
        if phone in on_roster:
            unchanged += 1
            continue
        person = session.scalar(select(Person).where(Person.phone == phone))
        if person is None:
            person = _register_trainee(session, actor, row.values["name"], phone, resident_id)
            registered += 1
        elif person.id_number_hash is None:
            person.id_number_hash = people.resident_id_hash(resident_id)
            person.id_number_masked = mask_resident_id(resident_id)
        session.add(
            ClassTrainee(
                class_id=klass.id,
                person_id=person.id,
                position_title=row.values.get("position_title", "").strip()[:100],
            )
        )
        added += 1
    session.flush()
    audit.record(
        session,
        actor,
        "training.roster.import",
        "training_class",
        klass.id,
        after={"added": added, "registered": registered, "unchanged": unchanged},
    )
    return RosterImport(added, registered, unchanged)


def _register_trainee(
    session: Session, actor: Principal, name: str, phone: str, resident_id: str
) -> Person:
    try:
        # Another institution's roster may register the same person at this moment (phone
        # and ID number are unique): theirs wins, this import is refused with the reason,
        # and sent again it finds the person registered.
        with session.begin_nested():
            return people.register_person(
                session, actor, name=name.strip(), phone=phone, resident_id=resident_id
            )
    except IntegrityError:
        if session.scalar(select(Person.id).where(Person.phone == phone)) is not None:
            raise Conflict(N_("This phone number is already registered")) from None
        id_hash = people.resident_id_hash(resident_id)
        if session.scalar(select(Person.id).where(Person.id_number_hash == id_hash)) is not None:
            raise Conflict(N_("This resident ID number is already registered")) from None
        raise


def record_attendance(
    session: Session, actor: Principal, class_id: int, day: date, present: set[int]
) -> int:
    """One day's register: every enrolled trainee is marked present or absent."""
    klass = _open_class(session, actor, class_id)
    if not klass.starts_on <= day <= klass.ends_on:
        raise InvalidInput(
            N_("The day must fall within the class dates"),
            errors=[{"field": "day", "message": N_("outside the class")}],
        )
    if day > local_today():
        raise InvalidInput(
            N_("Attendance cannot be recorded for a day still to come"),
            errors=[{"field": "day", "message": N_("in the future")}],
        )
    trainees = {
        t.id: t
        for t in session.scalars(
            select(ClassTrainee).where(
                ClassTrainee.class_id == klass.id, ClassTrainee.status == TraineeStatus.enrolled
            )
        )
    }
    unknown = present - set(trainees)
    if unknown:
        raise InvalidInput(
            N_("Some of the people marked present are not on this class's roster"),
            errors=[{"field": "present", "message": N_("not on the roster")}],
        )
    existing = {
        a.trainee_id: a
        for a in session.scalars(
            select(Attendance).where(Attendance.class_id == klass.id, Attendance.day == day)
        )
    }
    for trainee_id in trainees:
        record = existing.get(trainee_id)
        if record is None:
            record = Attendance(class_id=klass.id, trainee_id=trainee_id, day=day, present=False)
            session.add(record)
        record.present = trainee_id in present
        record.recorded_by_person_id = actor.person_id
        record.recorded_at = utcnow()
    audit.record(
        session,
        actor,
        "training.attendance",
        "training_class",
        klass.id,
        after={"day": day, "present": len(present), "of": len(trainees)},
    )
    return len(present)


def attendance_days(session: Session, class_id: int) -> tuple[list[date], dict[int, set[date]]]:
    """The days with a register, and for each trainee the days they were present."""
    days: set[date] = set()
    present: dict[int, set[date]] = {}
    for trainee_id, day, was_present in session.execute(
        select(Attendance.trainee_id, Attendance.day, Attendance.present).where(
            Attendance.class_id == class_id
        )
    ).all():
        days.add(day)
        if was_present:
            present.setdefault(trainee_id, set()).add(day)
    return sorted(days), present


def record_assessment(
    session: Session, actor: Principal, class_id: int, command: AssessmentIn
) -> None:
    klass = _open_class(session, actor, class_id)
    scores = {s.trainee_id: s.score for s in command.scores}
    trainees = {
        t.id: t
        for t in session.scalars(select(ClassTrainee).where(ClassTrainee.class_id == klass.id))
    }
    errors: list[dict[str, object]] = []
    for trainee_id in scores:
        if trainee_id not in trainees:
            errors.append({"field": f"score_{trainee_id}", "message": N_("not on the roster")})
    refuse_if_any(errors)
    for trainee_id, score in scores.items():
        trainees[trainee_id].assessment_score = score
    audit.record(
        session, actor, "training.assessment", "training_class", klass.id, after={"scores": scores}
    )


@dataclass(frozen=True)
class ClassCompletion:
    completed: int
    not_passed: int
    credentials: int


def complete_class(session: Session, actor: Principal, class_id: int) -> ClassCompletion:
    """Close the class: a trainee who attended enough days and passed the assessment completes
    (and receives the class's credential); the others do not, with the reason recorded."""
    klass = _open_class(session, actor, class_id)
    if local_today() < klass.ends_on:
        raise InvalidInput(
            N_("The class ends on %(day)s: complete it after its last day"), day=klass.ends_on
        )
    trainees = list(
        session.scalars(
            select(ClassTrainee).where(
                ClassTrainee.class_id == klass.id, ClassTrainee.status == TraineeStatus.enrolled
            )
        )
    )
    if not trainees:
        raise InvalidInput(N_("The class has nobody on its roster"))
    missing = [t.id for t in trainees if t.assessment_score is None]
    if missing:
        raise InvalidInput(
            N_("%(count)s trainees have no assessment score yet"),
            count=len(missing),
            errors=[{"field": f"score_{i}", "message": N_("missing")} for i in missing],
        )
    _days, present = attendance_days(session, klass.id)
    now = utcnow()
    completed = issued = 0
    for trainee in trainees:
        attended = len(present.get(trainee.id, set()))
        percent = 100 * attended // klass.onsite_days
        score = trainee.assessment_score or 0
        if percent < klass.min_attendance_percent:
            trainee.status = TraineeStatus.not_passed
            trainee.outcome_note = f"attendance {attended}/{klass.onsite_days} days"
            continue
        if score < klass.pass_score:
            trainee.status = TraineeStatus.not_passed
            trainee.outcome_note = f"assessment {score} < {klass.pass_score}"
            continue
        trainee.status = TraineeStatus.completed
        trainee.completed_at = now
        completed += 1
        if klass.credential_kind:
            trainee.credential_id = issue_credential(
                session,
                klass.institution_organisation_id,
                trainee.person_id,
                klass.credential_kind,
                klass.credential_title,
                klass.credential_valid_days,
                f"T{klass.id}-{trainee.id:05d}",
            )
            issued += 1
        else:
            notifications.notify(
                session,
                trainee.person_id,
                kind="training.class_completed",
                title=N_("You completed the class %(title)s"),
                params={"title": klass.title},
                link="/training",
            )
    klass.status = ClassStatus.completed
    klass.completed_at = now
    result = ClassCompletion(completed, len(trainees) - completed, issued)
    audit.record(
        session,
        actor,
        "training.class.complete",
        "training_class",
        klass.id,
        after={"completed": completed, "not_passed": result.not_passed, "credentials": issued},
    )
    events.publish(
        session,
        ClassCompleted(
            class_id=klass.id,
            completed=completed,
            organisation_id=klass.institution_organisation_id,
        ),
    )
    return result
