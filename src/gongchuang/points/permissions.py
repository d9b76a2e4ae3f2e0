"""Points permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Access, Role


class PointsPerm(enum.StrEnum):
    RECORD = "points.record"  # record for other villagers, in batches, from Excel
    MANAGE = "points.manage"  # rules, settings, households, objections, corrections, fund
    SHOP = "points.shop"  # hand goods over, redeem by household card, restock
    DASHBOARD = "points.dashboard"  # dashboards and roll-ups
    VIEW = "points.view"  # see every record and balance of the village
    APPROVE = "points.approve"  # decide at the approval levels the village gives one's role
    # A villager's own actions (report, object, redeem): a read-only token lacks it.
    PARTICIPATE = "points.participate"


ALL = frozenset(p.value for p in PointsPerm)
OFFICIAL = frozenset(
    {PointsPerm.RECORD, PointsPerm.VIEW, PointsPerm.APPROVE, PointsPerm.PARTICIPATE}
)

ACCESS = Access(
    permissions=PointsPerm,
    # The village committee's own business: the county sees it (VIEW, DASHBOARD), not does it.
    local_only=(PointsPerm.MANAGE, PointsPerm.RECORD, PointsPerm.SHOP, PointsPerm.APPROVE),
    # Villagers report, object and redeem for themselves; the village's own checks decide where.
    self_service=(PointsPerm.PARTICIPATE,),
    roles=(
        Role("admin", N_("Administrator"), ALL),
        Role("cadre", N_("Cadre"), ALL),
        Role("group_leader", N_("Group leader"), OFFICIAL),
        Role("grid_worker", N_("Grid worker"), OFFICIAL),
        Role("shopkeeper", N_("Shopkeeper"), frozenset({PointsPerm.SHOP, PointsPerm.PARTICIPATE})),
        Role(
            "department_staff",
            N_("Department staff"),
            frozenset({PointsPerm.DASHBOARD, PointsPerm.VIEW}),
        ),
    ),
)
