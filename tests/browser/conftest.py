"""Browser tests: a real server process on a fresh database with the demo world, driven by
Debian's Chromium through Playwright, with axe-core run on every page visited."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.support.databases import BACKEND, demo_database_url
from tests.support.servers import ROOT, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@cache
def AXE_SOURCE() -> str:
    return AXE.read_text(encoding="utf-8")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


# The journeys through the pages (clicks, scripts, layout, axe-core) run on the SQLite half:
# what they check is the same on either database. The PostgreSQL half keeps the browser modules
# whose subject is the server and its database (live updates through LISTEN/NOTIFY across
# processes, hostile text stored and shown back) and asks every page of every persona for a
# server error in tests/core/test_page_crawl.py.
ONE_DATABASE = {
    "tests/browser/test_adoption.py",
    "tests/browser/test_charity.py",
    "tests/browser/test_emergency.py",
    "tests/browser/test_imports.py",
    "tests/browser/test_points.py",
    "tests/browser/test_shell.py",
    "tests/browser/test_slow_downloads.py",
    "tests/browser/test_training.py",
    "tests/browser/test_volunteer.py",
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each browser module's tests run on one test process: its server and demo database (the
    module's `live` fixture) are then started once, not once per process that got one of its
    tests."""
    for item in items:
        if "tests/browser/" in item.nodeid and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(f"browser:{item.module.__name__}"))
        if BACKEND == "postgresql" and item.nodeid.split("::")[0] in ONE_DATABASE:
            item.add_marker(
                pytest.mark.skip(reason="a journey through the pages: runs on the SQLite half")
            )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a server on a fresh database with the demo world."""
    tmp = tmp_path_factory.mktemp("live")
    with (
        demo_database_url(tmp, "browser") as url,
        running_server(url, tmp / "server.log") as base,
    ):
        yield base, url


@pytest.fixture(scope="module")
def live_server(live: tuple[str, str]) -> str:
    return live[0]


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=live_server, viewport={"width": 390, "height": 844}, locale="zh-CN"
    )
    ctx.set_default_timeout(10_000)
    problems: list[str] = []
    visited: set[str] = set()

    def watch(page: Page) -> None:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        # (HTTP error statuses the tests provoke on purpose are logged as "Failed to load".)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "framenavigated",
            lambda frame: visited.add(frame.url) if frame.parent_frame is None else None,
        )

    ctx.on("page", watch)
    # Every HTML answer the pages fetched, fragments swapped in by htmx included.
    ctx.on(
        "response",
        lambda r: (
            visited.add(r.url)
            if r.request.method == "GET" and "text/html" in (r.headers.get("content-type") or "")
            else None
        ),
    )
    yield ctx
    # Each page the test saw, read again: none may show the translation catalogue's header
    # (what gettext("") answers) — text shown from an empty message.
    for url in sorted(u for u in visited if u.startswith(live_server)):
        answer = ctx.request.get(url)
        if "Project-Id-Version" in answer.text():
            problems.append(f"the catalogue header on {url}")
    ctx.close()
    # A script error or a CSP violation is a broken page even when the test's clicks worked.
    assert not [p for p in problems if not p.startswith("Failed to load resource")], problems


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def check_accessibility(page: Page) -> None:
    """axe-core with the WCAG 2.x A/AA rules: no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP forbids inline scripts,
        # and the tests keep that CSP on so that they catch any script it would block.
        page.evaluate(AXE_SOURCE())
    # resultTypes: axe still runs every rule, but collects nodes only for violations, and only
    # the violations cross back to the test (the whole result is megabytes on a long page).
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, "
        "resultTypes: ['violations']})).violations.map(v => ({id: v.id, impact: v.impact, "
        "help: v.help, nodes: v.nodes.slice(0, 3).map(n => ({target: n.target}))}))"
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in bad
    )


def login(page: Page, phone: str, password: str = "gongchuang2026") -> None:
    page.goto("/login")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").last.click()
    page.wait_for_load_state()


def open_menu(page: Page) -> None:
    """Open the header's menu as a person on a phone does: the navigation, the language and
    logging out are behind it on a narrow screen (a wide screen shows them, the menu open)."""
    menu = page.locator("header details.menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    expect(menu.get_by_role("navigation")).to_be_visible()


def has_no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
        )
    )


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screens")
