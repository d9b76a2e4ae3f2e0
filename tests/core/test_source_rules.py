"""Rules on the source itself that no linter knows.

Chinese that a person reads goes through Babel: the code says it in English inside `N_()` or
`gettext()` and the catalogue gives the Chinese. A Chinese string constant anywhere else in
`src/gongchuang` is either content (demo data, village rule templates, the spreadsheet headers
people type, a certificate's fixed wording) and listed below with the reason, or a message that
bypasses the catalogue.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "gongchuang"
CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
# What `make extract-messages` reads as a message: the string is the catalogue's business.
BABEL_CALLS = {"N_", "_", "gettext", "ngettext", "pgettext"}

# Whole files of content, by path under src/gongchuang.
ALLOWED_FILES: dict[str, str] = {
    "demo.py": "the demo world: place, people and organisation names",
    "points/demo.py": "demo data: households, records, shop goods",
    "volunteer/demo.py": "demo data: volunteers, activities, organisations",
    "emergency/demo.py": "demo data: AEDs, responders, centres, addresses",
    "training/demo.py": "demo data: providers, courses, classes, a roster in Chinese",
    "training/demo_content.py": "demo course content: lessons and question banks",
    "adoption/demo.py": "demo data: a village farm, its seasons, diary and ledger entries",
    "charity/demo.py": "demo data: a charity, its projects, campaigns, donations and a fund",
    "charity/receipts.py": "a donation receipt's fixed Chinese wording and capital numerals",
    "points/catalogue_templates.py": "village rule catalogues, written as villages write them",
}

# Single strings in files of code: path -> (why, the strings).
ALLOWED_STRINGS: dict[str, tuple[str, frozenset[str]]] = {
    "app.py": ("the product's name in the OpenAPI title", frozenset({"Gongchuang 共创 API"})),
    "cli.py": (
        "the product's name in the command's help",
        frozenset({"Gongchuang 共创 — community public-good platform"}),
    ),
    "core/organisations.py": (
        "member spreadsheet: the column headers and role names people type",
        frozenset(
            {"姓名", "手机号", "手机号码", "电话", "职务", "角色"}
            | {"管理员", "村干部", "网格员", "工作人员", "培训师", "成员", "村民"}
        ),
    ),
    "core/regions.py": (
        "region spreadsheet: the column headers people type",
        frozenset({"代码", "区划代码", "名称", "级别", "上级代码", "类型"}),
    ),
    "core/pdf.py": (
        "a certificate is a formal document in its fixed Chinese wording, whatever language "
        "the site is read in (see training/reports.py and volunteer/reports.py)",
        frozenset({"证书编号 ", "扫描二维码核验"}),
    ),
    "training/reports.py": (
        "the completion certificate's fixed Chinese wording (see its docstring)",
        frozenset(
            {
                "%Y年%m月%d日",
                "结业证书",
                " 同志：",
                "于 ",
                " 至 ",
                " 参加在线课程",
                "》的学习，完成全部课时并通过结业测验，准予结业。",
                "颁发单位：",
                "结业日期 ",
            }
        ),
    ),
    "volunteer/reports.py": (
        "the volunteer service certificate's fixed Chinese wording (see its docstring)",
        frozenset(
            {
                "志愿服务证明",
                "兹证明 ",
                " 同志于 ",
                "%Y年%m月%d日",
                " 至 ",
                "在 ",
                " 参加志愿服务，",
                "经核实累计服务时长 ",
                " 小时。",
                "特此证明。",
                "出具日期 ",
            }
        ),
    ),
    "points/service/records.py": (
        "record spreadsheet: the column headers people type",
        frozenset({"手机号", "手机号码", "电话", "规则编号", "规则代码", "编号"})
        | frozenset({"日期", "发生日期", "备注", "说明"}),
    ),
    "training/service/classes.py": (
        "class roster spreadsheet: the column headers people type",
        frozenset({"姓名", "手机号", "手机号码", "联系电话", "身份证号", "身份证号码", "职务"}),
    ),
    "training/quiz/banks.py": (
        "question bank spreadsheet: the headers and question kinds people type, and the two "
        "options a true/false question is stored with (bank content, like its questions)",
        frozenset(
            {"题型", "题目", "题干", "答案", "正确答案", "解析", "答案解析", "来源", "出处"}
            | {"标签", "分类", "选项", "单选", "单选题", "多选", "多选题", "判断", "判断题"}
            | {"对", "正确", "是", "错", "错误", "否"}
        ),
    ),
    "emergency/coverage.py": (
        "population spreadsheet: the column headers people type",
        frozenset({"名称", "纬度", "经度", "人口", "人数", "坐标系"}),
    ),
    "emergency/service/aeds.py": (
        "AED spreadsheet: the column headers and yes/no values people type",
        frozenset(
            {"纬度", "经度", "坐标系", "品牌", "型号", "序列号", "地址", "室内位置"}
            | {"开放时间", "按工作日开放", "状态", "电池有效期", "电极片有效期"}
            | {"最近检查", "管理人手机号", "是", "否"}
        ),
    ),
    "emergency/opening_hours.py": (
        "opening hours said in words: a phrase table per locale, both spelt here because the "
        "phrases are composed from OSM's grammar, not looked up one message at a time",
        frozenset(
            {"周一", "周二", "周三", "周四", "周五", "周六", "周日"}
            | {"全天24小时开放", "至", "关闭", "法定节假日", "每天"}
        ),
    ),
    "emergency/schemas.py": (
        "OpenAPI field description (English for integrators) naming the Chinese term",
        frozenset(
            {
                "Keeps to China's working calendar: open on make-up working days (调休), "
                "closed on public holidays"
            }
        ),
    ),
}

# User-facing Chinese that bypasses the catalogue, to be moved into it (issue 14). Each entry
# is (path, string); the test fails once one is fixed so that the entry goes too.
KNOWN_TO_FIX: set[tuple[str, str]] = {
    # The name an erased account shows (stored in place of the person's name): to be shown
    # through the catalogue by the pages rather than stored in one language.
    ("core/people.py", "已注销用户"),
}


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def _babel_messages(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in BABEL_CALLS:
            found.update(id(arg) for arg in node.args if isinstance(arg, ast.Constant))
    return found


def chinese_in(source: str) -> list[tuple[int, str]]:
    """(line, string) of every string constant with Chinese in it that is neither a docstring
    nor a message handed to Babel."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _babel_messages(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and CJK.search(node.value)
    ]


def chinese_strings() -> list[tuple[str, int, str]]:
    """(path under src/gongchuang, line, string) for the whole package."""
    return [
        (path.relative_to(PACKAGE).as_posix(), line, text)
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in chinese_in(path.read_text(encoding="utf-8"))
    ]


def _allowed(path: str, text: str) -> bool:
    if path in ALLOWED_FILES:
        return True
    return path in ALLOWED_STRINGS and text in ALLOWED_STRINGS[path][1]


def test_chinese_a_person_reads_goes_through_the_catalogue() -> None:
    bypassing = [
        f"src/gongchuang/{path}:{line}: {text!r}"
        for path, line, text in chinese_strings()
        if not _allowed(path, text) and (path, text) not in KNOWN_TO_FIX
    ]
    assert bypassing == [], (
        "Chinese text outside the catalogue: say it in English with N_()/gettext() and "
        "translate it in the catalogue, or, if it is content, list it in this test with why:\n"
        + "\n".join(bypassing)
    )


def test_the_lists_name_only_what_is_still_there() -> None:
    present = {(path, text) for path, _line, text in chinese_strings()}
    paths = {path for path, _text in present}
    stale = sorted(
        [f"ALLOWED_FILES: {p}" for p in ALLOWED_FILES if p not in paths]
        + [
            f"ALLOWED_STRINGS: {p}: {t!r}"
            for p, (_why, texts) in ALLOWED_STRINGS.items()
            for t in texts
            if (p, t) not in present
        ]
        + [f"KNOWN_TO_FIX: {p}: {t!r}" for p, t in KNOWN_TO_FIX if (p, t) not in present]
    )
    assert stale == [], "no longer in the code; drop from the lists:\n" + "\n".join(stale)


def test_the_check_sees_chinese_outside_babel_and_docstrings() -> None:
    source = (
        '"""模块说明。"""\n'
        "from gongchuang.core import i18n\n"
        "from gongchuang.core.i18n import N_\n"
        'A = N_("好")\n'
        'B = i18n.gettext("好")\n'
        'C = f"{A}坏"\n'
        "def f():\n"
        '    """函数说明。"""\n'
        '    return "也坏"\n'
    )
    assert chinese_in(source) == [(6, "坏"), (9, "也坏")]


# A field's or a spreadsheet row's message is shown in the reader's language (gettext, in the
# web shell's forms and error page, and in a headline through `said`): it must be a message id,
# N_("…"), or a Phrase(N_("… %(x)s …"), x=…) where it has values. A plain literal or an f-string
# is shown in English to a Chinese reader.
MESSAGE_LISTS = {"problems"}
# Functions whose `problems` are codes (data later said in words), not messages: path ->
# function -> why.
CODE_LISTS: dict[str, dict[str, str]] = {
    "emergency/service/aeds.py": {
        "aed_problems": "AED problem codes (AED_PROBLEMS) that the pages say through a label map",
    },
}


def _text_not_message(node: ast.expr) -> bool:
    """A string literal, an f-string, a %-format, a concatenation or a "…".format(): text made
    here in one language rather than a message id or a variable."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    if isinstance(node, ast.IfExp):
        return _text_not_message(node.body) or _text_not_message(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _text_not_message(node.func.value)
    return False


def messages_not_ids(source: str, path: str = "") -> list[tuple[int, str]]:
    """(line, source) of every field's or row's message given as text rather than as a
    message id: a dict's "message" value (a literal dict or dict(message=…)) and what is
    appended to a list of problems."""
    tree = ast.parse(source)
    exempt = CODE_LISTS.get(path, {})
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in exempt:
            skipped.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.Dict):
            values = [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "message"
            ]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "dict":
                values = [kw.value for kw in node.keywords if kw.arg == "message"]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in MESSAGE_LISTS
            and id(node) not in skipped
        ):
            values = node.args[:1]
        found += [(v.lineno, ast.unparse(v)) for v in values if _text_not_message(v)]
    return sorted(found)


def test_fields_and_rows_messages_are_message_ids() -> None:
    bypassing = [
        f"src/gongchuang/{rel}:{line}: {text}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for rel in [path.relative_to(PACKAGE).as_posix()]
        for line, text in messages_not_ids(path.read_text(encoding="utf-8"), rel)
    ]
    assert bypassing == [], (
        "A field's or row's message is shown in the reader's language: give it as N_(\"…\"), "
        'or Phrase(N_("… %(x)s …"), x=…) where it has values, and translate it in the '
        "catalogue:\n" + "\n".join(bypassing)
    )


def test_the_code_lists_name_functions_that_are_there() -> None:
    stale = []
    for path, functions in CODE_LISTS.items():
        tree = ast.parse((PACKAGE / path).read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        stale += [f"{path}: {name}" for name in functions if name not in defined]
    assert stale == [], "no longer in the code; drop from CODE_LISTS:\n" + "\n".join(stale)


def test_the_message_check_sees_text_that_is_not_a_message_id() -> None:
    source = (
        "from gongchuang.core.i18n import N_, Phrase, gettext\n"
        'a = {"field": "x", "message": N_("required")}\n'
        'b = {"field": "x", "message": Phrase(N_("repeats line %(line)s"), line=2)}\n'
        'c = {"field": "x", "message": gettext("required")}\n'
        'd = {"field": "x", "message": problem}\n'
        'e = {"field": "x", "message": "required"}\n'
        'f = {"field": "x", "message": f"repeats line {line}"}\n'
        'g = {"field": "x", "message": "repeats line %s" % line}\n'
        'h = dict(field="x", message="1..1000")\n'
        'problems.append("name is empty")\n'
        'problems.append(N_("name is empty"))\n'
        'problems.append("bad {}".format(x))\n'
        'codes.append("battery_expired")\n'
    )
    assert [line for line, _text in messages_not_ids(source)] == [6, 7, 8, 9, 10, 12]
    exempt = "def aed_problems():\n    problems.append('battery_expired')\n"
    assert messages_not_ids(exempt, "emergency/service/aeds.py") == []
    assert messages_not_ids(exempt, "other.py") == [(2, "'battery_expired'")]


def _refused_detail(rows: list[dict[str, object]], locale: str) -> str:
    from gongchuang.core.errors import InvalidInput, refuse_bad_rows
    from gongchuang.core.i18n import current_locale

    token = current_locale.set(locale)
    try:
        try:
            refuse_bad_rows(rows)
        except InvalidInput as exc:
            return exc.detail()
        raise AssertionError("the rows were not refused")
    finally:
        current_locale.reset(token)


def test_a_refused_spreadsheet_is_said_in_the_readers_language() -> None:
    from gongchuang.core.i18n import N_, Phrase

    repeats = [{"line": 3, "message": Phrase(N_("phone repeats line %(line)s"), line=2)}]
    empty = [{"line": 4, "message": N_("name is empty")}]
    latin = re.compile("[A-Za-z]")
    for rows in (repeats, empty):
        chinese = _refused_detail(rows, "zh_CN")
        assert CJK.search(chinese) and not latin.search(chinese), chinese
    assert _refused_detail(repeats, "zh_CN").startswith("第 3 行：手机号与第 2 行重复")
    assert _refused_detail(repeats, "en") == (
        "Line 3: phone repeats line 2. Nothing from this file was stored."
    )
    assert _refused_detail(empty, "en") == (
        "Line 4: name is empty. Nothing from this file was stored."
    )
    # The row's message itself stays the English text (what the API's `errors` list carries).
    assert repeats[0]["message"] == "phone repeats line 2"
