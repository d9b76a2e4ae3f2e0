"""Charity in a real browser, on the demo world: on a phone, 王大妈 opens the giving day's
project, gives ¥20, pays at the sandbox cashier, sees her donation received and its match,
downloads the receipt, and follows the project's public ledger to the expense it paid."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import check_accessibility, has_no_horizontal_scroll, login

GIVING_DAY = "99公益日"
PROJECT = "乡村儿童营养午餐"
EXPENSE = "3月食材采购"


def fits_at_200_percent(page: Page) -> bool:
    """320 px wide with text at 200 % (a cheap phone's largest font): nothing scrolls
    sideways."""
    page.set_viewport_size({"width": 320, "height": 640})
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    fits = has_no_horizontal_scroll(page)
    page.evaluate("document.documentElement.style.fontSize = ''")
    page.set_viewport_size({"width": 390, "height": 844})
    return fits


def test_villager_gives_on_the_giving_day_and_follows_the_money(page: Page) -> None:
    login(page, "13800000002")
    page.goto("/charity")
    check_accessibility(page)
    page.get_by_test_id("campaigns").get_by_role("link", name=GIVING_DAY).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(GIVING_DAY)
    page.get_by_role("link", name=PROJECT).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PROJECT)
    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    assert has_no_horizontal_scroll(page) and fits_at_200_percent(page)
    check_accessibility(page)

    form = page.locator('form[action$="/donate"]')
    form.get_by_label("¥10", exact=True).check()
    form.locator('input[name="amount_yuan"]').fill("20")
    form.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/payments/sandbox/"))
    expect(page.locator("#payment-amount")).to_contain_text("20.00")
    page.locator('form[action^="/payments/sandbox/"] button[type="submit"]').click()

    expect(page).to_have_url(re.compile(r"/charity/donations/D\d{14}$"))
    expect(page.get_by_test_id("donation-status")).to_have_attribute("data-status", "paid")
    expect(page.get_by_test_id("amount")).to_have_text("¥20.00")
    match = page.get_by_test_id("match").first
    expect(match).to_have_attribute("data-status", re.compile("^(credited|frozen)$"))
    expect(match).to_contain_text(re.compile("已配捐|审核"))
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)

    receipt = page.get_by_test_id("receipt").get_attribute("href")
    assert receipt and receipt.endswith("/receipt.pdf")
    pdf = page.context.request.get(receipt)
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    page.locator('a[href$="/ledger"]').first.click()
    expect(page).to_have_url(re.compile(r"/charity/projects/\d+/ledger$"))
    expect(page.get_by_test_id("expenses")).to_contain_text(EXPENSE)
    expect(page.get_by_test_id("expense").filter(has_text=EXPENSE)).to_contain_text("¥12000.00")
    expect(page.get_by_test_id("ledger")).to_contain_text("¥20.00")
    assert has_no_horizontal_scroll(page) and fits_at_200_percent(page)
    check_accessibility(page)
