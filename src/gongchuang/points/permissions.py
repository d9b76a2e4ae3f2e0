"""Points permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.permissions import (
    register_local_only,
    register_permissions,
    register_role,
    register_self_service,
)


class PointsPerm(enum.StrEnum):
    RECORD = "points.record"  # record for other villagers, in batches, from Excel
    MANAGE = "points.manage"  # rules, settings, households, objections, corrections, fund
    SHOP = "points.shop"  # hand goods over, redeem by household card, restock
    DASHBOARD = "points.dashboard"  # dashboards and roll-ups
    VIEW = "points.view"  # see every record and balance of the village
    APPROVE = "points.approve"  # decide at the approval levels the village gives one's role
    # A villager's own actions (report, object, redeem): a read-only token lacks it.
    PARTICIPATE = "points.participate"


register_permissions(PointsPerm)
# The village committee's own business: the county sees it (VIEW, DASHBOARD), does not do it.
register_local_only(PointsPerm.MANAGE, PointsPerm.RECORD, PointsPerm.SHOP, PointsPerm.APPROVE)
ALL = {p.value for p in PointsPerm}
register_role("admin", N_("Administrator"), ALL)
register_role("cadre", N_("Cadre"), ALL)
OFFICIAL: set[str] = {
    PointsPerm.RECORD,
    PointsPerm.VIEW,
    PointsPerm.APPROVE,
    PointsPerm.PARTICIPATE,
}
# Villagers report, object and redeem for themselves; the village's own checks decide where.
register_self_service(PointsPerm.PARTICIPATE.value)
register_role("group_leader", N_("Group leader"), OFFICIAL)
register_role("grid_worker", N_("Grid worker"), OFFICIAL)
register_role("shopkeeper", N_("Shopkeeper"), {PointsPerm.SHOP.value, PointsPerm.PARTICIPATE.value})
register_role(
    "department_staff", N_("Department staff"), {PointsPerm.DASHBOARD.value, PointsPerm.VIEW.value}
)
