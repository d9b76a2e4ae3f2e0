"""A whole cardiac arrest in real browsers: a 120 centre posts the incident, three responders'
phones are alerted live, two accept (one sent via the AED), they report their progress, the
dispatcher watches it live and closes it with an outcome, and the centre's webhook receiver gets
signed status updates."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from gongchuang.core.db import Database
from gongchuang.core.models import Organisation, Person
from gongchuang.core.webhooks import sign, verify_signature
from gongchuang.demo import DEMO_PASSWORD
from gongchuang.emergency import matching
from gongchuang.emergency.models import Alert, DispatchCentre
from tests.browser.conftest import check_accessibility, has_no_horizontal_scroll, login
from tests.support.receiver import webhook_receiver

# A square in the next town, away from the demo's own responders around the mall.
X = (27.7800, 111.3500)


def near(north_m: float, east_m: float) -> dict[str, float]:
    return {
        "latitude": X[0] + north_m / matching.METRES_PER_DEGREE,
        "longitude": X[1] + east_m / (matching.METRES_PER_DEGREE * 0.8853),
    }


def token(base: str, phone: str, scopes: list[str]) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/tokens",
        json={"phone": phone, "password": DEMO_PASSWORD, "name": "test", "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


@pytest.fixture
def phones(browser: Browser, live: tuple[str, str]) -> Iterator[list[BrowserContext]]:
    base = live[0]
    contexts = []
    problems: list[str] = []
    for north, east in ((300, 0), (-400, 0), (0, 500)):
        ctx = browser.new_context(
            base_url=base,
            viewport={"width": 390, "height": 844},
            locale="zh-CN",
            geolocation=near(north, east),
            permissions=["geolocation"],
        )
        ctx.set_default_timeout(15_000)
        # The test posts the incident only once every page's live connection is open.
        ctx.add_init_script(
            "document.addEventListener('htmx:sseOpen', () => { window.liveOpen = true; })"
        )
        ctx.on("page", lambda p: p.on("pageerror", lambda e: problems.append(str(e))))
        ctx.on(
            "response",
            lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None,
        )
        contexts.append(ctx)
    yield contexts
    for ctx in contexts:
        ctx.close()
    assert not problems, problems


def test_a_whole_incident_from_the_120_centre_to_the_outcome(
    live: tuple[str, str], phones: list[BrowserContext], context: BrowserContext
) -> None:
    base, db_url = live
    database = Database(db_url)
    with database.transaction() as session:
        centre = session.scalar(select(DispatchCentre).where(DispatchCentre.code == "loudi-120"))
        assert centre is not None
        dispatch_org_id = centre.organisation_id
        mall_id = session.scalar(
            select(Organisation.id).where(Organisation.name == "新化示范购物中心")
        )
    database.dispose()
    dispatcher = token(base, "13800000005", ["emergency.dispatch", "org.manage_webhooks"])
    auth = {"Authorization": f"Bearer {dispatcher}"}
    secret = httpx.post(
        f"{base}/api/v1/emergency/organisations/{dispatch_org_id}/centre/secret", headers=auth
    ).json()["secret"]

    with webhook_receiver() as receiver:
        hook = httpx.post(
            f"{base}/api/v1/organisations/{dispatch_org_id}/webhooks",
            headers=auth,
            json={"url": receiver.url, "topics": ["emergency.incident_status"]},
        ).json()
        # The shop of the square registers an AED 150 m north, on the first responder's way.
        mall_admin = token(base, "13800000004", ["emergency.venue"])
        aed_point = near(150, 0)
        created = httpx.post(
            f"{base}/api/v1/emergency/organisations/{mall_id}/aeds",
            headers={"Authorization": f"Bearer {mall_admin}"},
            json={
                "lat": aed_point["latitude"],
                "lng": aed_point["longitude"],
                "address": "广场北门",
                "indoor_directions": "北门保安亭内，红色箱子",
                "opening_hours": "24/7",
            },
        )
        assert created.status_code == 201, created.text

        # Three first-aiders on duty report where they are now.
        pages: list[Page] = []
        for ctx, phone in zip(phones, ["13900000000", "13900000012", "13900000024"], strict=True):
            page = ctx.new_page()
            login(page, phone)
            page.goto("/emergency")
            # The form waits for the phone's position before it is sent: wait for the reply.
            with page.expect_navigation(url="**/emergency"):
                page.locator("form[data-add-location] button[type=submit]").first.click()
            expect(page.get_by_test_id("duty")).to_have_text("值班中")
            page.wait_for_function("() => window.liveOpen === true")
            pages.append(page)
        check_accessibility(pages[0])

        console = context.new_page()
        login(console, "13800000005")

        body = json.dumps(
            {
                "incidentComponent": {
                    "incidentTrackingIdentifier": "LD120-20261124-0042",
                    "incidentTypeCommonRegistryText": "cardiac_arrest",
                    "dispatchCode": "09E01",
                },
                "locationComponent": {
                    "latitude": X[0],
                    "longitude": X[1],
                    "civicAddressText": "示范广场中央",
                },
            },
            ensure_ascii=False,
        ).encode()
        posted = httpx.post(
            f"{base}/api/v1/emergency/centres/loudi-120/incidents",
            content=body,
            headers={
                **auth,
                "Content-Type": "application/json",
                "X-Gongchuang-Signature": sign(secret, body),
                "Idempotency-Key": "LD120-0042",
            },
        )
        assert posted.status_code == 201, posted.text
        incident = posted.json()
        assert incident["alerted"] == 3
        database = Database(db_url)
        with database.transaction() as session:
            alerted = set(
                session.scalars(
                    select(Person.phone)
                    .join(Alert, Alert.person_id == Person.id)
                    .where(Alert.incident_id == incident["id"])
                )
            )
        database.dispose()
        assert alerted == {"13900000000", "13900000012", "13900000024"}

        # Opening the live connection refreshes the picture once (it would catch up after a
        # reconnect): wait for that, so that axe does not look at a page being swapped.
        with console.expect_response(lambda r: r.url.endswith("/live")):
            console.goto(f"/emergency/incidents/{incident['id']}")
        expect(console.get_by_test_id("accepted-count")).to_have_text("0")
        check_accessibility(console)

        # Each phone shows the alert live, without reloading.
        for page in pages:
            # Live, well before the list's 30 s fallback refresh could show it. (One time in ten
            # it used to come only with that refresh: on SQLite the alert was announced when the
            # first wave's savepoint was released, before the request committed, so the phone
            # fetched its list too early and found no alert. Updates are now delivered only
            # once committed; see gongchuang.core.live.)
            expect(page.locator("[data-testid^=alert-] button[value=accept]")).to_be_visible(
                timeout=5_000
            )
        north, south, east = pages
        north.locator("button[value=accept]").first.click()
        north.wait_for_load_state()
        expect(north.get_by_test_id("aed-directions")).to_contain_text("北门保安亭")
        check_accessibility(north)
        east.locator("button[value=accept]").first.click()
        east.wait_for_load_state()
        expect(east.get_by_test_id("alert-status")).to_have_text("正在前往")
        south.locator("button[value=decline]").first.click()

        expect(console.get_by_test_id("accepted-count")).to_have_text("2")
        # Live updates swap the picture in: the map is drawn again, whole.
        expect(console.locator(".map.leaflet-container")).to_have_count(1)
        north.locator("button[value=at_aed]").click()
        north.locator("button[value=on_scene]").click()
        east.locator("button[value=on_scene]").click()
        rows = console.get_by_test_id("responders")
        expect(rows).to_contain_text("广场北门")
        expect(console.get_by_test_id("timeline")).to_contain_text("取到AED")

        console.get_by_label("救护车预计到达（分钟）").fill("7")
        console.locator("form:has(input[name=minutes]) button[type=submit]").click()
        for name in ("witnessed", "bystander_cpr", "aed_applied", "shock_delivered", "rosc"):
            console.locator(f"input[name={name}]").check()
        console.locator("button[value=close]").click()
        expect(console.get_by_test_id("incident-status")).to_have_text("已结束")
        console.get_by_role("button", name="大字模式").click()
        expect(console.get_by_test_id("outcome")).to_be_visible()
        assert has_no_horizontal_scroll(console)
        north.get_by_role("button", name="大字模式").click()
        assert has_no_horizontal_scroll(north)
        expect(north.get_by_test_id("alert-status")).to_have_text("已完成")

        deadline = time.monotonic() + 20
        changes: list[str] = []
        while time.monotonic() < deadline:
            # (The demo's own past incidents may arrive too: only this one counts.)
            mine = [json.loads(r.body)["data"] for r in receiver.received]
            mine = [d for d in mine if d["external_id"] == "LD120-20261124-0042"]
            changes = [d["change"] for d in mine]
            if "closed" in changes:
                break
            time.sleep(0.3)
        assert {"alerting", "responder_accepted", "at_aed", "on_scene", "closed"} <= set(changes)
        for received in receiver.received:
            assert verify_signature(
                hook["secret"], received.body, received.headers["x-gongchuang-signature"]
            )
        closed = next(d for d in mine if d["change"] == "closed")
        assert closed["outcome"]["shock_delivered"] is True and closed["accepted"] == 2

        # The same call resent by the centre is the same incident.
        again = httpx.post(
            f"{base}/api/v1/emergency/centres/loudi-120/incidents",
            content=body,
            headers={
                **auth,
                "Content-Type": "application/json",
                "X-Gongchuang-Signature": sign(secret, body),
                "Idempotency-Key": "LD120-0042",
            },
        )
        assert again.status_code == 200 and again.json()["id"] == incident["id"]


def test_anyone_finds_aeds_on_the_public_map(page: Page) -> None:
    page.goto("/emergency/aeds")
    expect(page.locator("table")).to_contain_text("新化示范购物中心一楼服务台")
    check_accessibility(page)


def test_venue_centre_console_and_coverage_pages_work_and_are_accessible(
    page: Page, live: tuple[str, str]
) -> None:
    login(page, "13800000004")  # the mall's admin
    page.goto("/emergency")
    page.get_by_role("link", name="新化示范购物中心的AED与急救员").click()
    expect(page.locator("table").first).to_contain_text("新化示范购物中心地下停车场B1")
    expect(page.locator("table").first).to_contain_text("电极片已过期")
    check_accessibility(page)
    page.get_by_role("link", name="编辑AED：新化示范购物中心一楼服务台").click()
    edit_url = page.url
    page.get_by_label("可取用时间").fill("every day")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("main")).to_contain_text("AED的部分信息无效")
    expect(page.locator("main")).to_contain_text("opening_hours")  # which field, and why
    # Nobody knows the hours: left empty, the AED shows as "maybe", never as always open.
    page.goto(edit_url)
    page.get_by_label("可取用时间").fill("")
    page.get_by_role("button", name="保存").click()
    row = page.locator("tr", has_text="新化示范购物中心一楼服务台")
    expect(row).to_contain_text("不明")
    expect(row).to_contain_text("可能可用：开放时间不明")
    check_accessibility(page)
    page.goto("/emergency")
    page.get_by_role("link", name="新化示范购物中心的AED与急救员").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="导出GeoJSON（OpenStreetMap标签）").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    addresses = {f["properties"].get("addr:full") for f in exported["features"]}
    assert {"新化示范购物中心一楼服务台", "新化示范购物中心地下停车场B1"} <= addresses
    assert all(f["properties"]["emergency"] == "defibrillator" for f in exported["features"])

    page.context.clear_cookies()
    login(page, "13800000005")  # the 120 dispatcher
    page.goto("/emergency/console")
    expect(page.locator("#recent-h")).to_be_visible()
    expect(page.locator("main")).to_contain_text("EM")
    check_accessibility(page)
    page.goto("/emergency")
    page.get_by_role("link", name="120中心设置：娄底市120急救指挥中心（示范）").click()
    expect(page.get_by_label("中心代码（用于接入地址）")).to_have_value("loudi-120")
    check_accessibility(page)

    page.context.clear_cookies()
    login(page, "13800000003")  # the county's health bureau
    page.goto("/emergency")
    page.get_by_role("link", name="新化县AED覆盖分析").click()
    expect(page.get_by_test_id("suggestions")).to_be_visible()
    # Suggested sites are places a person knows: the town, the nearest AED's place with the
    # distance and direction, and whom it would cover; coordinates only as a link.
    first_site = page.get_by_test_id("suggestions").locator("li").first
    expect(first_site).to_contain_text("溪口示范镇")
    expect(first_site).to_contain_text(
        re.compile(r"在新化示范.+[东南西北]+方向约 [\d.]+ (公里|米)处")
    )
    expect(first_site).to_contain_text(re.compile(r"可让另外 \d+ 人在步行3分钟内取到AED"))
    expect(first_site.locator('a[href^="geo:"]')).to_have_count(1)
    expect(page.locator("#coverage-chart svg")).to_have_count(1)
    # The legend names what the coverage map draws: population points are not patients.
    legend = page.get_by_test_id("map-legend")
    expect(legend).to_contain_text("建议新增AED的位置")
    expect(legend).to_contain_text("人口点")
    expect(legend).not_to_contain_text("患者")
    check_accessibility(page)
    # The large-text mode keeps the report usable on a phone.
    page.get_by_role("button", name="大字模式").click()
    expect(page.get_by_test_id("coverage-after")).to_be_visible()
    for path in ("/emergency/coverage?region=431322", "/emergency", "/emergency/aeds"):
        page.goto(path)
        assert has_no_horizontal_scroll(page), path


def test_a_guest_reaches_call_120_the_nearest_open_aed_and_the_cpr_guide_in_two_taps(
    browser: Browser, live: tuple[str, str]
) -> None:
    """Someone who finds a collapsed person is not signed in. On a 390 px phone in large-text
    mode: the home page's first tap asks for the position (granted here) and opens call 120,
    the AEDs that can be fetched now with walking directions, and the CPR guide."""
    from gongchuang.core import geo

    ctx = browser.new_context(
        base_url=live[0],
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        geolocation={"latitude": 27.73690, "longitude": 111.30510},  # by the demo mall
        permissions=["geolocation"],
    )
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        page.goto("/")
        page.get_by_role("button", name="大字模式").click()
        expect(page.locator('a[href="tel:120"]').first).to_be_visible()
        page.get_by_test_id("home-find-aeds").click()  # tap 1 (tap 2: the call itself)
        page.wait_for_url("**/first-aid?*")
        expect(page.get_by_test_id("call-120")).to_have_attribute("href", "tel:120")
        cards = page.get_by_test_id("public-aeds").locator("li")
        expect(cards.first).to_contain_text("现在开放")
        expect(cards.first).to_contain_text("米")  # a distance people read, not "87 m"
        first = page.get_by_test_id("public-aeds").locator("h3").first.inner_text()
        amap = cards.first.locator('a[href^="https://uri.amap.com/navigation"]')
        expect(amap).to_have_count(1)
        # Amap reads GCJ-02: the stored WGS-84 point is shifted, by some hundreds of metres.
        to = amap.get_attribute("href").split("to=")[1].split(",")
        shown = geo.Point(float(to[1]), float(to[0]))
        database = Database(live[1])
        try:
            with database.transaction(write=False) as session:
                from gongchuang.emergency.models import Aed

                aed = session.scalars(select(Aed).where(Aed.address == first)).first()
                assert aed is not None
        finally:
            database.dispose()
        assert 100 < geo.haversine_m(shown, geo.Point(aed.lat, aed.lng)) < 1000
        gcj = geo.wgs84_to_gcj02(aed.lat, aed.lng)
        assert abs(shown.lat - gcj.lat) < 1e-5 and abs(shown.lng - gcj.lng) < 1e-5
        expect(page.locator("#cpr-h")).to_be_visible()
        expect(page.locator("#metronome")).to_be_visible()
        assert has_no_horizontal_scroll(page)
        check_accessibility(page)
        # A typed place finds the venue's AEDs without a position.
        page.get_by_label("或输入您所在的地点").fill("购物中心")
        page.get_by_role("button", name="搜索").click()
        expect(page.get_by_test_id("public-aeds")).to_contain_text("新化示范购物中心")
        # Every page carries the way here.
        page.goto("/regions")
        expect(page.locator('header a[href="/first-aid"]')).to_have_text("急救")
    finally:
        ctx.close()
