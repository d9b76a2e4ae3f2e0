"""Cloud adoption in a real browser, on the demo world: a villager on a phone in large-text
mode adopts 20 m² of the open season, pays at the sandbox cashier and lands back on her
adoption; the village cadre writes in the farm's diary and she reads it; her shipped harvest
of last season arrives and she confirms it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import check_accessibility, has_no_horizontal_scroll, login

OPEN_SEASON = re.compile("何家岩云稻米 · 2027 早稻")
LAST_SEASON = re.compile("何家岩云稻米 · 2026 晚稻")


def test_villager_adopts_pays_reads_the_diary_and_confirms_delivery(
    page: Page, browser: Browser, live_server: str
) -> None:
    login(page, "13800000002")
    page.goto("/adoption")
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    page.get_by_role("link", name=OPEN_SEASON).click()
    season_url = page.url
    expect(page.get_by_test_id("price")).to_contain_text("¥6.00")
    adopted_before = int(page.get_by_test_id("adopted").inner_text().replace(",", ""))
    assert adopted_before > 0
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)

    page.locator("#a-units").fill("20")
    page.locator('input[name="delivery_method"][value="courier"]').check()
    page.locator('form[action$="/adopt"] button[type="submit"]').click()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "pending")
    expect(page.get_by_test_id("amount")).to_have_text("¥120.00")
    # The season's page, open in another tab, is to count her 20 m² as soon as she has paid.
    watcher = page.context.new_page()
    watcher.goto(season_url)
    expect(watcher.get_by_test_id("adopted")).to_have_text(f"{adopted_before:,}")
    page.locator('a[href$="/pay"]').click()
    expect(page).to_have_url(re.compile(r"/payments/sandbox/"))
    page.locator('form[action^="/payments/sandbox/"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/adoption/orders/RY[A-Z0-9]{10}$"))
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "allocated")
    assert page.get_by_test_id("timeline").locator("li").count() >= 2
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    order_url = page.url

    # Live, without reloading: the figures follow the season's channel.
    expect(watcher.get_by_test_id("adopted")).to_have_text(f"{adopted_before + 20:,}")
    watcher.close()

    # The cadre writes in the diary from the farm's page.
    cadre = browser.new_context(
        base_url=live_server, viewport={"width": 1280, "height": 900}, locale="zh-CN"
    )
    try:
        farm_page = cadre.new_page()
        login(farm_page, "13800000001")
        farm_page.goto("/adoption/manage")
        check_accessibility(farm_page)
        farm_page.get_by_role("link", name="何家岩云稻米基地").first.click()
        farm_page.get_by_role("link", name=OPEN_SEASON).click()
        farm_page.locator("#d-body").fill("抽穗：稻穗已经抽出来了，浏览器测试记录。")
        farm_page.locator('form[action$="/diary"] button[type="submit"]').click()
        expect(farm_page.get_by_test_id("diary-post").first).to_contain_text("抽穗")
        check_accessibility(farm_page)
    finally:
        cadre.close()

    # She sees the post on her adoption (on the next visit: the diary is not pushed live).
    page.goto(order_url)
    expect(page.get_by_test_id("diary-post").first).to_contain_text("抽穗：稻穗已经抽出来了")

    # Last season's harvest was shipped to her: she says it arrived.
    page.goto("/adoption/mine")
    page.get_by_role("link", name=LAST_SEASON).first.click()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "shipped")
    expect(page.get_by_test_id("tracking")).to_contain_text("中国邮政")
    expect(page.get_by_test_id("harvest-share")).to_have_text("22.5 公斤")
    page.locator('form[action$="/delivered"] button[type="submit"]').click()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "delivered")
    expect(page.get_by_test_id("order-status")).to_have_text("已送达")
