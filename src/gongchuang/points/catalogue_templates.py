"""Two example rule catalogues a village copies and then edits as its own.

Rules are village content, written in Chinese as villages write them, not interface text.
Each rule: (code, title, points, evidence required, cap count, cap period, who may report).
"""

from __future__ import annotations

from dataclasses import dataclass

from gongchuang.core.i18n import N_

SELF = "self"
CADRE = "cadre"
LEADER = "group_leader"
GRID = "grid_worker"
OFFICIALS = (CADRE, LEADER, GRID)


@dataclass(frozen=True)
class RuleTemplate:
    code: str
    title: str
    points: int
    evidence_required: bool
    cap_count: int | None
    cap_period: str
    reporters: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueTemplate:
    code: str
    label: str
    description: str
    approval_roles: tuple[str, ...]
    reset_period: str
    volunteer_rule_code: str
    star_tiers: tuple[tuple[str, int], ...]
    categories: tuple[tuple[str, tuple[RuleTemplate, ...]], ...]


R = RuleTemplate

YOUXIQIAO = CatalogueTemplate(
    code="youxiqiao",
    label=N_("Household scoring after the Youxiqiao model (Hunan)"),
    description=N_(
        "Household accounts, group leader then village committee approve, scored all year."
    ),
    approval_roles=(LEADER, CADRE),
    reset_period="none",
    volunteer_rule_code="GY04",
    star_tiers=(("一星文明户", 20), ("三星文明户", 60), ("五星文明户", 120)),
    categories=(
        (
            "环境卫生",
            (
                R("HJ01", "房前屋后干净整洁（月度检查合格）", 5, False, 1, "month", OFFICIALS),
                R("HJ02", "参与垃圾分类、清理河道沟渠", 2, True, 4, "month", (SELF, *OFFICIALS)),
                R("HJ03", "乱扔垃圾、乱堆乱放", -5, True, None, "month", OFFICIALS),
            ),
        ),
        (
            "孝老爱亲",
            (
                R("XL01", "照料孤寡、空巢老人", 3, True, 4, "month", (SELF, *OFFICIALS)),
                R("XL02", "被评为好婆婆、好媳妇", 20, False, 1, "year", (CADRE,)),
                R("XL03", "不赡养老人，经调解仍不改正", -20, False, None, "year", (CADRE,)),
            ),
        ),
        (
            "公益劳动",
            (
                R("GY01", "参加村组义务劳动（每次）", 3, True, 8, "month", (SELF, *OFFICIALS)),
                R("GY02", "参加村民会议或村民代表会议", 2, False, 2, "month", OFFICIALS),
                R("GY03", "无偿献血", 10, True, 2, "year", (SELF, CADRE)),
                R("GY04", "参加志愿服务（每小时）", 1, False, 40, "month", OFFICIALS),
            ),
        ),
        (
            "文明乡风",
            (
                R("WM01", "婚事新办、丧事简办", 10, False, 1, "year", (CADRE,)),
                R("WM02", "禁放期燃放烟花爆竹", -10, True, None, "month", OFFICIALS),
                R("WM03", "邻里互助、调解纠纷", 3, False, 4, "month", OFFICIALS),
            ),
        ),
        (
            "遵纪守法",
            (
                R("ZF01", "全年无违法违纪记录", 10, False, 1, "year", (CADRE,)),
                R("ZF02", "见义勇为", 30, True, None, "year", (CADRE,)),
                R("ZF03", "参与赌博、封建迷信活动", -20, False, None, "year", (CADRE,)),
            ),
        ),
    ),
)

GUANGDONG = CatalogueTemplate(
    code="guangdong",
    label=N_("Personal scoring, quarterly, one approval level (Guangdong pilot)"),
    description=N_("Person accounts, the village committee approves, points reset each quarter."),
    approval_roles=(CADRE,),
    reset_period="quarter",
    volunteer_rule_code="",
    star_tiers=(("积分先进个人", 30), ("积分标兵", 60)),
    categories=(
        (
            "党建引领",
            (
                R("DJ01", "参加主题党日、政策宣讲", 2, False, 3, "month", OFFICIALS),
                R("DJ02", "为村级发展建言献策并被采纳", 5, False, 2, "quarter", (SELF, CADRE)),
            ),
        ),
        (
            "乡村治理",
            (
                R("ZL01", "参加网格巡查、治安联防", 2, True, 8, "month", (SELF, GRID, CADRE)),
                R("ZL02", "及时上报安全隐患", 3, True, 4, "month", (SELF, GRID, CADRE)),
                R("ZL03", "违规占道、私搭乱建", -10, True, None, "quarter", (GRID, CADRE)),
            ),
        ),
        (
            "生态宜居",
            (
                R("ST01", "庭院美化、绿化种植", 3, True, 2, "month", (SELF, *OFFICIALS)),
                R("ST02", "焚烧秸秆、垃圾", -5, True, None, "month", (GRID, CADRE)),
            ),
        ),
        (
            "乡风文明",
            (
                R("XF01", "参加文体活动、农民夜校", 1, False, 6, "month", (SELF, *OFFICIALS)),
                R("XF02", "获评最美家庭等荣誉", 15, False, 1, "year", (CADRE,)),
            ),
        ),
    ),
)

TEMPLATES = {t.code: t for t in (YOUXIQIAO, GUANGDONG)}
