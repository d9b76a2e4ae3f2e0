"""The points supermarket: items, redemptions, household cards and the reward fund."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongchuang.core import money
from gongchuang.core.errors import NotFound
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn
from gongchuang.points import service, shop
from gongchuang.points.models import RedemptionStatus
from gongchuang.points.pages._common import V, _back_to, _page, _render, _village, _village_context
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import DonationIn, RedemptionIn, RestockIn, ShopItemIn, parse

router = APIRouter(include_in_schema=False)


@router.get(V + "/shop", response_class=HTMLResponse)
def shop_page(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village, context = _village_context(session, principal, village_id)
    account = context["my_account"]
    return _render(
        request,
        "points/shop.html",
        context,
        items=shop.items(session, village, active_only=not context["can_manage"]),
        max_quantity=shop.MAX_QUANTITY,
        mine=shop.redemptions(session, village, account_id=account.id, limit=20) if account else [],
        awaiting=shop.redemptions(session, village, status=RedemptionStatus.awaiting_handover)
        if context["can_shop"]
        else [],
        labels=service.account_labels(session, service.accounts_by_id(session, village))
        if context["can_shop"]
        else {},
        fund=shop.fund_summary(session, village.id),
        redeemed=request.query_params.get("redeemed"),
    )


@router.post(V + "/shop/redeem", dependencies=[CsrfChecked])
def redeem(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    item_id: Annotated[int, Form()],
    quantity: Annotated[int, Form()] = 1,
    card_code: Annotated[str, Form()] = "",
) -> RedirectResponse:
    command = parse(
        RedemptionIn, {"item_id": item_id, "quantity": quantity, "card_code": card_code or None}
    )
    village = _village(session, principal, village_id)
    redemption = shop.redeem_for(session, principal, village, command)
    if command.card_code:
        return _back_to(village, f"card/{card_code}?redeemed={redemption.id}")
    return _back_to(village, f"shop?redeemed={redemption.id}")


@router.post(V + "/shop/redemptions/{redemption_id}/{action}", dependencies=[CsrfChecked])
def redemption_action(
    village_id: Id,
    redemption_id: Id,
    action: str,
    session: DbSession,
    principal: LoggedIn,
) -> RedirectResponse:
    village = _village(session, principal, village_id)
    redemption = shop.get_redemption(session, village, redemption_id)
    if action == "handover":
        shop.hand_over(session, principal, village, redemption)
    elif action == "cancel":
        shop.cancel_redemption(session, principal, village, redemption)
    else:
        raise NotFound()
    return _back_to(village, "shop")


@router.get(V + "/card/{card_code}", response_class=HTMLResponse)
def household_card(
    village_id: Id,
    card_code: str,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.SHOP)
    household = shop.household_by_card(session, village, card_code[:32])
    account = service.account_for_holder(session, village.id, f"h:{household.id}", create=False)
    return _page(
        request,
        "points/card.html",
        session,
        principal,
        village,
        household=household,
        members=service.household_members(session, household),
        account=account,
        items=shop.items(session, village),
        redemptions=shop.redemptions(session, village, account_id=account.id, limit=10)
        if account
        else [],
        redeemed=request.query_params.get("redeemed"),
    )


@router.post(V + "/shop/items", dependencies=[CsrfChecked])
def add_item(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form()],
    price_points: Annotated[int, Form()],
    unit_cost_yuan: Annotated[str, Form(max_length=12)],
    stock: Annotated[int, Form()] = 0,
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    command = parse(
        ShopItemIn,
        {
            "name": name,
            "price_points": price_points,
            "unit_cost_fen": money.yuan_to_fen(unit_cost_yuan, "unit_cost_yuan", allow_zero=True),
            "stock": stock,
        },
        names={"unit_cost_fen": "unit_cost_yuan"},
    )
    shop.add_item(session, principal, village, command)
    return _back_to(village, "shop")


@router.post(V + "/shop/items/{item_id}/restock", dependencies=[CsrfChecked])
def restock(
    village_id: Id,
    item_id: Id,
    session: DbSession,
    principal: LoggedIn,
    quantity: Annotated[int, Form()],
) -> RedirectResponse:
    command = parse(RestockIn, {"quantity": quantity})
    village = _village(session, principal, village_id)
    shop.restock(session, principal, village, shop.get_item(session, village, item_id), command)
    return _back_to(village, "shop")


@router.post(V + "/fund/donations", dependencies=[CsrfChecked])
def donate(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    amount_yuan: Annotated[str, Form(max_length=12)],
    donor: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    command = parse(
        DonationIn,
        {"amount_fen": money.yuan_to_fen(amount_yuan, "amount_yuan"), "donor": donor, "note": note},
        names={"amount_fen": "amount_yuan"},
    )
    shop.add_donation(session, principal, village, command)
    return _back_to(village, "shop")
