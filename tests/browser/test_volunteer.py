"""Volunteering as its people meet it: an organisation publishes an activity, a new volunteer
finds it among their recommendations and signs up, checks in and out with the organiser's QR
code, the organiser confirms the hours, the volunteer downloads a certificate whose QR page
verifies, sees the star level rise and claims a benefit that the partner then accepts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select, update

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.permissions import SYSTEM
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Shift, Signup
from tests.browser.conftest import check_accessibility, has_no_horizontal_scroll, login

pytestmark = pytest.mark.browser

ORGANISER = "13800000007"  # 吴社工, staff of the volunteer association
NEWCOMER = "13900000003"  # a villager who has never volunteered
PARTNER = "13800000004"  # 陈店长, admin of the shopping mall (a benefits partner)
SITE = (27.7412, 111.2964)


def as_user(context: BrowserContext, page: Page, phone: str) -> None:
    context.clear_cookies()
    login(page, phone)


def move_shift(database_url: str, shift_id: int, starts_in: timedelta) -> None:
    database = Database(database_url)
    try:
        with database.transaction() as session:
            starts = utcnow() + starts_in
            session.execute(
                update(Shift)
                .where(Shift.id == shift_id)
                .values(starts_at=starts, ends_at=starts + timedelta(hours=3))
            )
            if starts_in < timedelta(0):  # they came at the start
                session.execute(
                    update(Signup).where(Signup.shift_id == shift_id).values(checked_in_at=starts)
                )
    finally:
        database.dispose()


def test_volunteer_journey(context: BrowserContext, page: Page, live: tuple[str, str]) -> None:
    _base, database_url = live
    database = Database(database_url)
    with database.transaction() as session:  # the federation counts stars from 2 hours
        service.set_star_thresholds(session, SYSTEM, [2, 10, 50, 100, 200])
    database.dispose()
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(service.SHANGHAI).date()

    as_user(context, page, ORGANISER)
    page.goto("/volunteer")
    check_accessibility(page)
    page.get_by_role("link", name="发布活动").first.click()
    # The organisation's dashboard: the month still running is drawn as partial (a pale bar,
    # a dashed line) and said so, not shown as a fall.
    new_activity = page.url
    page.goto(new_activity.split("/activities/new")[0])
    expect(page.locator("#chart-hours canvas")).to_have_count(1)
    expect(page.get_by_test_id("partial-month")).to_contain_text("尚未结束")
    expect(page.locator("table.keep thead th").last).to_contain_text("（进行中）")
    page.goto(new_activity)
    page.get_by_label("活动名称").fill("梅溪河岸清洁")
    page.get_by_label("类别").select_option("environment")
    page.get_by_label("服务内容").fill("捡拾河岸垃圾，分类装袋。")
    page.get_by_label("地点").fill("梅溪河岸")
    page.get_by_label("纬度").fill(str(SITE[0]))
    page.get_by_label("经度").fill(str(SITE[1]))
    page.get_by_label("日期 1").fill(tomorrow.isoformat())
    check_accessibility(page)
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("梅溪河岸清洁")
    activity_url = page.url.removesuffix("/manage")

    as_user(context, page, NEWCOMER)
    page.goto("/volunteer")
    page.get_by_role("link", name="注册成为志愿者").click()
    page.get_by_label("环境保护").check()
    page.get_by_label("周末").check()
    page.get_by_label(re.compile("保存我的住址位置")).check()
    page.get_by_label("纬度").fill(str(SITE[0] + 0.002))
    page.get_by_label("经度").fill(str(SITE[1]))
    check_accessibility(page)
    page.get_by_role("button", name="注册成为志愿者").click()
    recommended = page.get_by_role("link", name="梅溪河岸清洁")
    expect(recommended).to_be_visible()
    # A recommendation says when: the next shift's date and time.
    card = page.locator("li.card").filter(has=recommended)
    expect(card.get_by_test_id("activity-when")).to_contain_text(f"最近一场：{tomorrow}")
    check_accessibility(page)

    # The list of activities: dated cards with a count (in pages: tests/volunteer/
    # test_listing.py), narrowed by words and dates, the filters kept in the address; htmx
    # swaps the results in as the person types.
    page.goto("/volunteer/activities")
    expect(page.get_by_test_id("activity-count")).to_contain_text("个活动")
    expect(page.get_by_test_id("activity-when").first).to_contain_text("最近一场：")
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    page.get_by_role("searchbox", name="搜索").fill("梅溪")
    expect(page).to_have_url(re.compile(r"[?&]q=%E6%A2%85%E6%BA%AA", re.IGNORECASE))
    expect(page.get_by_test_id("activity-count")).to_have_text("共 1 个活动")
    expect(page.get_by_role("link", name="梅溪河岸清洁")).to_be_visible()
    page.get_by_label("从", exact=True).fill(tomorrow.isoformat())
    page.get_by_label("至", exact=True).fill(tomorrow.isoformat())
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(rf"date_to={tomorrow}"))
    expect(page.get_by_test_id("activity-count")).to_have_text("共 1 个活动")
    check_accessibility(page)
    page.get_by_role("link", name="梅溪河岸清洁").click()
    page.get_by_role("button", name=re.compile("报名")).first.click()
    expect(page.get_by_role("status")).to_contain_text("报名成功")
    check_accessibility(page)
    # Their home page now leads with their next shift: when and where.
    page.goto("/")
    shifts = page.get_by_test_id("home-shifts")
    expect(shifts).to_contain_text("梅溪河岸清洁")
    expect(shifts).to_contain_text(f"{tomorrow}")
    expect(shifts).to_contain_text("梅溪河岸")
    expect(page.locator("#stats-h")).to_have_count(0)
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    shifts.get_by_role("link", name="我的全部服务班次").click()
    shift_id = int(
        page.get_by_role("link", name="签到/签退").first.get_attribute("href").split("=")[1]
    )

    # The day comes: the shift starts in five minutes.
    move_shift(database_url, shift_id, timedelta(minutes=5))
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": SITE[0], "longitude": SITE[1]})

    def scan() -> None:
        as_user(context, page, ORGANISER)
        page.goto(f"/volunteer/shifts/{shift_id}/qr")
        check_accessibility(page)
        url = page.get_by_test_id("checkin-url").inner_text()
        as_user(context, page, NEWCOMER)
        page.goto(url)
        page.get_by_role("button", name="立即签到/签退").click()

    scan()
    expect(page.get_by_role("status")).to_contain_text("签到成功")
    check_accessibility(page)
    move_shift(database_url, shift_id, -timedelta(hours=3, minutes=5))
    scan()
    expect(page.get_by_role("status")).to_contain_text("签退成功")

    as_user(context, page, ORGANISER)
    page.goto(activity_url + "/manage")
    page.get_by_role("checkbox", name=re.compile("选择")).first.check()
    page.get_by_role("button", name="确认所选时长").click()
    expect(page.locator("td .tag").first).to_have_text("时长已确认")
    check_accessibility(page)

    as_user(context, page, NEWCOMER)
    page.goto("/volunteer")
    expect(page.get_by_test_id("my-hours")).to_have_text("3.0")
    expect(page.get_by_test_id("my-star")).to_have_text("1")
    page.get_by_role("link", name="时长与证明").click()
    page.get_by_role("button", name="开具证明").click()
    pdf_link = page.get_by_role("link", name="证明 PDF").first
    pdf = page.request.get(pdf_link.get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    check_accessibility(page)
    page.get_by_role("link", name="核验页面").first.click()
    expect(page.get_by_role("status")).to_contain_text("此证明真实有效")
    expect(page.get_by_test_id("certificate-hours")).to_have_text("3.0")
    check_accessibility(page)

    page.goto("/volunteer/benefits")
    page.get_by_role("button", name="领取：博物馆免费参观").click()
    code = page.get_by_test_id("claim-code").first.inner_text()
    check_accessibility(page)

    as_user(context, page, PARTNER)
    page.goto("/volunteer")
    page.get_by_role("region", name="我们提供的福利").get_by_role("link").first.click()
    page.get_by_label("领取码").fill(code)
    page.get_by_role("button", name="核验通过").click()
    expect(page.get_by_role("status")).to_contain_text(code)
    check_accessibility(page)

    database = Database(database_url)
    with database.transaction(write=False) as session:
        signup = session.scalar(select(Signup).where(Signup.shift_id == shift_id))
        assert signup is not None and signup.status == "verified"
    database.dispose()


def test_mobilisation_board_on_a_phone(context: BrowserContext, page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    as_user(context, page, ORGANISER)
    page.goto("/volunteer")
    page.get_by_role("region", name="我管理的组织").get_by_role(
        "link", name="新化县共创志愿者协会（示范）"
    ).click()
    check_accessibility(page)
    page.get_by_role("link", name="集中招募志愿者").click()
    first = (utcnow() + timedelta(days=3)).astimezone(service.SHANGHAI).date()
    page.get_by_label("招募名称").fill("防汛值守")
    page.get_by_label(re.compile("点位，每行一个")).fill(
        "青山示范镇政府, 27.742, 111.298\n资江大桥, 27.745, 111.318"
    )
    page.get_by_label("开始日期").fill(first.isoformat())
    page.get_by_label("天数").fill("3")
    check_accessibility(page)
    page.get_by_role("button", name="生成班次").click()
    expect(page.get_by_test_id("fill-rate")).to_have_text("0%")
    check_accessibility(page)
