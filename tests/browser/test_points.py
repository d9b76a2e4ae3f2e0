"""Village points as its people meet it: a villager reports, the group leader and the committee
approve, the village sees the notice, a neighbour objects, the committee answers, the notice
closes and settles, the villager redeems soap, the shopkeeper hands it over, and the county sees
it on its dashboard."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select, update

from gongchuang.core import jobs
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.modules import load_modules
from gongchuang.points import service
from gongchuang.points.models import Household, PointRecord, PublicNotice
from tests.browser.conftest import (
    check_accessibility,
    has_no_horizontal_scroll,
    login,
    open_menu,
)

pytestmark = pytest.mark.browser

VILLAGER = "13800000002"  # 王大妈
LEADER = "13800000008"  # 孙组长
CADRE = "13800000001"  # 李村支书
SHOPKEEPER = "13800000004"  # 陈店长
COUNTY = "13800000003"  # 赵科长
NEIGHBOUR = "13900000005"


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(out, format="JPEG")
    return out.getvalue()


def as_user(context: BrowserContext, page: Page, phone: str) -> None:
    context.clear_cookies()
    login(page, phone)


def overflowing(page: Page) -> list[str]:
    """What sticks out past the right edge, to say what to fix."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right
                         > document.documentElement.clientWidth + 1)
            .slice(0, 5)
            .map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 30))"""
    )


def balance(page: Page) -> int:
    return int(page.get_by_test_id("my-balance").inner_text())


def test_points_journey(context: BrowserContext, page: Page, live: tuple[str, str]) -> None:
    _base, database_url = live
    as_user(context, page, VILLAGER)
    page.goto("/points")
    check_accessibility(page)
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    village_url = page.url
    before = balance(page)
    check_accessibility(page)
    page.get_by_role("link", name="申报积分").first.click()
    page.get_by_label("积分事项").select_option("GY01")
    # A rule that needs a photo marks the photo required, to the eye and to screen readers.
    expect(page.get_by_label("照片证据")).to_have_attribute("aria-required", "true")
    assert page.get_by_label("照片证据").evaluate("el => el.required")
    expect(page.get_by_text("（必填）")).to_be_visible()
    page.get_by_label("照片证据").set_input_files(
        {"name": "劳动.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    page.get_by_label("说明（选填）").fill("清理村口水塘")
    check_accessibility(page)
    page.get_by_role("button", name="提交审核").click()
    expect(page.get_by_role("status")).to_contain_text("已提交")
    expect(page.get_by_role("img", name=re.compile("照片证据"))).to_be_visible()
    record_url = page.url.split("?")[0]
    # The villager reads the rule's title and who it waits for: no rule code, no level number.
    expect(page.locator("dl.facts")).not_to_contain_text("GY01")
    expect(page.locator("dl.facts")).to_contain_text("待组长审核")
    check_accessibility(page)

    as_user(context, page, LEADER)
    # The leader's home page says what waits for them and leads to it.
    page.goto("/")
    page.get_by_test_id("home-approvals").click()
    expect(page).to_have_url(village_url + "/approvals")
    # Bulk approval: select all with a count read out, and a small photo of each record's
    # evidence that opens the full photo.
    pending = page.get_by_role("checkbox", name=re.compile("^选择"))
    total = pending.count()
    assert total > 1
    page.get_by_role("checkbox", name=re.compile("全选")).check()
    expect(page.get_by_test_id("selected-count")).to_have_text(f"已选 {total} / {total} 条")
    pending.first.uncheck()
    expect(page.get_by_test_id("selected-count")).to_have_text(f"已选 {total - 1} / {total} 条")
    page.get_by_role("checkbox", name=re.compile("全选")).check()  # from partly: all again
    expect(page.get_by_test_id("selected-count")).to_have_text(f"已选 {total} / {total} 条")
    page.get_by_role("checkbox", name=re.compile("全选")).uncheck()
    expect(page.get_by_test_id("selected-count")).to_have_text(f"已选 0 / {total} 条")
    thumb = page.get_by_role("img", name=re.compile("王大妈的照片：参加村组义务劳动"))
    expect(thumb.last).to_have_attribute("loading", "lazy")
    thumb.last.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.last.element_handle()
    )
    check_accessibility(page)
    page.get_by_role("link", name="参加村组义务劳动（每次）", exact=True).last.click()
    expect(page).to_have_url(re.compile(r"/records/\d+"))
    page.goto(record_url)
    page.get_by_role("button", name="通过").click()

    as_user(context, page, CADRE)
    page.goto(record_url)
    # Villagers and cadres read who a record waits for, never an internal level number.
    expect(page.get_by_text("待村干部审核")).to_be_visible()
    expect(page.get_by_text(re.compile(r"第 \d 级"))).to_have_count(0)
    page.get_by_role("button", name="通过").click()
    page.goto(record_url)
    expect(page.locator(".tag").first).to_have_text("公示中")

    as_user(context, page, NEIGHBOUR)
    page.goto(village_url + "/board")
    check_accessibility(page)
    expect(page.get_by_role("cell", name="王大妈").first).to_be_visible()
    # The notice is long: a count, and a search by name (htmx swaps the records in; the
    # address keeps the query); its pages: tests/points/test_lists.py. The printed notice
    # stays whole.
    expect(page.get_by_test_id("notice-count")).to_contain_text("条记录")
    page.get_by_role("searchbox", name="查找姓名").fill("王大妈")
    expect(page).to_have_url(re.compile(r"[?&]q="))
    names = page.locator("#notice-records tbody tr td:first-child")
    expect(names.first).to_have_text("王大妈")
    assert set(names.all_inner_texts()) == {"王大妈"}
    expect(page.get_by_role("link", name="可打印的 A4 公示（PDF）").first).to_be_visible()
    page.goto(record_url)
    # A refused objection comes back on the record's page, explained beside the field in
    # plain words, with what was typed put back (not an error page to leave).
    reason = page.get_by_label("异议理由")
    reason.fill("那天下雨\u0007")
    page.get_by_role("button", name="提交异议").click()
    expect(reason).to_have_attribute("aria-invalid", "true")
    note = page.locator("#" + (reason.get_attribute("aria-describedby") or "x").split()[0])
    expect(note).to_have_text("请删除其中看不见的控制字符。")
    expect(reason).to_have_value("那天下雨\u0007")
    expect(page.get_by_role("heading", level=1)).to_have_text("参加村组义务劳动（每次）")
    check_accessibility(page)
    reason.fill("那天下雨，没看到有人清理水塘。")
    page.get_by_role("button", name="提交异议").click()
    expect(page.get_by_role("status")).to_contain_text("异议已提交")

    as_user(context, page, CADRE)
    page.goto(village_url + "/objections")
    check_accessibility(page)
    section = page.locator("section.card").filter(has_text="那天下雨")
    section.get_by_label("书面答复").fill("经核实，王大妈雨停后清理了水塘，有照片为证。")
    section.get_by_role("button", name="驳回异议").click()
    expect(page.locator("section.card").filter(has_text="那天下雨")).to_contain_text("异议不成立")

    # Seven days pass: the notice closes and the worker's settlement job runs.
    record_id = int(record_url.rsplit("/", 1)[1])
    load_modules()  # the job handlers, as the worker process has them
    database = Database(database_url)
    try:
        with database.transaction() as session:
            notice_id = session.scalar(
                select(PointRecord.notice_id).where(PointRecord.id == record_id)
            )
            session.execute(
                update(PublicNotice)
                .where(PublicNotice.id == notice_id)
                .values(closes_at=utcnow() - timedelta(minutes=1))
            )
            jobs.enqueue(session, "points.settle")
        jobs.run_due(database)
    finally:
        database.dispose()

    as_user(context, page, VILLAGER)
    page.goto(village_url)
    assert balance(page) == before + 3
    page.goto(village_url + "/shop")
    check_accessibility(page)
    page.get_by_role("button", name="兑换肥皂").click()
    expect(page.get_by_role("status")).to_contain_text("兑换成功")
    expect(page.get_by_test_id("shop-balance")).to_have_text(str(before + 3 - 5))

    as_user(context, page, SHOPKEEPER)
    page.goto(village_url + "/shop")
    check_accessibility(page)
    hand_over = page.get_by_role("button", name=re.compile("确认交付：肥皂给王大妈"))
    hand_over.first.click()
    expect(page.get_by_role("button", name=re.compile("确认交付：肥皂给王大妈"))).to_have_count(0)
    # A household without a phone redeems with its card: the button's name begins with what
    # it says (axe's label-content-name-mismatch).
    village_id = int(village_url.rstrip("/").rsplit("/", 1)[1])
    database = Database(database_url)
    try:
        with database.transaction() as session:
            code = session.scalar(
                select(Household.card_code).where(Household.organisation_id == village_id)
            )
    finally:
        database.dispose()
    page.goto(f"{village_url}/card/{code}")
    expect(page.get_by_role("button", name=re.compile("^兑换并交付：")).first).to_be_visible()
    check_accessibility(page)

    as_user(context, page, COUNTY)
    page.goto("/points")
    page.get_by_role("link", name="新化县").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("新化县")
    expect(page.get_by_role("cell", name="油茶示范村村民委员会")).to_be_visible()
    assert int(page.get_by_test_id("total-points").inner_text()) > 0
    # Months to come are left out and the month still running is drawn dashed, never as a
    # drop to 0; participation and approval time have their table like every chart.
    month = service.today_local().month
    expect(page.locator("#chart-participation canvas")).to_have_count(1)
    drawn = page.evaluate(
        """() => { const o = echarts.getInstanceByDom(
                     document.getElementById('chart-participation')).getOption();
                   return {months: o.xAxis[0].data.length,
                           dashed: o.series.filter(s => s.lineStyle
                                                   && s.lineStyle.type === 'dashed').length}; }"""
    )
    assert drawn == {"months": month, "dashed": 2 if month > 1 else 0}
    expect(page.get_by_test_id("participation-table").locator("thead th")).to_have_count(month + 1)
    expect(page.get_by_test_id("partial-month")).to_contain_text("尚未结束")
    # Every village's name is on the axis, wrapped rather than clipped.
    label = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-villages'))"
        ".getOption().yAxis[0].axisLabel"
    )
    assert label["interval"] == 0 and label["overflow"] == "break"
    check_accessibility(page)


def test_dashboard_in_english_and_large_text(context: BrowserContext, page: Page) -> None:
    as_user(context, page, CADRE)
    page.goto("/points")
    open_menu(page)
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Points dashboard")
    expect(page.locator("#chart-categories canvas")).to_have_count(1)
    check_accessibility(page)
    page.get_by_role("button", name="Large text").click()
    page.get_by_role("link", name="Rules and settings").click()
    expect(page.get_by_role("heading", name="Rules", exact=True)).to_be_visible()
    check_accessibility(page)
    page.get_by_role("button", name="Large text").click()
    open_menu(page)
    page.get_by_role("button", name="中文").click()


def test_points_pages_in_large_text_on_a_small_phone(context: BrowserContext, page: Page) -> None:
    as_user(context, page, CADRE)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/points")
    page.get_by_role("button", name="大字模式").click()
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    village_url = page.url
    for path in (
        "",
        "/report",
        "/board",
        "/shop",
        "/rankings",
        "/records",
        "/dashboard",
        "/approvals",
        "/batch",
        "/objections",
        "/manage",
    ):
        page.goto(village_url + path)
        assert has_no_horizontal_scroll(page), (path, overflowing(page))
    check_accessibility(page)
    page.get_by_role("button", name="大字模式").click()


def test_on_a_phone_every_table_cell_says_which_column_it_is(
    context: BrowserContext, page: Page
) -> None:
    """Below 40rem a table row is a card: without its heading "肥皂 / 5 / 174" cannot say
    which number is the price and which the stock. Every cell of every table on the pages
    walked carries its column's name, shown before the value; captions do not wrap a
    character a line; the large-text switch looks pressed when it is on."""
    as_user(context, page, CADRE)
    page.goto("/points")
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    village_url = page.url
    page.get_by_role("button", name="大字模式").click()
    switch = page.get_by_role("button", name="大字模式")
    expect(switch).to_have_attribute("aria-pressed", "true")
    pressed = switch.evaluate("b => getComputedStyle(b).backgroundColor")
    assert pressed != "rgb(255, 255, 255)"
    seen = 0
    for path in ("/shop", "/records", "/rankings", "/approvals", "/manage"):
        page.goto(village_url + path)
        cells = page.evaluate(
            """() => [...document.querySelectorAll('main table:not(.keep) tbody td')]
                .filter(td => td.closest('table').querySelector('thead th'))
                .map(td => ({label: td.dataset.label || '',
                             before: getComputedStyle(td, '::before').content}))"""
        )
        for cell in cells:
            assert cell["label"], (path, cell)
            assert cell["before"] == f'"{cell["label"]}"', (path, cell)
        seen += len(cells)
        widths = page.evaluate(
            "() => [...document.querySelectorAll('main caption:not(.visually-hidden)')]"
            ".map(c => c.getBoundingClientRect().width)"
        )
        assert all(w > 100 for w in widths), (path, widths)
    assert seen > 10


def test_retiring_a_rule_asks_first(context: BrowserContext, page: Page) -> None:
    """What cannot be undone asks first: saying no changes nothing, saying yes retires."""
    as_user(context, page, CADRE)
    page.goto("/points")
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    page.goto(page.url + "/manage")
    retired_before = page.locator("main tbody .tag", has_text="已停用").count()
    asked: list[str] = []

    def answer(dialog, yes: bool) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept() if yes else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.get_by_role("button", name="停用").first.click()
    page.wait_for_timeout(300)
    assert asked and "停用这条规则" in asked[0]
    assert page.locator("main tbody .tag", has_text="已停用").count() == retired_before
    page.once("dialog", lambda d: answer(d, True))
    with page.expect_navigation():
        page.get_by_role("button", name="停用").first.click()
    expect(page.locator("main tbody .tag", has_text="已停用")).to_have_count(retired_before + 1)
