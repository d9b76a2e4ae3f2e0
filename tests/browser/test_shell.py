"""The web shell as its users meet it, in Chinese and English, large text, on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    check_accessibility,
    has_no_horizontal_scroll,
    login,
    open_menu,
)

pytestmark = pytest.mark.browser


def test_visitor_browses_in_chinese_then_english(page: Page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_contain_text("共创")
    expect(page.locator("#stats-h")).to_be_visible()  # the platform in figures: for guests
    check_accessibility(page)
    open_menu(page)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_menu(page)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Organisations")
    check_accessibility(page)
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_regions_down_to_a_demo_village(page: Page) -> None:
    page.goto("/regions")
    check_accessibility(page)
    page.get_by_role("link", name="湖南省", exact=True).click()
    page.get_by_role("link", name="娄底市", exact=True).click()
    page.get_by_role("link", name="新化县", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新化县")
    page.get_by_role("link", name="青山示范镇", exact=True).click()
    page.get_by_role("link", name="油茶示范村", exact=True).click()
    expect(page.get_by_role("navigation", name="位置导航")).to_contain_text("新化县")
    expect(page.get_by_role("link", name="油茶示范村村民委员会")).to_be_visible()
    check_accessibility(page)


def test_large_text_mode_persists_and_reflows_at_phone_width(page: Page) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/orgs")
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    page.goto("/regions/431322")
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 22  # 16px × 1.375
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    page.goto("/orgs")
    assert has_no_horizontal_scroll(page)
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).not_to_have_class(re.compile("large-text"))


def test_page_text_at_200_percent_does_not_overflow(page: Page) -> None:
    page.set_viewport_size({"width": 640, "height": 800})
    page.goto("/orgs/1")
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert has_no_horizontal_scroll(page)


def test_wrong_password_is_explained(page: Page) -> None:
    page.goto("/login")
    check_accessibility(page)
    page.get_by_label("手机号码").fill("13800000001")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").last.click()
    expect(page.get_by_role("alert")).to_contain_text("手机号码或密码不正确")
    check_accessibility(page)


def test_cadre_adds_a_member_who_sees_it_live(
    context: BrowserContext, browser, live_server: str
) -> None:
    newcomer_context = browser.new_context(
        base_url=live_server, locale="zh-CN", viewport={"width": 390, "height": 844}
    )
    try:
        newcomer = newcomer_context.new_page()
        login(newcomer, "13800000007")  # 吴社工, not yet in the village
        newcomer.goto("/notifications")
        check_accessibility(newcomer)
        newcomer.wait_for_function(
            "() => document.querySelector('[sse-connect]') && "
            "htmx.find('[sse-connect]')['htmx-internal-data'].sseEventSource.readyState === 1"
        )

        cadre = context.new_page()
        login(cadre, "13800000001")
        cadre.goto("/")
        mine = cadre.get_by_role("region", name="我的组织")
        mine.get_by_role("link", name="油茶示范村村民委员会").click()
        expect(cadre.get_by_role("heading", name="成员", exact=True)).to_be_visible()
        # Other villagers' phone numbers are shown in full only to staff like this cadre.
        expect(cadre.get_by_role("cell", name="13800000002")).to_be_visible()
        check_accessibility(cadre)
        cadre.get_by_label("已注册人员的手机号码").fill("13800000007")
        cadre.get_by_label("职务（选填）").fill("驻村社工")
        cadre.get_by_role("button", name="添加成员").click()
        expect(cadre.get_by_role("cell", name=re.compile("吴社工"))).to_be_visible()
        # Live search narrows the member list without a page load.
        cadre.get_by_label("按姓名或手机号搜索").fill("吴社")
        expect(cadre.locator("#member-rows tr")).to_have_count(1)
        expect(cadre.locator("#member-rows")).to_contain_text("吴社工")

        expect(newcomer.locator("#inbox")).to_contain_text(
            "您已加入油茶示范村村民委员会", timeout=10_000
        )
        newcomer.get_by_role("button", name="全部标为已读").click()
        expect(newcomer.locator("#unread-count")).to_contain_text("0")
    finally:
        newcomer_context.close()


def test_villager_sees_masked_numbers_and_manages_consents(page: Page) -> None:
    login(page, "13800000002")
    page.goto("/orgs/3")  # 油茶示范村: a plain member cannot list the members
    expect(page.get_by_text("只有本组织的工作人员可以查看成员名单。")).to_be_visible()
    page.goto("/me")
    expect(page.get_by_text("13800000002")).to_be_visible()  # the owner sees their own
    check_accessibility(page)
    page.get_by_label(re.compile("仅在值守期间使用我的位置")).check()
    page.get_by_role("button", name="保存授权").click()
    expect(page.get_by_label(re.compile("仅在值守期间使用我的位置"))).to_be_checked()


def test_administrator_sees_the_verified_audit_chain(page: Page) -> None:
    login(page, "13800000000")
    page.goto("/audit")
    expect(page.get_by_role("status")).to_contain_text("链条完整")
    check_accessibility(page)


def test_a_newcomer_registers_and_lands_on_their_profile(page: Page) -> None:
    page.goto("/login")
    page.get_by_role("link", name="注册").click()
    check_accessibility(page)
    page.get_by_label("姓名").fill("钱新人")
    page.get_by_label("手机号码").fill("13655556666")
    page.get_by_label("密码（至少8位）").fill("a-good-password")
    page.get_by_label("我已阅读并同意").check()
    page.get_by_role("button", name="注册").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("个人中心")
    expect(page.get_by_text("13655556666")).to_be_visible()
    expect(page.get_by_label("隐私政策和使用条款", exact=False).first).to_be_checked()
    check_accessibility(page)


def test_administrator_pages_pass_accessibility_checks(page: Page) -> None:
    login(page, "13800000001")
    page.goto("/orgs/3/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("回调（Webhook）")
    check_accessibility(page)
    page.goto("/orgs/3")
    expect(page.get_by_role("link", name="下载成员名单（Excel）")).to_be_visible()
    check_accessibility(page)


def test_the_api_documentation_runs_under_the_sites_content_security_policy(page: Page) -> None:
    """Swagger UI draws every operation with the CSP on: the `context` fixture fails the test
    on any CSP violation or script error the page reports."""
    response = page.goto("/api/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The first look at /api/openapi.json builds the document for ~300 operations: on a busy
    # 2-core machine that took more than the default 5 s once (a fresh clone's CI run).
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    # Swagger UI draws the operations as they scroll into view: ask it what it loaded.
    paths = page.evaluate("() => window.ui.specSelectors.specJson().get('paths').size")
    assert paths > 100
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".try-out__btn").first).to_be_visible()
    # Swagger UI's own greys pass the contrast check, and its English is marked as English.
    expect(page.locator("#swagger-ui")).to_have_attribute("lang", "en")
    check_accessibility(page)


def test_a_signed_in_home_page_is_the_persons_own(context: BrowserContext, page: Page) -> None:
    """王大妈's home page: her points balance and her village, each block leading to where the
    action is; no region counts; on a 390 px phone."""
    login(page, "13800000002")
    page.goto("/")
    points = page.get_by_test_id("home-points")
    expect(points).to_contain_text("余额")
    expect(page.locator("#stats-h")).to_have_count(0)
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    points.get_by_role("link", name="油茶示范村村民委员会").click()
    expect(page.get_by_test_id("my-balance")).to_be_visible()
    context.clear_cookies()
