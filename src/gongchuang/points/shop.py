"""The points supermarket (积分超市) and the reward fund (奖励基金) that pays for its goods.

A redemption takes points, stock and money in one transaction under the village's lock, and each
cached figure moves only by a conditional UPDATE that cannot go below zero: never negative,
never oversold, never unfunded. A redemption leaves `awaiting_handover` once, by a conditional
UPDATE too: handed over or cancelled (and refunded), never both, never refunded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points import service
from gongchuang.points.models import (
    EntryKind,
    Household,
    PointsAccount,
    Redemption,
    RedemptionStatus,
    RewardFundEntry,
    ShopItem,
    StockMovement,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import (
    ITEM_REFUSED,
    MAX_QUANTITY,
    DonationIn,
    RedemptionIn,
    RestockIn,
    ShopItemIn,
    parse,
)


def _move_stock(
    session: Session,
    item: ShopItem,
    delta: int,
    kind: str,
    actor: Principal,
    *,
    redemption_id: int | None = None,
    refused: str = N_("Out of stock: %(stock)s left"),
) -> None:
    """The only way stock changes: a conditional UPDATE that cannot go below zero, and the
    movement that explains it."""
    moved = session.execute(
        update(ShopItem)
        .where(ShopItem.id == item.id, ShopItem.stock + delta >= 0)
        .values(stock=ShopItem.stock + delta)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(item, ["stock"])
        raise Conflict(refused, stock=item.stock)
    session.add(
        StockMovement(
            item_id=item.id,
            delta=delta,
            kind=kind,
            redemption_id=redemption_id,
            actor_person_id=actor.person_id,
        )
    )
    session.flush()
    session.refresh(item, ["stock"])


def items(session: Session, village: Organisation, *, active_only: bool = True) -> list[ShopItem]:
    query = select(ShopItem).where(ShopItem.organisation_id == village.id)
    if active_only:
        query = query.where(ShopItem.active.is_(True))
    return list(session.scalars(query.order_by(ShopItem.price_points, ShopItem.id)))


def get_item(session: Session, village: Organisation, item_id: int) -> ShopItem:
    item = session.get(ShopItem, item_id)
    if item is None or item.organisation_id != village.id:
        raise NotFound()
    return item


def add_item(
    session: Session,
    actor: Principal,
    village: Organisation,
    command: ShopItemIn | None = None,
    /,
    **fields: Any,
) -> ShopItem:
    """An item on the shelf, with its first stock. Keywords instead of a command are read into
    one, and checked the same way."""
    if not service.can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    if command is None:
        command = parse(ShopItemIn, fields, ITEM_REFUSED)
    service.get_catalogue(session, village)
    price_points, unit_cost_fen, stock = command.price_points, command.unit_cost_fen, command.stock
    item = ShopItem(
        organisation_id=village.id,
        name=clean_text(command.name, "name", max_length=100),
        description=clean_text(command.description, "description", max_length=300, required=False),
        price_points=price_points,
        unit_cost_fen=unit_cost_fen,
        stock=0,
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor,
        "points.shop.item_add",
        "points_shop_item",
        item.id,
        after={"name": item.name, "price": price_points, "cost_fen": unit_cost_fen},
    )
    if stock:
        restock(session, actor, village, item, stock)
    return item


def restock(
    session: Session,
    actor: Principal,
    village: Organisation,
    item: ShopItem,
    command: RestockIn | int,
) -> ShopItem:
    """Goods put on the shelf (negative: goods written off, never below zero). A key that
    grants neither the shop nor management is refused outright, whatever its holder's roles."""
    quantity = command.quantity if isinstance(command, RestockIn) else command
    if not (actor.scope_allows(PointsPerm.SHOP) or actor.scope_allows(PointsPerm.MANAGE)):
        raise PermissionDenied()
    if (
        not (
            service.can(session, actor, PointsPerm.SHOP, village)
            or service.can(session, actor, PointsPerm.MANAGE, village)
        )
        or item.organisation_id != village.id
    ):
        raise NotFound()
    if quantity == 0 or abs(quantity) > 100_000:
        raise InvalidInput(N_("Give a quantity other than zero"))
    _move_stock(
        session,
        item,
        quantity,
        "restock" if quantity > 0 else "write_off",
        actor,
        refused=N_("Cannot write off more than is in stock"),
    )
    audit.record(
        session,
        actor,
        "points.shop.restock",
        "points_shop_item",
        item.id,
        after={"delta": quantity, "stock": item.stock},
    )
    return item


def fund_balance(session: Session, village_id: int) -> int:
    return (
        session.scalar(
            select(func.coalesce(func.sum(RewardFundEntry.amount_fen), 0)).where(
                RewardFundEntry.organisation_id == village_id
            )
        )
        or 0
    )


def add_donation(
    session: Session,
    actor: Principal,
    village: Organisation,
    command: DonationIn | None = None,
    /,
    **fields: Any,
) -> RewardFundEntry:
    """Money given to the reward fund. Keywords instead of a command are read into one, and
    checked the same way."""
    if not service.can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    if command is None:
        command = parse(DonationIn, fields)
    amount_fen = command.amount_fen
    entry = RewardFundEntry(
        organisation_id=village.id,
        amount_fen=amount_fen,
        kind="donation",
        counterparty=clean_text(command.donor, "donor", max_length=100),
        note=clean_text(command.note, "note", max_length=300, required=False),
        actor_person_id=actor.person_id,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "points.fund.donation",
        "points_fund_entry",
        entry.id,
        after={"amount_fen": amount_fen, "donor": entry.counterparty},
    )
    return entry


@dataclass
class FundSummary:
    balance_fen: int
    donated_fen: int
    spent_fen: int
    monthly_spend_fen: int  # average of the last three months
    months_left: float | None  # None: nothing is being spent


def fund_summary(session: Session, village_id: int) -> FundSummary:
    donated, spent = session.execute(
        select(
            func.coalesce(
                func.sum(RewardFundEntry.amount_fen).filter(RewardFundEntry.amount_fen > 0), 0
            ),
            func.coalesce(
                func.sum(RewardFundEntry.amount_fen).filter(RewardFundEntry.amount_fen < 0), 0
            ),
        ).where(RewardFundEntry.organisation_id == village_id)
    ).one()
    since = utcnow() - timedelta(days=90)
    recent = session.scalar(
        select(func.coalesce(func.sum(RewardFundEntry.amount_fen), 0)).where(
            RewardFundEntry.organisation_id == village_id,
            RewardFundEntry.kind.in_(["redemption", "redemption_cancelled"]),
            RewardFundEntry.created_at >= since,
        )
    )
    monthly = -int(recent or 0) // 3
    balance = int(donated) + int(spent)
    return FundSummary(
        balance_fen=balance,
        donated_fen=int(donated),
        spent_fen=-int(spent),
        monthly_spend_fen=monthly,
        months_left=round(balance / monthly, 1) if monthly > 0 else None,
    )


def redeem(
    session: Session,
    actor: Principal,
    village: Organisation,
    account: PointsAccount,
    item: ShopItem,
    quantity: int = 1,
    *,
    via_card: bool = False,
) -> Redemption:
    """The holder spends points on goods; a shopkeeper may do it for a household that shows
    its printed card (`via_card`)."""
    if account.organisation_id != village.id or item.organisation_id != village.id:
        raise NotFound()
    if via_card:
        if not service.can(session, actor, PointsPerm.SHOP, village):
            raise NotFound()
    elif not service.can_use_account(session, actor, account):
        raise NotFound()
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(N_("You can redeem 1 to %(n)s at a time"), n=MAX_QUANTITY)
    catalogue = service.lock_village(session, village.id)
    session.refresh(item)
    session.refresh(account)
    if not item.active:
        raise Conflict(N_("This item is no longer offered"))
    points = item.price_points * quantity
    cost = item.unit_cost_fen * quantity
    if account.balance < catalogue.min_redeem_balance:
        raise Conflict(
            N_("Redeeming starts at a balance of %(min)s points; the balance is %(balance)s"),
            min=catalogue.min_redeem_balance,
            balance=account.balance,
        )
    if account.balance < points:
        raise Conflict(
            N_("Not enough points: %(points)s needed, %(balance)s available"),
            points=points,
            balance=account.balance,
        )
    if item.stock < quantity:
        raise Conflict(N_("Out of stock: %(stock)s left"), stock=item.stock)
    if fund_balance(session, village.id) < cost:
        raise Conflict(N_("The reward fund cannot pay for this; please tell the village committee"))
    redemption = Redemption(
        organisation_id=village.id,
        account_id=account.id,
        item_id=item.id,
        quantity=quantity,
        points=points,
        cost_fen=cost,
        status=RedemptionStatus.awaiting_handover,
        requested_by_person_id=actor.person_id,
        via_card=via_card,
    )
    session.add(redemption)
    session.flush()
    service.post_entry(
        session,
        account.id,
        village.id,
        -points,
        EntryKind.redemption,
        actor=actor,
        redemption_id=redemption.id,
        note=f"{item.name} × {quantity}",
    )
    _move_stock(session, item, -quantity, "redemption", actor, redemption_id=redemption.id)
    session.add(
        RewardFundEntry(
            organisation_id=village.id,
            amount_fen=-cost,
            kind="redemption",
            counterparty=item.name,
            redemption_id=redemption.id,
            actor_person_id=actor.person_id,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "points.redeem",
        "points_redemption",
        redemption.id,
        after={
            "account": account.id,
            "item": item.id,
            "quantity": quantity,
            "points": points,
            "cost_fen": cost,
            "via_card": via_card,
        },
    )
    return redemption


def redeem_for(
    session: Session, actor: Principal, village: Organisation, command: RedemptionIn
) -> Redemption:
    """A redemption as it is asked for, on a page or through the API: which account pays, then
    the redemption. A household's printed card, shown to the shopkeeper, pays from that
    household's account and the goods leave the shop at once (handed over); otherwise the
    account given pays, or the actor's own (or their household's)."""
    item = get_item(session, village, command.item_id)
    if command.card_code:
        household = household_by_card(session, village, command.card_code)
        card_account = service.account_for_holder(session, village.id, f"h:{household.id}")
        if card_account is None:
            raise RuntimeError(f"household {household.id} has no account after opening it")
        redemption = redeem(
            session, actor, village, card_account, item, command.quantity, via_card=True
        )
        return hand_over(session, actor, village, redemption)
    if command.account_id is not None:
        account = service.get_account(session, village, command.account_id)
    else:
        own = (
            service.account_of_person(session, village, actor.person_id)
            if actor.person_id is not None
            else None
        )
        if own is None:
            raise InvalidInput(
                N_("This person is not in any household yet; a cadre must add them to one first")
            )
        account = own
    return redeem(session, actor, village, account, item, command.quantity)


def get_redemption(session: Session, village: Organisation, redemption_id: int) -> Redemption:
    redemption = session.scalar(
        select(Redemption)
        .options(joinedload(Redemption.item))
        .where(Redemption.id == redemption_id)
    )
    if redemption is None or redemption.organisation_id != village.id:
        raise NotFound()
    return redemption


def _leave_awaiting(
    session: Session,
    redemption: Redemption,
    status: RedemptionStatus,
    refused: str,
    **values: object,
) -> None:
    """Move the redemption out of `awaiting_handover`, once. The request's copy of it may be
    stale: a shopkeeper handing over while the holder cancels, or a double tap on "cancel",
    both read it waiting. The UPDATE is conditional on the row as it is now; the second waits
    for the first to commit, then matches nothing and is refused before it moves anything."""
    moved = session.execute(
        update(Redemption)
        .where(
            Redemption.id == redemption.id,
            Redemption.status == RedemptionStatus.awaiting_handover,
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(redemption)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(refused)


def hand_over(
    session: Session, actor: Principal, village: Organisation, redemption: Redemption
) -> Redemption:
    """The shopkeeper confirms the goods left the shop."""
    if not service.can(session, actor, PointsPerm.SHOP, village):
        raise NotFound()
    refused = N_("This redemption is not waiting for hand-over")
    if redemption.status != RedemptionStatus.awaiting_handover:
        raise Conflict(refused)
    _leave_awaiting(
        session,
        redemption,
        RedemptionStatus.handed_over,
        refused,
        handed_over_at=utcnow(),
        handed_over_by_person_id=actor.person_id,
    )
    audit.record(
        session, actor, "points.redeem.handover", "points_redemption", redemption.id, after={}
    )
    return redemption


def cancel_redemption(
    session: Session, actor: Principal, village: Organisation, redemption: Redemption
) -> Redemption:
    """Before hand-over, the holder or the shopkeeper may cancel: points, stock and money go
    back by reversing entries."""
    account = session.get(PointsAccount, redemption.account_id)
    if account is None:
        raise LookupError(f"redemption {redemption.id} has no account {redemption.account_id}")
    if not (
        service.can(session, actor, PointsPerm.SHOP, village)
        or service.can_use_account(session, actor, account)
    ):
        raise NotFound()
    refused = N_("Only a redemption not yet handed over can be cancelled")
    if redemption.status != RedemptionStatus.awaiting_handover:
        raise Conflict(refused)
    service.lock_village(session, village.id)
    # Before any entry: the refund below is made by the one request that cancelled.
    _leave_awaiting(session, redemption, RedemptionStatus.cancelled, refused)
    service.post_entry(
        session,
        account.id,
        village.id,
        redemption.points,
        EntryKind.redemption_cancelled,
        actor=actor,
        redemption_id=redemption.id,
    )
    item = session.get(ShopItem, redemption.item_id)
    if item is None:
        raise LookupError(f"redemption {redemption.id} has no item {redemption.item_id}")
    _move_stock(
        session,
        item,
        redemption.quantity,
        "redemption_cancelled",
        actor,
        redemption_id=redemption.id,
    )
    session.add(
        RewardFundEntry(
            organisation_id=village.id,
            amount_fen=redemption.cost_fen,
            kind="redemption_cancelled",
            redemption_id=redemption.id,
            actor_person_id=actor.person_id,
        )
    )
    session.flush()
    audit.record(
        session, actor, "points.redeem.cancel", "points_redemption", redemption.id, after={}
    )
    return redemption


def redemptions(
    session: Session,
    village: Organisation,
    *,
    account_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[Redemption]:
    query = (
        select(Redemption)
        .options(joinedload(Redemption.item))
        .where(Redemption.organisation_id == village.id)
    )
    if account_id is not None:
        query = query.where(Redemption.account_id == account_id)
    if status:
        query = query.where(Redemption.status == status)
    return list(session.scalars(query.order_by(Redemption.id.desc()).limit(limit)))


def visible_redemptions(
    session: Session,
    principal: Principal,
    village: Organisation,
    *,
    status: str | None = None,
) -> list[Redemption]:
    """Every redemption for shopkeepers and those who oversee the village's points; the
    principal's own account's for anyone else (none before the account is opened)."""
    if service.can(session, principal, PointsPerm.SHOP, village) or service.can(
        session, principal, PointsPerm.VIEW, village
    ):
        return redemptions(session, village, status=status)
    account = (
        service.account_of_person(session, village, principal.person_id, create=False)
        if principal.person_id
        else None
    )
    if account is None:
        return []
    return redemptions(session, village, account_id=account.id, status=status)


def household_by_card(session: Session, village: Organisation, card_code: str) -> Household:
    household = session.scalar(select(Household).where(Household.card_code == card_code))
    if household is None or household.organisation_id != village.id:
        raise NotFound(N_("This card is not known in this village"))
    return household
