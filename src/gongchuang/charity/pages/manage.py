"""The charity's own pages: its registration, its projects with their budget lines, the
donations they received (anonymous ones named to the charity, as the Charity Law requires),
refunds, and expenses from a draft through several people's approval to their payment.

Also what the other management pages (review.py, fundwork.py) share: forms read into the API's
command models (yuan typed, fen given; Beijing time typed, aware UTC given), the gate of a
page that needs a permission somewhere, and the regions a form offers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    CERTIFICATION_LABELS,
    DONATION_STATUS_LABELS,
    EXPENSE_STATUS_LABELS,
    MATCH_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    Charity,
    Donation,
    DonationStatus,
    Expense,
    Project,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    BudgetLineIn,
    CharityIn,
    ExpenseIn,
    ProjectIn,
    ProjectStatusIn,
    RefundDonationIn,
    RejectIn,
)
from gongchuang.charity.service._common import may, project_to_manage
from gongchuang.core import files, organisations
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import InvalidInput, NotFound, PermissionDenied
from gongchuang.core.forms import fen_from_yuan, parse_form
from gongchuang.core.i18n import N_
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.models import Organisation, Person, Region, StoredFile
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render

router = APIRouter(include_in_schema=False)
DonationCode = Annotated[str, Path(pattern=r"^D\d{14}$")]

# An invoice is a scan or a photo: PDF and pictures.
INVOICE_TYPES = files.ACCEPTED_TYPES

# --- what the management pages share ---------------------------------------------------------


def moment_from_local(value: object, field: str) -> datetime | str:
    """A date and time typed in Beijing time (a datetime-local field: 2027-09-07T08:00) as an
    aware UTC moment; blank when blank."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return ""
    try:
        typed = datetime.fromisoformat(text)
        local = typed.replace(tzinfo=SHANGHAI) if typed.tzinfo is None else typed
        # Year 1 in Beijing is before year 1 in UTC: the conversion overflows (OverflowError).
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            N_("%(field)s: please give a date and time such as 2027-09-07 08:00"),
            field=field,
            errors=[{"field": field, "message": N_("Please enter a date and time.")}],
        ) from None


def require_somewhere(session: Session, principal: Principal, perm: CharityPerm) -> None:
    """A page for those who hold `perm` in some organisation (a department's staff certify
    charities of the region under them, so the grant is enough: the service checks each one)."""
    if not principal.scope_allows(perm):
        raise PermissionDenied()
    if principal.is_platform_admin:
        return
    if not any(perm in grant.permissions for grant in principal.grants(session)):
        raise PermissionDenied()


def region_choices(session: Session, region_id: int, limit: int = 500) -> list[Region]:
    """What a form offers for a region: the organisation's own, those above it and those under
    it, by code."""
    region = session.get(Region, region_id)
    if region is None:
        return []
    above = [int(part) for part in region.path.strip("/").split("/") if part.isdigit()]
    return list(
        session.scalars(
            select(Region)
            .where(or_(Region.id.in_(above), Region.path.startswith(region.path)))
            .order_by(Region.code)
            .limit(limit)
        )
    )


def saved_file(session: Session, principal: Principal, upload: UploadFile | None) -> int | None:
    """The file chosen in a form's file field, stored (a PDF or a picture); None when none."""
    if upload is None or not upload.filename:
        return None
    return files.save_upload(
        session,
        principal,
        filename=upload.filename,
        data=files.read_upload(upload.file),
        accepted=INVOICE_TYPES,
    ).id


def labels() -> dict[str, Any]:
    return {
        "certification_labels": CERTIFICATION_LABELS,
        "project_status": PROJECT_STATUS_LABELS,
        "donation_status": DONATION_STATUS_LABELS,
        "expense_status": EXPENSE_STATUS_LABELS,
        "match_status": MATCH_STATUS_LABELS,
    }


# --- what the charity's pages read -----------------------------------------------------------


def _charity_of_organisation(session: Session, organisation_id: int) -> Charity | None:
    return session.scalar(select(Charity).where(Charity.organisation_id == organisation_id))


def _projects_of(session: Session, charity_id: int) -> list[Project]:
    return list(
        session.scalars(
            select(Project).where(Project.charity_id == charity_id).order_by(Project.id.desc())
        )
    )


def _donations_to(
    session: Session, project_id: int, limit: int = 200
) -> list[tuple[Donation, str]]:
    """The project's received (and refunded) donations with their donors' names, newest
    first: the charity knows who gave, anonymous or not."""
    return [
        (donation, name)
        for donation, name in session.execute(
            select(Donation, Person.name)
            .join(Person, Person.id == Donation.donor_id)
            .where(
                Donation.project_id == project_id,
                Donation.status.in_((DonationStatus.paid, DonationStatus.refunded)),
            )
            .order_by(Donation.id.desc())
            .limit(limit)
        ).all()
    ]


def _project_for(session: Session, principal: Principal, project_id: int) -> Project:
    """The project, for its charity's managers and for those who approve its expenses."""
    try:
        return project_to_manage(session, principal, project_id)
    except NotFound:
        return project_to_manage(session, principal, project_id, CharityPerm.APPROVE)


# --- the charity's home ----------------------------------------------------------------------


@router.get("/charity/manage", response_class=HTMLResponse)
def manage(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.MANAGE)
    rows = []
    for organisation in organisations.organisations_with(session, principal, CharityPerm.MANAGE):
        charity = _charity_of_organisation(session, organisation.id)
        rows.append(
            {
                "organisation": organisation,
                "charity": charity,
                "projects": _projects_of(session, charity.id) if charity else [],
                "regions": region_choices(session, organisation.region_id) if charity else [],
            }
        )
    return render(
        request,
        "charity/manage.html",
        {
            **labels(),
            "rows": rows,
            "campaigns": service.all_campaigns(session, current_only=True),
        },
    )


@router.post("/charity/manage/charities", dependencies=[CsrfChecked])
def register_charity(session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    service.register_charity(session, principal, parse_form(CharityIn, dict(form)))
    return redirect("/charity/manage")


def _budget_rows(form: FormFields) -> list[dict[str, object]]:
    """The budget lines typed as rows of a name and an amount in yuan; empty rows left out."""
    names = form.getlist("line_name")
    amounts = form.getlist("line_yuan")
    rows: list[dict[str, object]] = []
    for name, amount in zip(names, amounts, strict=False):
        name_text = name if isinstance(name, str) else ""
        amount_text = amount if isinstance(amount, str) else ""
        if not name_text.strip() and not amount_text.strip():
            continue
        rows.append({"name": name_text, "budget_fen": fen_from_yuan(amount_text, "line_yuan")})
    return rows


@router.post("/charity/manage/charities/{charity_id}/projects", dependencies=[CsrfChecked])
def create_project(
    charity_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    values = {
        "title": form.get("title"),
        "summary": form.get("summary"),
        "region_id": form.get("region_id"),
        "goal_fen": fen_from_yuan(form.get("goal_yuan"), "goal_yuan"),
        "budget_lines": _budget_rows(form),
    }
    command = parse_form(
        ProjectIn,
        values,
        {
            "goal_fen": "goal_yuan",
            "budget_lines": "line_yuan",
            "budget_lines.name": "line_name",
            "budget_lines.budget_fen": "line_yuan",
        },
        rule_field="line_yuan",
    )
    project = service.create_project(session, principal, charity_id, command)
    return redirect(f"/charity/manage/projects/{project.id}")


def _to_project(project_id: int, anchor: str = "") -> Response:
    return redirect(f"/charity/manage/projects/{project_id}{anchor}")


@router.post("/charity/manage/projects/{project_id}/status", dependencies=[CsrfChecked])
def set_status(
    project_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(ProjectStatusIn, dict(form))
    service.set_project_status(session, principal, project_id, command)
    return _to_project(project_id)


@router.post("/charity/manage/projects/{project_id}/campaigns", dependencies=[CsrfChecked])
def enrol(project_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    text = form.get("campaign_id")
    campaign_id = text.strip() if isinstance(text, str) else ""
    if not (campaign_id.isascii() and campaign_id.isdigit() and len(campaign_id) <= 10):
        raise InvalidInput(
            N_("Please choose a campaign"),
            errors=[{"field": "campaign_id", "message": N_("Please choose one of the options.")}],
        )
    service.enrol(session, principal, int(campaign_id), project_id)
    return _to_project(project_id, "#campaigns")


# --- one project -----------------------------------------------------------------------------


@router.get("/charity/manage/projects/{project_id}", response_class=HTMLResponse)
def project_page(
    request: Request, project_id: Id, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    project = _project_for(session, principal, project_id)
    charity = session.get(Charity, project.charity_id)
    expenses = service.expenses_of(session, project.id)
    approvals = {e.id: service.approvals_of(session, e.id) for e in expenses}
    now = utcnow()
    enrolled = service.campaigns_of_project(session, project.id)
    return render(
        request,
        "charity/manage_project.html",
        {
            **labels(),
            "project": project,
            "charity": charity,
            "organisation": session.get(Organisation, project.organisation_id),
            "can_manage": may(session, principal, CharityPerm.MANAGE, project.organisation_id),
            "can_approve": may(session, principal, CharityPerm.APPROVE, project.organisation_id),
            "lines": service.budget_lines(session, project.id),
            "donations": _donations_to(session, project.id),
            "expenses": expenses,
            "approvals": approvals,
            "invoice_names": _invoice_names(session, expenses),
            "enrolled": enrolled,
            "campaigns": [
                c
                for c in service.all_campaigns(session, current_only=True)
                if c.id not in {e.id for e in enrolled} and c.ends_at > now
            ],
        },
    )


def _invoice_names(session: Session, expenses: list[Expense]) -> dict[int, str]:
    ids = [e.invoice_file_id for e in expenses if e.invoice_file_id is not None]
    if not ids:
        return {}
    return dict(
        session.execute(
            select(StoredFile.id, StoredFile.original_name).where(StoredFile.id.in_(ids))
        ).all()
    )


@router.post("/charity/manage/projects/{project_id}/budget-lines", dependencies=[CsrfChecked])
def add_budget_line(
    project_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    values = {**form, "budget_fen": fen_from_yuan(form.get("budget_yuan"), "budget_yuan")}
    command = parse_form(BudgetLineIn, values, {"budget_fen": "budget_yuan"})
    service.add_budget_line(session, principal, project_id, command)
    return _to_project(project_id, "#budget")


@router.post("/charity/manage/donations/{code}/refund", dependencies=[CsrfChecked])
def refund_donation(
    code: DonationCode, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(RefundDonationIn, dict(form))
    donation = service.refund_donation(session, principal, code, command)
    if donation.project_id is None:
        return redirect("/charity/funds/manage")
    return _to_project(donation.project_id, "#donations")


@router.post(
    "/charity/manage/projects/{project_id}/expenses",
    dependencies=[CsrfChecked],
    max_body_size=UPLOAD_BODY_BYTES,
)
def create_expense(
    project_id: Id,
    session: DbSession,
    principal: LoggedIn,
    budget_line_id: Annotated[str, Form(max_length=20)] = "",
    amount_yuan: Annotated[str, Form(max_length=40)] = "",
    payee: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    invoice_number: Annotated[str, Form(max_length=1000)] = "",
    invoice: Annotated[UploadFile | None, File()] = None,
) -> Response:
    values: dict[str, object] = {
        "budget_line_id": budget_line_id,
        "amount_fen": fen_from_yuan(amount_yuan, "amount_yuan"),
        "payee": payee,
        "description": description,
        "invoice_number": invoice_number,
    }
    names = {"amount_fen": "amount_yuan", "invoice_file_id": "invoice"}
    # Checked before the file is stored, and the project before anything is kept.
    parse_form(ExpenseIn, values, names)
    project_to_manage(session, principal, project_id)
    command = parse_form(
        ExpenseIn, {**values, "invoice_file_id": saved_file(session, principal, invoice)}, names
    )
    service.create_expense(session, principal, project_id, command)
    return _to_project(project_id, "#expenses")


@router.post("/charity/manage/expenses/{expense_id}/submit", dependencies=[CsrfChecked])
def submit_expense(expense_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    expense = service.submit_expense(session, principal, expense_id)
    return _to_project(expense.project_id, "#expenses")


@router.post("/charity/manage/expenses/{expense_id}/approve", dependencies=[CsrfChecked])
def approve_expense(expense_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    expense = service.approve_expense(session, principal, expense_id)
    return _to_project(expense.project_id, "#expenses")


@router.post("/charity/manage/expenses/{expense_id}/reject", dependencies=[CsrfChecked])
def reject_expense(
    expense_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    command = parse_form(RejectIn, dict(form))
    expense = service.reject_expense(session, principal, expense_id, command)
    return _to_project(expense.project_id, "#expenses")


@router.post("/charity/manage/expenses/{expense_id}/pay", dependencies=[CsrfChecked])
def pay_expense(expense_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    expense = service.pay_expense(session, principal, expense_id)
    return _to_project(expense.project_id, "#expenses")


@router.get("/charity/manage/expenses/{expense_id}/invoice")
def invoice(expense_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    """The invoice's scan, for the charity's managers and its approvers (not only the one who
    uploaded it: the approvers must see what they approve)."""
    try:
        expense = service.expense_to_manage(session, principal, expense_id)
    except NotFound:
        expense = service.expense_to_manage(session, principal, expense_id, CharityPerm.APPROVE)
    stored = session.get(StoredFile, expense.invoice_file_id) if expense.invoice_file_id else None
    if stored is None:
        raise NotFound()
    return Response(
        files.storage().load(stored.storage_key),
        media_type=stored.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment"},
    )
