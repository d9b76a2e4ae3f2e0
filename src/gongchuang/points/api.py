"""The points REST API under /api/v1/points: everything a villager and a cadre can do."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile

from gongchuang.core import files
from gongchuang.core.api import PROBLEMS, Cursor, Limit
from gongchuang.core.limits import UPLOAD_BODY_BYTES
from gongchuang.core.pagination import Page, paginate
from gongchuang.core.permissions import Principal
from gongchuang.core.web import DbSession, Id, LoggedIn, Require, site_url
from gongchuang.points import reports, service, shop
from gongchuang.points.models import Objection, PointRecord
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import (
    AccountOut,
    BatchIn,
    CatalogueIn,
    CatalogueOut,
    CategoryIn,
    CategoryOut,
    DashboardOut,
    DecisionIn,
    DonationIn,
    EntryOut,
    FundOut,
    HouseholdIn,
    HouseholdMemberIn,
    HouseholdOut,
    NoticeOut,
    ObjectionDecisionIn,
    ObjectionOut,
    RankOut,
    ReasonIn,
    RecordIn,
    RecordOut,
    RedemptionIn,
    RedemptionOut,
    RestockIn,
    ResubmitIn,
    RuleActiveIn,
    RuleIn,
    RuleOut,
    SettingsIn,
    SettlementOut,
    ShopItemIn,
    ShopItemOut,
    VillageOut,
)

router = APIRouter(prefix="/api/v1/points", tags=["points"], responses=PROBLEMS)
V = "/villages/{village_id}"
RuleCodePath = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Year = Annotated[int, Query(ge=2000, le=2100)]


Participant = Annotated[Principal, Depends(Require(PointsPerm.PARTICIPATE))]
Recorder = Annotated[Principal, Depends(Require(PointsPerm.RECORD))]
Approver = Annotated[Principal, Depends(Require(PointsPerm.APPROVE))]
Manager = Annotated[Principal, Depends(Require(PointsPerm.MANAGE))]
Shopkeeper = Annotated[Principal, Depends(Require(PointsPerm.SHOP))]
Viewer = Annotated[Principal, Depends(Require(PointsPerm.VIEW))]


# --- villages, catalogue, settings ------------------------------------------------------------


@router.get("/villages", summary="Villages with points governance that I belong to or oversee")
def list_villages(session: DbSession, principal: LoggedIn) -> list[VillageOut]:
    return service.villages_out(session, principal)


@router.get(V + "/catalogue", summary="Settings, categories and current rules")
def get_catalogue(village_id: Id, session: DbSession, principal: LoggedIn) -> CatalogueOut:
    village = service.get_village_for(session, principal, village_id)
    return service.catalogue_out(session, village)


@router.post(V + "/catalogue", status_code=201, summary="Set up points from an example catalogue")
def create_catalogue(
    village_id: Id, body: CatalogueIn, session: DbSession, principal: Manager
) -> CatalogueOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    service.create_catalogue(session, principal, village, body)
    return service.catalogue_out(session, village)


@router.patch(V + "/settings")
def update_settings(
    village_id: Id, body: SettingsIn, session: DbSession, principal: Manager
) -> CatalogueOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    service.update_settings(session, principal, village, body)
    return service.catalogue_out(session, village)


@router.post(V + "/categories", status_code=201)
def add_category(
    village_id: Id, body: CategoryIn, session: DbSession, principal: Manager
) -> CategoryOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    return CategoryOut.model_validate(service.add_category(session, principal, village, body))


@router.post(V + "/rules", status_code=201)
def add_rule(village_id: Id, body: RuleIn, session: DbSession, principal: Manager) -> RuleOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    return RuleOut.model_validate(service.add_rule(session, principal, village, body))


@router.put(V + "/rules/{code}", summary="Revise a rule (a new version; old records keep theirs)")
def revise_rule(
    village_id: Id, code: RuleCodePath, body: RuleIn, session: DbSession, principal: Manager
) -> RuleOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    rule = service.revise_rule(session, principal, village, code, body)
    return RuleOut.model_validate(rule)


@router.post(V + "/rules/{code}/active", summary="Retire or bring back a rule")
def set_rule_active(
    village_id: Id, code: RuleCodePath, body: RuleActiveIn, session: DbSession, principal: Manager
) -> RuleOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    rule = service.set_rule_active(session, principal, village, code, body)
    return RuleOut.model_validate(rule)


# --- households and accounts ------------------------------------------------------------------


@router.get(V + "/households")
def list_households(village_id: Id, session: DbSession, principal: Viewer) -> list[HouseholdOut]:
    village = service.get_village_for(session, principal, village_id, PointsPerm.VIEW)
    return service.households_out(session, village)


@router.post(V + "/households", status_code=201)
def create_household(
    village_id: Id, body: HouseholdIn, session: DbSession, principal: Manager
) -> HouseholdOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    household = service.create_household(session, principal, village, body)
    return service.household_out(session, village, household.id)


@router.post(V + "/households/{household_id}/members", status_code=201)
def add_household_member(
    village_id: Id,
    household_id: Id,
    body: HouseholdMemberIn,
    session: DbSession,
    principal: Manager,
) -> HouseholdOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    household = service.get_household(session, village, household_id)
    service.add_household_member(session, principal, village, household, body)
    return service.household_out(session, village, household.id)


@router.get(V + "/accounts", summary="Every balance of the village, highest first")
def list_accounts(village_id: Id, session: DbSession, principal: Viewer) -> list[AccountOut]:
    village = service.get_village_for(session, principal, village_id, PointsPerm.VIEW)
    return service.balances_out(session, village)


@router.get(V + "/me/account", summary="My (or my household's) balance")
def my_account(village_id: Id, session: DbSession, principal: LoggedIn) -> AccountOut:
    village = service.get_village_for(session, principal, village_id)
    account = service.get_account_for(session, principal, village)
    return service.account_out(session, village, account)


@router.get(V + "/accounts/{account_id}/entries", summary="An account's ledger, newest first")
def account_entries(
    village_id: Id, account_id: Id, session: DbSession, principal: LoggedIn
) -> list[EntryOut]:
    village = service.get_village_for(session, principal, village_id)
    account = service.get_account_for(session, principal, village, account_id)
    return [EntryOut.model_validate(e) for e in service.ledger(session, account)]


# --- records and approval ---------------------------------------------------------------------


@router.get(V + "/records")
def list_records(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str | None, Query(max_length=16)] = None,
    mine: bool = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RecordOut]:
    """Cadres see every record; a villager sees their own (`mine` is implied)."""
    village = service.get_village_for(session, principal, village_id)
    query = service.visible_records(session, principal, village, status=status, mine=mine)
    rows, next_cursor = paginate(session, query, PointRecord.id, cursor, limit)
    return Page[RecordOut](
        items=[RecordOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.post(V + "/records", status_code=201, summary="Report points (self, or for a villager)")
def submit_record(
    village_id: Id, body: RecordIn, session: DbSession, principal: Participant
) -> RecordOut:
    village = service.get_village_for(session, principal, village_id)
    record = service.submit_record(session, principal, village, body)
    return service.record_out(session, village, record.id)


@router.post(V + "/records/batch", status_code=201, summary="One rule for many people at once")
def record_batch(
    village_id: Id, body: BatchIn, session: DbSession, principal: Recorder
) -> list[RecordOut]:
    village = service.get_village_for(session, principal, village_id, PointsPerm.RECORD)
    records = service.record_batch(session, principal, village, body)
    return [service.record_out(session, village, r.id) for r in records]


@router.post(
    V + "/records/import",
    status_code=201,
    summary="Records from Excel/CSV (phone, rule code, date, note); all or nothing",
    max_body_size=UPLOAD_BODY_BYTES,
)
def import_records(
    village_id: Id,
    file: Annotated[UploadFile, File()],
    session: DbSession,
    principal: Recorder,
) -> list[RecordOut]:
    village = service.get_village_for(session, principal, village_id, PointsPerm.RECORD)
    data = files.read_upload(file.file)
    records = service.import_records(session, principal, village, data, file.filename or "")
    return [service.record_out(session, village, r.id) for r in records]


@router.get(V + "/records/{record_id}")
def get_record(village_id: Id, record_id: Id, session: DbSession, principal: LoggedIn) -> RecordOut:
    village = service.get_village_for(session, principal, village_id)
    return RecordOut.model_validate(service.get_record_for(session, principal, village, record_id))


@router.get(V + "/approvals", summary="Records waiting at a level I may decide")
def awaiting_me(village_id: Id, session: DbSession, principal: Approver) -> list[RecordOut]:
    village = service.get_village_for(session, principal, village_id)
    return [RecordOut.model_validate(r) for r in service.awaiting_me(session, principal, village)]


@router.post(V + "/records/{record_id}/decision")
def decide(
    village_id: Id, record_id: Id, body: DecisionIn, session: DbSession, principal: Approver
) -> RecordOut:
    village = service.get_village_for(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.decide(session, principal, village, record, body)
    return service.record_out(session, village, record.id)


@router.post(V + "/records/{record_id}/resubmit", summary="Send a returned record back")
def resubmit(
    village_id: Id, record_id: Id, body: ResubmitIn, session: DbSession, principal: Participant
) -> RecordOut:
    village = service.get_village_for(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    service.resubmit(session, principal, village, record, body)
    return service.record_out(session, village, record.id)


@router.post(V + "/records/{record_id}/reverse", summary="Correct a settled record")
def reverse(
    village_id: Id, record_id: Id, body: ReasonIn, session: DbSession, principal: Manager
) -> RecordOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    record = service.get_record(session, village, record_id)
    service.reverse_record(session, principal, village, record, body)
    return service.record_out(session, village, record.id)


# --- notice and objections --------------------------------------------------------------------


@router.get(V + "/notices", summary="The public board (recent notices, newest first)")
def list_notices(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    limit: Annotated[int, Query(ge=1, le=60)] = 10,
) -> list[NoticeOut]:
    village = service.get_village_for(session, principal, village_id)
    return service.notices_out(session, village, limit)


@router.get(
    V + "/notices/{notice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The printable A4 notice for the village board",
)
def notice_pdf(
    village_id: Id, notice_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> Response:
    village = service.get_village_for(session, principal, village_id)
    notice = service.get_notice(session, village, notice_id)
    records = service.notice_records(session, notice)
    base_url = site_url(request)
    data = reports.notice_pdf(session, village, notice, records, base_url=base_url)
    return Response(data, media_type="application/pdf")


@router.post(V + "/records/{record_id}/objections", status_code=201)
def raise_objection(
    village_id: Id, record_id: Id, body: ReasonIn, session: DbSession, principal: Participant
) -> ObjectionOut:
    village = service.get_village_for(session, principal, village_id)
    record = service.get_record(session, village, record_id)
    objection = service.raise_objection(session, principal, village, record, body)
    return ObjectionOut.model_validate(objection)


@router.get(V + "/objections")
def list_objections(
    village_id: Id,
    session: DbSession,
    principal: Viewer,
    status: Annotated[str | None, Query(pattern="^(open|upheld|dismissed)$")] = None,
) -> list[ObjectionOut]:
    village = service.get_village_for(session, principal, village_id, PointsPerm.VIEW)
    return [ObjectionOut.model_validate(o) for o in service.objections(session, village, status)]


@router.post(V + "/objections/{objection_id}/decision")
def decide_objection(
    village_id: Id,
    objection_id: Id,
    body: ObjectionDecisionIn,
    session: DbSession,
    principal: Manager,
) -> ObjectionOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    objection: Objection = service.get_objection(session, village, objection_id)
    service.decide_objection(session, principal, village, objection, body)
    return ObjectionOut.model_validate(objection)


@router.post(
    "/settlement", summary="Settle every closed notice now (the worker does it every 15 minutes)"
)
def settle_now(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("points.manage", platform=True))],
) -> SettlementOut:
    report = service.settle_due(session)
    return SettlementOut.model_validate(report)


# --- rankings and dashboards ------------------------------------------------------------------


@router.get(V + "/rankings")
def rankings(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    period: Annotated[str, Query(pattern="^(month|year)$")] = "month",
    day: date | None = None,
) -> list[RankOut]:
    village = service.get_village_for(session, principal, village_id)
    rows = reports.ranking(session, village, period, day or service.today_local())
    return [RankOut.model_validate(r) for r in rows]


@router.get(V + "/dashboard")
def village_dashboard(
    village_id: Id, session: DbSession, principal: LoggedIn, year: Year | None = None
) -> DashboardOut:
    village = service.get_village_for(session, principal, village_id)
    figures = reports.village_dashboard(session, village, year or service.today_local().year)
    return DashboardOut.model_validate(figures)


@router.get("/regions/{code}/dashboard", summary="Roll-up across the villages of a region")
def region_dashboard(
    code: Annotated[str, Path(pattern=r"^\d{6}(\d{6})?$")],
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(PointsPerm.DASHBOARD))],
    year: Year | None = None,
) -> DashboardOut:
    region = reports.get_region_for(session, principal, code)
    figures = reports.region_dashboard(session, region, year or service.today_local().year)
    return DashboardOut.model_validate(figures)


# --- shop and fund ----------------------------------------------------------------------------


@router.get(V + "/shop/items")
def list_items(village_id: Id, session: DbSession, principal: LoggedIn) -> list[ShopItemOut]:
    village = service.get_village_for(session, principal, village_id)
    return [ShopItemOut.model_validate(i) for i in shop.items(session, village)]


@router.post(V + "/shop/items", status_code=201)
def add_item(
    village_id: Id, body: ShopItemIn, session: DbSession, principal: Manager
) -> ShopItemOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    item = shop.add_item(session, principal, village, body)
    return ShopItemOut.model_validate(item)


@router.post(V + "/shop/items/{item_id}/restock")
def restock(
    village_id: Id, item_id: Id, body: RestockIn, session: DbSession, principal: LoggedIn
) -> ShopItemOut:
    village = service.get_village_for(session, principal, village_id)
    item = shop.get_item(session, village, item_id)
    return ShopItemOut.model_validate(shop.restock(session, principal, village, item, body))


@router.get(V + "/fund")
def fund(village_id: Id, session: DbSession, principal: LoggedIn) -> FundOut:
    village = service.get_village_for(session, principal, village_id)
    return FundOut.model_validate(shop.fund_summary(session, village.id))


@router.post(V + "/fund/donations", status_code=201)
def donate(village_id: Id, body: DonationIn, session: DbSession, principal: Manager) -> FundOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.MANAGE)
    shop.add_donation(session, principal, village, body)
    return FundOut.model_validate(shop.fund_summary(session, village.id))


@router.post(V + "/redemptions", status_code=201, summary="Spend points in the points supermarket")
def redeem(
    village_id: Id, body: RedemptionIn, session: DbSession, principal: Participant
) -> RedemptionOut:
    village = service.get_village_for(session, principal, village_id)
    redemption = shop.redeem_for(session, principal, village, body)
    return RedemptionOut.model_validate(shop.get_redemption(session, village, redemption.id))


@router.get(V + "/redemptions", summary="Mine, or all for shopkeepers and cadres")
def list_redemptions(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    status: Annotated[str | None, Query(max_length=24)] = None,
) -> list[RedemptionOut]:
    village = service.get_village_for(session, principal, village_id)
    rows = shop.visible_redemptions(session, principal, village, status=status)
    return [RedemptionOut.model_validate(r) for r in rows]


@router.post(V + "/redemptions/{redemption_id}/handover", summary="The shopkeeper hands goods over")
def hand_over(
    village_id: Id, redemption_id: Id, session: DbSession, principal: Shopkeeper
) -> RedemptionOut:
    village = service.get_village_for(session, principal, village_id, PointsPerm.SHOP)
    redemption = shop.get_redemption(session, village, redemption_id)
    return RedemptionOut.model_validate(shop.hand_over(session, principal, village, redemption))


@router.post(V + "/redemptions/{redemption_id}/cancel")
def cancel_redemption(
    village_id: Id, redemption_id: Id, session: DbSession, principal: Participant
) -> RedemptionOut:
    village = service.get_village_for(session, principal, village_id)
    redemption = shop.get_redemption(session, village, redemption_id)
    return RedemptionOut.model_validate(
        shop.cancel_redemption(session, principal, village, redemption)
    )
