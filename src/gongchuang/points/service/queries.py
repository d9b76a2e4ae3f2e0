"""Read-only queries that feed pages, the API and the home page: lists, boards, summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import files
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.identity import mask_name
from gongchuang.core.models import (
    Membership,
    Organisation,
    Person,
    StoredFile,
)
from gongchuang.core.pagination import NumberedPage, numbered_page
from gongchuang.core.people import consenting, consenting_people
from gongchuang.core.permissions import Principal
from gongchuang.points.models import (
    AccountUnit,
    Approval,
    Household,
    HouseholdMember,
    Objection,
    PointRecord,
    PointsAccount,
    PointsEntry,
    PublicNotice,
    RecordStatus,
    RuleCatalogue,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.service.access import (
    can,
    is_member,
    roles_in,
)
from gongchuang.points.service.accounts import (
    account_of_person,
    household_of,
)
from gongchuang.points.service.catalogue import (
    find_catalogue,
    get_catalogue,
)
from gongchuang.points.service.records import (
    get_record_for,
)


def households(session: Session, village: Organisation) -> list[Household]:
    return list(
        session.scalars(
            select(Household).where(Household.organisation_id == village.id).order_by(Household.id)
        )
    )


def household_members(session: Session, household: Household) -> list[HouseholdMember]:
    return list(
        session.scalars(
            select(HouseholdMember)
            .options(joinedload(HouseholdMember.person))
            .where(HouseholdMember.household_id == household.id)
            .order_by(HouseholdMember.id)
        )
    )


def account_labels(session: Session, accounts: list[PointsAccount]) -> dict[int, str]:
    """Household names, or people's names, for display beside balances."""
    household_ids = [a.household_id for a in accounts if a.household_id]
    person_ids = [a.person_id for a in accounts if a.person_id]
    names: dict[int, str] = {}
    house_names = dict(
        session.execute(
            select(Household.id, Household.name).where(Household.id.in_(household_ids))
        ).all()
    )
    people_names = dict(
        session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids))).all()
    )
    for account in accounts:
        if account.household_id:
            names[account.id] = house_names.get(account.household_id, "")
        elif account.person_id:
            names[account.id] = people_names.get(account.person_id, "")
    return names


def ledger(session: Session, account: PointsAccount, limit: int = 200) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry)
            .where(PointsEntry.account_id == account.id)
            .order_by(PointsEntry.id.desc())
            .limit(limit)
        )
    )


def records_query(
    village: Organisation,
    *,
    status: str | None = None,
    person_id: int | None = None,
    year: int | None = None,
) -> Any:
    query = (
        select(PointRecord)
        .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
        .where(PointRecord.organisation_id == village.id)
    )
    if status:
        query = query.where(PointRecord.status == status)
    if person_id:
        query = query.where(PointRecord.person_id == person_id)
    if year:
        query = query.where(
            PointRecord.occurred_on >= date(year, 1, 1),
            PointRecord.occurred_on < date(year + 1, 1, 1),
        )
    return query


@dataclass(frozen=True)
class ApprovalQueue:
    records: list[PointRecord]
    photos: set[int]  # ids of the records whose evidence is a photo (a thumbnail can be shown)


def visible_records(
    session: Session,
    principal: Principal,
    village: Organisation,
    *,
    status: str | None = None,
    mine: bool = False,
) -> Any:
    """The records the principal may list (a query to page through): those who oversee the
    village's points see every record, a villager their own (`mine` is then implied)."""
    see_all = can(session, principal, PointsPerm.VIEW, village)
    return records_query(
        village,
        status=status or None,
        person_id=principal.person_id if (mine or not see_all) else None,
    )


def approval_queue(session: Session, principal: Principal, village: Organisation) -> ApprovalQueue:
    records = awaiting_me(session, principal, village)
    file_ids = {r.evidence_file_id for r in records if r.evidence_file_id is not None}
    image_files = (
        set(
            session.scalars(
                select(StoredFile.id).where(
                    StoredFile.id.in_(file_ids),
                    StoredFile.content_type.in_(list(files.IMAGE_TYPES)),
                )
            )
        )
        if file_ids
        else set()
    )
    return ApprovalQueue(
        records=records, photos={r.id for r in records if r.evidence_file_id in image_files}
    )


def _awaiting_me_where(session: Session, principal: Principal, village: Organisation) -> list[Any]:
    """What makes a record wait for the principal: pending at a level they may decide, not
    their own. Empty where nothing can (no catalogue, no approving role)."""
    catalogue = find_catalogue(session, village)
    if catalogue is None:
        return []
    held = roles_in(session, principal.person_id, village.id)
    steps = [i for i, role in enumerate(catalogue.approval_roles or ["cadre"]) if role in held]
    if not steps:
        return []
    return [
        PointRecord.organisation_id == village.id,
        PointRecord.status == RecordStatus.pending,
        PointRecord.approval_step.in_(steps),
        PointRecord.person_id != principal.person_id,
        PointRecord.reported_by_person_id != principal.person_id,
    ]


def awaiting_me(session: Session, principal: Principal, village: Organisation) -> list[PointRecord]:
    """Records at an approval level the principal may decide, not their own."""
    where = _awaiting_me_where(session, principal, village)
    if not where:
        return []
    query = records_query(village).where(*where).order_by(PointRecord.id).limit(500)
    return list(session.scalars(query).unique())


@dataclass(frozen=True)
class VillageAtAGlance:
    village: Organisation
    balance: int | None  # the person's (or their household's) points; None without an account
    awaiting_me: int  # records waiting for the person's approval


def home_summary(session: Session, principal: Principal) -> list[VillageAtAGlance] | None:
    """For a signed-in person's home page: in each village with points they belong to, their
    balance and what waits for their approval. Reads only (no account is opened)."""
    if principal.person_id is None:
        return None
    villages = session.scalars(
        select(Organisation)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.person_id == principal.person_id)
        .order_by(Organisation.name, Organisation.id)
    )
    found = []
    for village in villages:
        account = account_of_person(session, village, principal.person_id, create=False)
        holds_one = get_catalogue(session, village).account_unit != AccountUnit.household or (
            household_of(session, village.id, principal.person_id) is not None
        )
        balance = (account.balance if account else 0) if holds_one else None
        where = _awaiting_me_where(session, principal, village)
        waiting = session.scalar(select(func.count(PointRecord.id)).where(*where)) if where else 0
        found.append(VillageAtAGlance(village, balance, waiting or 0))
    return found or None


def approvals_of(session: Session, record: PointRecord) -> list[tuple[Approval, str]]:
    rows = session.execute(
        select(Approval, Person.name)
        .join(Person, Person.id == Approval.decided_by_person_id)
        .where(Approval.record_id == record.id)
        .order_by(Approval.id)
    ).all()
    return [(a, name) for a, name in rows]


def objections_of(session: Session, record: PointRecord) -> list[Objection]:
    return list(
        session.scalars(
            select(Objection).where(Objection.record_id == record.id).order_by(Objection.id)
        )
    )


def person_names(session: Session, person_ids: list[int]) -> dict[int, str]:
    return dict(
        session.execute(
            select(Person.id, Person.name).where(Person.id.in_(sorted(set(person_ids))))
        ).all()
    )


def accounts_by_id(session: Session, village: Organisation) -> list[PointsAccount]:
    return list(
        session.scalars(select(PointsAccount).where(PointsAccount.organisation_id == village.id))
    )


def evidence_for(
    session: Session,
    principal: Principal,
    village: Organisation,
    record_id: int,
    *,
    thumbnail: bool = False,
) -> tuple[str, bytes]:
    """A record's evidence as (content type, bytes); a thumbnail is a small JPEG of a photo."""
    record = get_record_for(session, principal, village, record_id)
    if record.evidence_file_id is None:
        raise NotFound()
    stored = session.get(StoredFile, record.evidence_file_id)
    if stored is None or (thumbnail and stored.content_type not in files.IMAGE_TYPES):
        raise NotFound()
    data = files.storage().load(stored.storage_key)
    if thumbnail:
        return "image/jpeg", files.thumbnail(data)
    return stored.content_type, data


def notices(session: Session, village: Organisation, limit: int = 30) -> list[PublicNotice]:
    return list(
        session.scalars(
            select(PublicNotice)
            .where(PublicNotice.organisation_id == village.id)
            .order_by(PublicNotice.opens_at.desc())
            .limit(limit)
        )
    )


def notice_records(session: Session, notice: PublicNotice) -> list[PointRecord]:
    return list(
        session.scalars(
            select(PointRecord)
            .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
            .where(PointRecord.notice_id == notice.id)
            .order_by(PointRecord.id)
        )
    )


PUBLIC_NAME = "public_name"  # the consent purpose (core.people.CONSENT_PURPOSES)


def sees_full_names(session: Session, principal: Principal, village: Organisation) -> bool:
    """Members of the village (and those who oversee it) read the notice with every name, as
    the village's physical board shows it; anyone else online sees only the surname of whoever
    has not agreed to show their name (consent `public_name`)."""
    return is_member(session, principal.person_id, village.id) or can(
        session, principal, PointsPerm.VIEW, village
    )


def shown_names(
    session: Session, records: list[PointRecord], *, full_names: bool
) -> dict[int, str]:
    """Each person's name as the notice shows it: person id -> name, consents read at once."""
    names = {r.person_id: r.person.name for r in records}
    if full_names:
        return names
    agreed = consenting(session, names, PUBLIC_NAME)
    return {pid: name if pid in agreed else mask_name(name) for pid, name in names.items()}


BOARD_PER_PAGE = 10  # two or three screens of a phone


@dataclass(frozen=True)
class NoticeBoard:
    """The notices still up (each with how many records it holds) and one page of their
    records, found by a villager's name, with the names as this reader may see them (person id
    -> name). The printed notice (PDF) always lists every record."""

    notices: list[tuple[PublicNotice, int]]
    records: NumberedPage[PointRecord]
    names: dict[int, str] = field(default_factory=dict)


def notice_board(
    session: Session,
    village: Organisation,
    *,
    search: str | None = None,
    page: int = 1,
    full_names: bool = False,
) -> NoticeBoard:
    now = utcnow()
    open_notices = [
        (notice, count)
        for notice, count in session.execute(
            select(PublicNotice, func.count(PointRecord.id))
            .outerjoin(PointRecord, PointRecord.notice_id == PublicNotice.id)
            .where(PublicNotice.organisation_id == village.id, PublicNotice.closes_at > now)
            .group_by(PublicNotice.id)
            .order_by(PublicNotice.opens_at.desc(), PublicNotice.id.desc())
        )
    ]
    query = (
        select(PointRecord)
        .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
        .join(PublicNotice, PublicNotice.id == PointRecord.notice_id)
        .where(PublicNotice.organisation_id == village.id, PublicNotice.closes_at > now)
        .order_by(PublicNotice.opens_at.desc(), PublicNotice.id.desc(), PointRecord.id)
    )
    name = (search or "").strip()[:50]
    if name:
        matches = select(Person.id).where(Person.name.contains(name, autoescape=True))
        if not full_names:
            # Only what the page shows can be found: the whole name of those who agreed to
            # show it, the surname alone of the others.
            shown: ColumnElement[bool] = Person.id.in_(consenting_people(PUBLIC_NAME))
            if len(name) == 1:
                shown = or_(
                    shown, (func.substr(Person.name, 1, 1) == name) & (func.length(Person.name) > 1)
                )
            matches = matches.where(shown)
        query = query.where(PointRecord.person_id.in_(matches))
    records = numbered_page(session, query, page, BOARD_PER_PAGE)
    return NoticeBoard(
        notices=open_notices,
        records=records,
        names=shown_names(session, list(records.items), full_names=full_names),
    )


def objections(
    session: Session, village: Organisation, status: str | None = None
) -> list[Objection]:
    query = select(Objection).where(Objection.organisation_id == village.id)
    if status:
        query = query.where(Objection.status == status)
    return list(session.scalars(query.order_by(Objection.id.desc()).limit(500)))
