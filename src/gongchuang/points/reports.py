"""What points governance shows: rankings and star tiers, dashboards for a village and roll-ups
for a town, county or province, Excel exports and the printable A4 public notice."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import spreadsheets
from gongchuang.core.clock import local_midnight, local_time
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Membership, Organisation, Region
from gongchuang.core.pdf import draw_qr, draw_string, markup, qr_flowable, register_cjk_font
from gongchuang.core.permissions import Principal
from gongchuang.points import service, shop
from gongchuang.points.models import (
    STATUS_LABELS,
    Household,
    MonthlyParticipation,
    MonthlyStat,
    Objection,
    ObjectionStatus,
    PointRecord,
    PointRule,
    PointsAccount,
    PublicNotice,
    RecordStatus,
    RuleCatalogue,
    RuleCategory,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.service.standing import (
    balances,
    earned_between,
    tier_for,
)

# --- rankings and tiers -----------------------------------------------------------------------


@dataclass
class RankRow:
    rank: int
    account_id: int
    label: str
    points: int
    year_points: int
    tier: str


def ranking(
    session: Session, village: Organisation, period: str, day: date, limit: int = 100
) -> list[RankRow]:
    """Points earned (settled, less reversals) in the month or year containing `day`."""
    catalogue = service.get_catalogue(session, village)
    start, end = service.period_bounds("year" if period == "year" else "month", day)
    earned = earned_between(session, village.id, start, end)
    year_start, year_end = service.period_bounds("year", day)
    yearly = (
        earned if period == "year" else earned_between(session, village.id, year_start, year_end)
    )
    accounts = list(
        session.scalars(select(PointsAccount).where(PointsAccount.id.in_(list(earned))))
    )
    labels = service.account_labels(session, accounts)
    ordered = sorted(accounts, key=lambda a: (-earned[a.id], labels.get(a.id, ""), a.id))
    rows: list[RankRow] = []
    previous: int | None = None
    rank = 0
    for position, account in enumerate(ordered[:limit], start=1):
        if earned[account.id] != previous:
            rank = position  # equal points share a rank ("1, 1, 3")
            previous = earned[account.id]
        rows.append(
            RankRow(
                rank=rank,
                account_id=account.id,
                label=labels.get(account.id, ""),
                points=earned[account.id],
                year_points=yearly.get(account.id, 0),
                tier=tier_for(catalogue, yearly.get(account.id, 0)),
            )
        )
    return rows


# --- dashboards -------------------------------------------------------------------------------


@dataclass
class VillageFigures:
    village_id: int
    name: str
    records: int = 0
    points: int = 0
    approval_seconds: int = 0
    participation: float = 0.0  # average monthly share of members who took part
    members: int = 0
    objections: int = 0
    upheld: int = 0

    @property
    def approval_hours(self) -> float:
        return round(self.approval_seconds / self.records / 3600, 1) if self.records else 0.0


@dataclass
class Dashboard:
    title: str
    year: int
    months: list[str]
    totals: VillageFigures
    points_by_category: dict[str, list[int]]
    participation_by_month: list[float]
    latency_by_month: list[float]
    villages: list[VillageFigures] = field(default_factory=list)
    top_rules: list[tuple[str, str, int]] = field(default_factory=list)
    bottom_rules: list[tuple[str, str, int]] = field(default_factory=list)
    fund: shop.FundSummary | None = None
    # Months of the year that have begun (the rest have no data yet and are left out of the
    # charts and tables, never drawn as 0), and the index of the one still running, if any.
    months_started: int = 12
    partial_month: int | None = None
    records_by_month: list[int] = field(default_factory=list)

    @property
    def months_shown(self) -> list[str]:
        return self.months[: self.months_started]

    @property
    def latency_shown(self) -> list[float | None]:
        """Approval hours of each month begun; None where nothing was approved (no figure,
        not 0 hours)."""
        records = self.records_by_month or [1] * len(self.months)
        return [
            hours if done else None
            for hours, done in zip(self.latency_by_month, records, strict=True)
        ][: self.months_started]

    def chart_data(self) -> dict[str, Any]:
        shown = self.months_started
        return {
            "months": self.months_shown,
            "partial": self.partial_month,
            "categories": {name: v[:shown] for name, v in self.points_by_category.items()},
            "participation": self.participation_by_month[:shown],
            "latency": self.latency_shown,
            "villages": [
                {"name": v.name, "points": v.points, "participation": v.participation}
                for v in self.villages
            ],
            "labels": {
                "points": gettext("Points"),
                "participation": gettext("Participation rate (%)"),
                "latency": gettext("Approval time (hours)"),
                "partial": gettext("so far"),
            },
        }


def _months(year: int) -> list[date]:
    return [date(year, m, 1) for m in range(1, 13)]


def _build(
    session: Session, title: str, year: int, village_ids: list[int], names: dict[int, str]
) -> Dashboard:
    months = _months(year)
    start, end = months[0], date(year + 1, 1, 1)
    stat_rows = session.execute(
        select(
            MonthlyStat.organisation_id,
            MonthlyStat.month,
            RuleCategory.name,
            func.sum(MonthlyStat.records),
            func.sum(MonthlyStat.points),
            func.sum(MonthlyStat.approval_seconds),
        )
        .join(RuleCategory, RuleCategory.id == MonthlyStat.category_id)
        .where(
            MonthlyStat.organisation_id.in_(village_ids),
            MonthlyStat.month >= start,
            MonthlyStat.month < end,
        )
        .group_by(MonthlyStat.organisation_id, MonthlyStat.month, RuleCategory.name)
    ).all()
    members = dict(
        session.execute(
            select(Membership.organisation_id, func.count(Membership.id))
            .where(Membership.organisation_id.in_(village_ids))
            .group_by(Membership.organisation_id)
        ).all()
    )
    participation_rows = session.execute(
        select(
            MonthlyParticipation.organisation_id,
            MonthlyParticipation.month,
            MonthlyParticipation.participants,
        ).where(
            MonthlyParticipation.organisation_id.in_(village_ids),
            MonthlyParticipation.month >= start,
            MonthlyParticipation.month < end,
        )
    ).all()
    objection_rows = session.execute(
        select(Objection.organisation_id, Objection.status, func.count(Objection.id))
        .where(
            Objection.organisation_id.in_(village_ids),
            Objection.raised_at >= local_midnight(start),
            Objection.raised_at < local_midnight(end),
        )
        .group_by(Objection.organisation_id, Objection.status)
    ).all()
    figures = {
        vid: VillageFigures(vid, names.get(vid, ""), members=members.get(vid, 0))
        for vid in village_ids
    }
    month_index = {m: i for i, m in enumerate(months)}
    by_category: dict[str, list[int]] = {}
    records_by_month = [0] * 12
    seconds_by_month = [0] * 12
    for vid, month, category, records, points, seconds in stat_rows:
        figure = figures[vid]
        figure.records += int(records or 0)
        figure.points += int(points or 0)
        figure.approval_seconds += int(seconds or 0)
        i = month_index[month]
        by_category.setdefault(category, [0] * 12)[i] += int(points or 0)
        records_by_month[i] += int(records or 0)
        seconds_by_month[i] += int(seconds or 0)
    participants_by_month = [0] * 12
    village_months: dict[int, list[int]] = {}
    for vid, month, participants in participation_rows:
        participants_by_month[month_index[month]] += participants
        village_months.setdefault(vid, []).append(participants)
    today = service.today_local()
    months_elapsed = 12 if year < today.year else (today.month if year == today.year else 0)
    for vid, counts in village_months.items():
        figure = figures[vid]
        if figure.members and months_elapsed:
            figure.participation = round(100 * sum(counts) / (figure.members * months_elapsed), 1)
    for vid, status, count in objection_rows:
        figures[vid].objections += count
        if status == ObjectionStatus.upheld:
            figures[vid].upheld += count
    total_members = sum(f.members for f in figures.values())
    totals = VillageFigures(0, title, members=total_members)
    for f in figures.values():
        totals.records += f.records
        totals.points += f.points
        totals.approval_seconds += f.approval_seconds
        totals.objections += f.objections
        totals.upheld += f.upheld
    if total_members and months_elapsed:
        totals.participation = round(
            100 * sum(participants_by_month) / (total_members * months_elapsed), 1
        )
    return Dashboard(
        title=title,
        year=year,
        months_started=months_elapsed,
        partial_month=today.month - 1 if year == today.year else None,
        records_by_month=records_by_month,
        months=[f"{m:%Y-%m}" for m in months],
        totals=totals,
        points_by_category=by_category,
        participation_by_month=[
            round(100 * p / total_members, 1) if total_members else 0.0
            for p in participants_by_month
        ],
        latency_by_month=[
            round(s / r / 3600, 1) if r else 0.0
            for s, r in zip(seconds_by_month, records_by_month, strict=True)
        ],
        villages=sorted(figures.values(), key=lambda f: (-f.points, f.name)),
    )


def village_dashboard(session: Session, village: Organisation, year: int) -> Dashboard:
    service.get_catalogue(session, village)
    dashboard = _build(session, village.name, year, [village.id], {village.id: village.name})
    dashboard.top_rules, dashboard.bottom_rules = _rule_usage(session, village, year)
    dashboard.fund = shop.fund_summary(session, village.id)
    return dashboard


def _rule_usage(
    session: Session, village: Organisation, year: int
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """Most and least used current rules of the year (an unused rule may be a dead one)."""
    catalogue = service.get_catalogue(session, village)
    used = dict(
        session.execute(
            select(PointRecord.rule_code, func.count(PointRecord.id))
            .where(
                PointRecord.organisation_id == village.id,
                PointRecord.status == RecordStatus.settled,
                PointRecord.occurred_on >= date(year, 1, 1),
                PointRecord.occurred_on < date(year + 1, 1, 1),
            )
            .group_by(PointRecord.rule_code)
        ).all()
    )
    rules = session.execute(
        select(PointRule.code, PointRule.title).where(
            PointRule.catalogue_id == catalogue.id, PointRule.is_current.is_(True)
        )
    ).all()
    usage = sorted(((c, t, int(used.get(c, 0))) for c, t in rules), key=lambda r: (-r[2], r[0]))
    return usage[:5], list(reversed(usage[-5:])) if len(usage) > 5 else []


def region_allowed(session: Session, principal: Principal, region: Region) -> bool:
    """Department staff see the roll-up of their own region's subtree."""
    if principal.is_platform_admin:
        return principal.scope_allows(PointsPerm.DASHBOARD)
    if not principal.scope_allows(PointsPerm.DASHBOARD):
        return False
    return any(
        PointsPerm.DASHBOARD in grant.permissions
        and grant.organisation_kind == "government_department"
        and region.path.startswith(grant.region_path)
        for grant in principal.grants(session)
    )


def get_region_for(session: Session, principal: Principal, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None or not region_allowed(session, principal, region):
        raise NotFound()
    return region


def region_dashboard(session: Session, region: Region, year: int) -> Dashboard:
    rows = session.execute(
        select(Organisation.id, Organisation.name)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .join(Region, Region.id == Organisation.region_id)
        .where(Region.path.startswith(region.path))
    ).all()
    names = dict(rows)
    return _build(session, region.name, year, list(names), names)


def region_dashboard_from_records(session: Session, region: Region, year: int) -> dict[int, int]:
    """The same points per village straight from the records, without the monthly aggregates:
    what the benchmark compares against."""
    rows = session.execute(
        select(PointRecord.organisation_id, func.sum(PointRecord.points))
        .join(Organisation, Organisation.id == PointRecord.organisation_id)
        .join(Region, Region.id == Organisation.region_id)
        .where(
            Region.path.startswith(region.path),
            PointRecord.status == RecordStatus.settled,
            PointRecord.approved_at >= local_midnight(date(year, 1, 1)),
            PointRecord.approved_at < local_midnight(date(year + 1, 1, 1)),
        )
        .group_by(PointRecord.organisation_id)
    ).all()
    return {vid: int(total or 0) for vid, total in rows}


def dashboard_regions(session: Session, principal: Principal) -> list[Region]:
    """The regions whose roll-up the principal may open: their departments' regions."""
    if principal.is_platform_admin:
        return list(
            session.scalars(
                select(Region)
                .join(Organisation, Organisation.region_id == Region.id)
                .where(Organisation.kind == "government_department")
                .distinct()
            )
        )
    paths = {
        g.region_path
        for g in principal.grants(session)
        if PointsPerm.DASHBOARD in g.permissions and g.organisation_kind == "government_department"
    }
    return list(session.scalars(select(Region).where(Region.path.in_(paths))))


# --- exports ----------------------------------------------------------------------------------


def records_workbook(session: Session, village: Organisation, year: int) -> bytes:
    records = session.scalars(
        service.records_query(village, year=year).order_by(PointRecord.id)
    ).unique()
    households = dict(
        session.execute(
            select(Household.id, Household.name).where(Household.organisation_id == village.id)
        ).all()
    )
    header = [
        gettext("Number"),
        gettext("Name"),
        gettext("Household"),
        gettext("Rule"),
        gettext("Item"),
        gettext("Points"),
        gettext("Date"),
        gettext("Status"),
        gettext("Recorded on behalf"),
        gettext("Submitted at"),
        gettext("Note"),
    ]
    rows: list[list[object]] = [
        [
            r.id,
            r.person.name,
            households.get(r.household_id or 0, ""),
            r.rule_code,
            r.rule.title,
            r.points,
            r.occurred_on.isoformat(),
            gettext(STATUS_LABELS[RecordStatus(r.status)]),
            gettext("Yes") if r.on_behalf else "",
            local_time(r.submitted_at),
            r.note,
        ]
        for r in records
    ]
    return spreadsheets.workbook_bytes(header, rows, gettext("Points records"))


def balances_workbook(session: Session, village: Organisation) -> bytes:
    header = [gettext("Account"), gettext("Balance"), gettext("Star tier")]
    rows: list[list[object]] = [
        [label, account.balance, tier] for account, label, tier in balances(session, village)
    ]
    return spreadsheets.workbook_bytes(header, rows, gettext("Balances"))


# --- printable PDFs ---------------------------------------------------------------------------


def _long_date(moment: datetime) -> str:
    """A day as a printed notice writes it, in the reader's language (2026年11月24日)."""
    local = local_time(moment, "%Y-%m-%d").split("-")
    return gettext("%(year)s-%(month)s-%(day)s", year=local[0], month=local[1], day=local[2])


def notice_pdf(
    session: Session,
    village: Organisation,
    notice: PublicNotice,
    records: list[PointRecord],
    *,
    base_url: str,
    names: dict[int, str] | None = None,
) -> bytes:
    """The A4 notice for the village's physical board: names, never phones or ID numbers, and a
    QR code (with its address written out) that opens the notice online, where a villager can
    object. `base_url` is the site's absolute address, as the request saw it. `names` (person id
    -> name, from service.shown_names) is the copy for readers online who are not of the
    village: it masks those who did not agree to show their name, and household names (often
    the head's name) to the surname; without it every name prints in full, as the cadres' copy
    for the village board does."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = register_cjk_font()
    households = dict(
        session.execute(
            select(Household.id, Household.name).where(Household.organisation_id == village.id)
        ).all()
    )
    title_style = ParagraphStyle("t", fontName=font, fontSize=20, leading=28, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=11, leading=17)
    cell = ParagraphStyle("c", fontName=font, fontSize=10, leading=13)
    small = ParagraphStyle("small", fontName=font, fontSize=9, leading=12)
    closes = notice.closes_at - timedelta(seconds=1)
    title = gettext("%(village)s points notice", village=village.name)
    online = f"{base_url}/points/villages/{village.id}/board"
    qr_size = 28 * mm
    intro = Table(
        [
            [
                Paragraph(
                    markup(
                        gettext(
                            "After review, these points records are posted for public notice "
                            "from %(opens)s to %(closes)s. A villager who objects may tell the "
                            "villagers' committee in writing or in person while the notice is "
                            "up, or object on the Gongchuang platform through the QR code on "
                            "the right; the committee will answer in writing.",
                            opens=_long_date(notice.opens_at),
                            closes=_long_date(closes),
                        ),
                        font,
                    ),
                    body,
                ),
                [
                    qr_flowable(online, qr_size),
                    Paragraph(
                        gettext("Scan to see the notice online"),
                        ParagraphStyle("q", parent=small, alignment=1),
                    ),
                ],
            ]
        ],
        colWidths=[180 * mm - qr_size - 6 * mm, qr_size + 6 * mm],
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "CENTER")],
    )
    story: list[Any] = [
        Paragraph(markup(title, font), title_style),
        Paragraph(
            gettext("Notice no. %(number)s", number=notice.number),
            ParagraphStyle("n", parent=body, alignment=1),
        ),
        Spacer(1, 6 * mm),
        intro,
        Paragraph(markup(gettext("Online notice: %(address)s", address=online), font), small),
    ]
    if names is not None:
        households = {k: mask_name(v) for k, v in households.items()}
        story.append(
            Paragraph(
                gettext(
                    "Villagers who have not agreed to show their name online are shown by "
                    "surname only."
                ),
                small,
            )
        )
    names = names or {}
    story.append(Spacer(1, 5 * mm))
    data: list[list[Any]] = [
        [
            gettext("No."),
            gettext("Name"),
            gettext("Household"),
            gettext("Points item"),
            gettext("Points value"),
            gettext("Date"),
        ]
    ]
    for index, record in enumerate(records, start=1):
        struck = record.status in (RecordStatus.cancelled, RecordStatus.reversed)
        points = f"{record.points:+d}" + (gettext(" (struck out)") if struck else "")
        data.append(
            [
                str(index),
                Paragraph(markup(names.get(record.person_id, record.person.name), font), cell),
                Paragraph(markup(households.get(record.household_id or 0, ""), font), cell),
                Paragraph(markup(record.rule.title, font), cell),
                points,
                record.occurred_on.strftime("%m-%d"),
            ]
        )
    if len(data) == 1:
        data.append(["", "", "", Paragraph(gettext("(no records this time)"), cell), "", ""])
    table = Table(
        data,
        colWidths=[12 * mm, 24 * mm, 30 * mm, 72 * mm, 22 * mm, 18 * mm],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 10 * mm),
        Paragraph(markup(village.name, font), ParagraphStyle("s", parent=body, alignment=2)),
        Paragraph(_long_date(notice.opens_at), ParagraphStyle("d", parent=body, alignment=2)),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{title} {notice.number}",
    )
    doc.build(story)
    return out.getvalue()


def household_cards_pdf(
    session: Session, village: Organisation, households: list[Household], base_url: str
) -> bytes:
    """Printable redemption cards, eight to an A4 sheet: the shopkeeper scans the QR code."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    font = register_cjk_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(gettext("%(village)s redemption cards", village=village.name))
    _width, height = A4
    card_w, card_h = 90 * mm, 60 * mm
    for index, household in enumerate(households):
        slot = index % 8
        if index and slot == 0:
            pdf.showPage()
        x = 12 * mm + (slot % 2) * (card_w + 6 * mm)
        y = height - 15 * mm - (slot // 2 + 1) * (card_h + 6 * mm)
        pdf.roundRect(x, y, card_w, card_h, 4 * mm)
        draw_string(pdf, x + 5 * mm, y + card_h - 10 * mm, village.name, font, 13)
        draw_string(pdf, x + 5 * mm, y + card_h - 20 * mm, household.name, font, 16)
        draw_string(
            pdf, x + 5 * mm, y + card_h - 28 * mm, gettext("Points supermarket card"), font, 10
        )
        draw_string(
            pdf, x + 5 * mm, y + 6 * mm, gettext("Household no. %(id)s", id=household.id), font, 10
        )
        size = 42 * mm
        draw_qr(
            pdf,
            f"{base_url}/points/villages/{village.id}/card/{household.card_code}",
            x + card_w - size - 4 * mm,
            y + 9 * mm,
            size,
        )
    if not households:
        draw_string(
            pdf,
            20 * mm,
            height - 30 * mm,
            gettext("No household files in this village yet"),
            font,
            14,
        )
    pdf.showPage()
    pdf.save()
    return out.getvalue()
