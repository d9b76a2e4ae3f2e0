"""Question banks and their questions: one by one or from a spreadsheet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gongchuang.core import audit, spreadsheets
from gongchuang.core.errors import InvalidInput, NotFound, refuse_bad_rows
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import Question, QuestionBank, QuestionKind
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.service.courses import for_publisher

TRUE_FALSE_OPTIONS = ["正确", "错误"]
MAX_OPTIONS = 6


def create_bank(
    session: Session, actor: Principal, organisation: Organisation, name: str, description: str = ""
) -> QuestionBank:
    if not has_permission(session, actor, TrainingPerm.PUBLISH, organisation):
        raise NotFound()
    bank = QuestionBank(
        organisation_id=organisation.id,
        name=clean_text(name, "name", max_length=200),
        description=(description or "").strip()[:2000],
    )
    session.add(bank)
    session.flush()
    audit.record(session, actor, "training.bank.create", "training_question_bank", bank.id)
    return bank


def get_bank_for(session: Session, actor: Principal, bank_id: int) -> QuestionBank:
    return for_publisher(session, actor, session.get(QuestionBank, bank_id))


@dataclass(frozen=True)
class QuestionInput:
    kind: str
    stem: str
    options: list[str]
    correct: list[int]
    explanation: str = ""
    source: str = ""
    tag: str = ""


def question_problems(data: QuestionInput) -> list[str]:
    problems = []
    if data.kind not in QuestionKind.__members__:
        return [
            gettext(
                N_("“%(kind)s” is not a kind of question: single, multiple or true/false"),
                kind=data.kind,
            )
        ]
    if not data.stem.strip() or len(data.stem) > 2000:
        problems.append(N_("the question text is empty or longer than 2000 characters"))
    options = TRUE_FALSE_OPTIONS if data.kind == QuestionKind.true_false else data.options
    if data.kind != QuestionKind.true_false:
        if not 2 <= len(options) <= MAX_OPTIONS or any(not o.strip() for o in options):
            problems.append(
                gettext(N_("between 2 and %(most)s options, none of them empty"), most=MAX_OPTIONS)
            )
        elif len(set(options)) != len(options):
            problems.append(N_("two options are the same"))
    if any(len(o) > 500 for o in options):
        problems.append(N_("an option is longer than 500 characters"))
    correct = set(data.correct)
    if not correct or any(not 0 <= i < len(options) for i in correct):
        problems.append(N_("the answer names no option, or one that does not exist"))
    elif data.kind != QuestionKind.multiple and len(correct) != 1:
        problems.append(N_("this kind of question has exactly one answer"))
    elif data.kind == QuestionKind.multiple and len(correct) < 2:
        problems.append(N_("a multiple-choice question has at least two answers (else: single)"))
    if not data.explanation.strip():
        problems.append(N_("an explanation is required: it is what the participant learns from"))
    if len(data.explanation) > 5000 or len(data.source) > 300 or len(data.tag) > 40:
        problems.append(N_("explanation, source or tag too long"))
    return problems


def _question(bank: QuestionBank, data: QuestionInput) -> Question:
    return Question(
        bank_id=bank.id,
        kind=data.kind,
        stem=data.stem.strip(),
        options=TRUE_FALSE_OPTIONS
        if data.kind == QuestionKind.true_false
        else [o.strip() for o in data.options],
        correct=sorted(set(data.correct)),
        explanation=data.explanation.strip(),
        source=data.source.strip(),
        tag=data.tag.strip().lower(),
    )


def add_question(session: Session, actor: Principal, bank_id: int, data: QuestionInput) -> Question:
    bank = get_bank_for(session, actor, bank_id)
    problems = question_problems(data)
    if problems:
        raise InvalidInput(
            N_("The question is not valid: %(problem)s"),
            problem=problems[0],
            errors=[{"field": "question", "message": p} for p in problems],
        )
    question = _question(bank, data)
    session.add(question)
    session.flush()
    audit.record(session, actor, "training.question.add", "training_question", question.id)
    return question


QUESTION_COLUMNS = {
    "kind": ("kind", "type", "题型"),
    "stem": ("stem", "question", "题目", "题干"),
    "answer": ("answer", "答案", "正确答案"),
    "explanation": ("explanation", "解析", "答案解析"),
    "source": ("source", "来源", "出处"),
    "tag": ("tag", "标签", "分类"),
    **{
        f"option_{letter}": (f"option_{letter}", f"选项{letter.upper()}", letter.upper())
        for letter in "abcdef"
    },
}


KIND_NAMES = {
    "single": "single",
    "单选": "single",
    "单选题": "single",
    "multiple": "multiple",
    "多选": "multiple",
    "多选题": "multiple",
    "true_false": "true_false",
    "判断": "true_false",
    "判断题": "true_false",
}


TRUE_WORDS = {"对", "正确", "是", "√", "true", "t", "yes", "a"}
FALSE_WORDS = {"错", "错误", "否", "×", "false", "f", "no", "b"}


def _answer_indexes(kind: str, answer: str) -> list[int]:
    answer = answer.strip().lower()
    if kind == QuestionKind.true_false:
        if answer in TRUE_WORDS:
            return [0]
        if answer in FALSE_WORDS:
            return [1]
        return []
    letters = re.sub(r"[\s,，、;；]", "", answer)
    if not letters or any(ch not in "abcdef" for ch in letters):
        return []
    return [ord(ch) - ord("a") for ch in letters]


def import_questions(
    session: Session, actor: Principal, bank_id: int, data: bytes, filename: str
) -> int:
    """Questions from a spreadsheet (题型, 题目, 选项A–F, 答案, 解析, 来源, 标签): all or
    nothing, every bad row listed with its line."""
    bank = get_bank_for(session, actor, bank_id)
    rows = spreadsheets.read_rows(
        data, filename, QUESTION_COLUMNS, required={"kind", "stem", "answer", "explanation"}
    )
    errors: list[dict[str, object]] = []
    parsed = []
    seen: dict[str, int] = {}
    for row in rows:
        kind = KIND_NAMES.get(row.values["kind"].strip().lower(), row.values["kind"].strip())
        options = [
            row.values.get(f"option_{letter}", "").strip()
            for letter in "abcdef"
            if row.values.get(f"option_{letter}", "").strip()
        ]
        item = QuestionInput(
            kind=kind,
            stem=row.values["stem"],
            options=options,
            correct=_answer_indexes(kind, row.values["answer"]),
            explanation=row.values["explanation"],
            source=row.values.get("source", ""),
            tag=row.values.get("tag", ""),
        )
        problems = question_problems(item)
        stem = item.stem.strip()
        if stem in seen:
            problems.append(gettext(N_("the same question is on line %(line)s"), line=seen[stem]))
        seen.setdefault(stem, row.line)
        errors += [{"line": row.line, "message": p} for p in problems]
        parsed.append(item)
    spreadsheets.name_rows(errors, rows, "stem")
    refuse_bad_rows(errors)
    session.add_all([_question(bank, item) for item in parsed])
    session.flush()
    audit.record(
        session,
        actor,
        "training.question.import",
        "training_question_bank",
        bank.id,
        after={"questions": len(parsed), "file": filename[:100]},
    )
    return len(parsed)
