"""What every points page shares: the village and its labels for the templates, the way back
to one of its pages, and uploads."""

from __future__ import annotations

from typing import Any

from fastapi import Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from gongchuang.core import files
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.web import redirect, render
from gongchuang.points import service
from gongchuang.points.models import (
    DECISION_LABELS,
    ENTRY_LABELS,
    PERIOD_LABELS,
    REDEMPTION_LABELS,
    REPORTER_LABELS,
    REVIEW_LABELS,
    STATUS_LABELS,
    UNIT_LABELS,
)
from gongchuang.points.permissions import PointsPerm

V = "/points/villages/{village_id}"


def _read_upload(upload: UploadFile | None) -> bytes | None:
    """An optional photo: nothing chosen reads as None."""
    if upload is None or not upload.filename:
        return None
    return files.read_upload(upload.file) or None


def _context(session: Session, principal: Principal, village: Organisation) -> dict[str, Any]:
    catalogue = service.find_catalogue(session, village)
    roles = service.roles_in(session, principal.person_id, village.id)
    account = (
        service.account_of_person(session, village, principal.person_id, create=False)
        if catalogue is not None and principal.person_id and roles
        else None
    )
    return {
        "village": village,
        "catalogue": catalogue,
        "my_roles": roles,
        "my_account": account,
        "is_member": bool(roles),
        "can_manage": service.can(session, principal, PointsPerm.MANAGE, village),
        "can_record": service.can(session, principal, PointsPerm.RECORD, village),
        "can_view_all": service.can(session, principal, PointsPerm.VIEW, village),
        "can_shop": service.can(session, principal, PointsPerm.SHOP, village),
        "status_labels": STATUS_LABELS,
        "period_labels": PERIOD_LABELS,
        "reporter_labels": REPORTER_LABELS,
        "review_labels": REVIEW_LABELS,
        "unit_labels": UNIT_LABELS,
        "decision_labels": DECISION_LABELS,
        "entry_labels": ENTRY_LABELS,
        "redemption_labels": REDEMPTION_LABELS,
    }


def _village(
    session: Session, principal: Principal, village_id: int, perm: str | None = None
) -> Organisation:
    return service.get_village_for(session, principal, village_id, perm)


def _village_context(
    session: Session, principal: Principal, village_id: int, perm: str | None = None
) -> tuple[Organisation, dict[str, Any]]:
    """The village (fetched and checked) and what its templates get, for a page that reads the
    context before it renders."""
    village = _village(session, principal, village_id, perm)
    return village, _context(session, principal, village)


def _render(request: Request, template: str, context: dict[str, Any], **extra: Any) -> HTMLResponse:
    return render(request, template, {**context, **extra})


def _page(
    request: Request,
    template: str,
    session: Session,
    principal: Principal,
    village: Organisation,
    **extra: Any,
) -> HTMLResponse:
    return _render(request, template, _context(session, principal, village), **extra)


def _back_to(village: Organisation, page: str) -> RedirectResponse:
    """After a form: back to a page of the village (`page`: its path below the village, with
    any query or fragment)."""
    return redirect(f"/points/villages/{village.id}/{page}")
