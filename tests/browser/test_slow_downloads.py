"""A slow download says it is working: the household cards PDF takes seconds for a big village,
and a cadre who sees nothing happen taps again, or leaves."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import check_accessibility, login

pytestmark = pytest.mark.browser

CADRE = "13800000001"  # 李村支书


def test_the_household_cards_say_they_are_being_made(context: BrowserContext, page: Page) -> None:
    login(page, CADRE)
    page.goto("/points")
    page.get_by_role("link", name="油茶示范村村民委员会").click()
    page.goto(page.url + "/manage")
    # As on a slow connection or a village of hundreds of households: the answer takes 2 s.
    page.evaluate(
        "() => { const real = window.fetch; window.fetch = (...args) =>"
        " new Promise(r => setTimeout(r, 2000)).then(() => real(...args)); }"
    )
    link = page.get_by_role("link", name="打印全部户兑换卡（PDF）")
    status = page.get_by_role("status").filter(has_text="兑换卡")
    with page.expect_download() as downloaded:
        link.click()
        expect(link).to_have_attribute("aria-busy", "true")
        link.click(force=True)  # a second tap while it works starts nothing more
        expect(page.get_by_role("status")).to_contain_text("正在为每户生成兑换卡")
    check_accessibility(page)
    download = downloaded.value
    assert download.suggested_filename == "household-cards.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read(5) == b"%PDF-"
    expect(status).to_contain_text("兑换卡已生成")
    expect(link).not_to_have_attribute("aria-busy", "true")
    entries = page.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('cards.pdf')).map(e => [e.name, e.initiatorType])"
    )
    assert len(entries) == 1, entries
