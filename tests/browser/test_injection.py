"""Text that anyone may write reaches other people's pages, in HTML and in the JSON blocks that
maps and charts are drawn from: an AED's address (any venue's staff), an SOS address (any
villager), a responder's own name, a village's name, a region's name, a population point's label,
an activity's title. Written through the real services with markup that would close a
<script> tag, none of it may add an element, a refresh or a redirect to the pages that show it,
in Chromium, and it must read back as the same text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import organisations, people, regions
from gongchuang.core.auth import principal_for
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.models import Organisation, OrganisationKind, Person, Region
from gongchuang.core.permissions import Principal
from gongchuang.emergency import coverage
from gongchuang.emergency import service as emergency
from gongchuang.emergency.models import Alert
from gongchuang.emergency.schemas import AedIn
from gongchuang.points import service as points
from gongchuang.training.models import Programme
from gongchuang.volunteer import service as volunteer
from tests.browser.conftest import login
from tests.emergency.commands import sos

PAYLOAD = (
    '</script><meta http-equiv="refresh" content="0;url=about:blank">'
    '<h1 id="injected">X</h1><img src=x id="injected-img">'
)
# For fields of at most 100 characters (a person's or a region's name).
SHORT = "</script><meta http-equiv=refresh content=0;url=about:blank><h1 id=injected>X</h1>"

MALL = (27.73700, 111.30500)  # the demo's shopping centre, the public AED map's default centre


@dataclass
class Planted:
    incident_id: int
    alert_id: int
    responder_phone: str
    mall_id: int
    ngo_id: int
    village_id: int
    programme_id: int


def _as(session: Session, phone: str) -> Principal:
    person = session.scalar(select(Person).where(Person.phone == phone))
    assert person is not None
    return principal_for(person, via="session")


def _org(session: Session, name: str) -> Organisation:
    found = session.scalar(select(Organisation).where(Organisation.name == name))
    assert found is not None
    return found


def _region(session: Session, code: str) -> Region:
    return regions.get_region(session, code)


@pytest.fixture(scope="module")
def planted(live: tuple[str, str]) -> Iterator[Planted]:
    """Every free-text field that reaches a page's embedded data, written by whoever may
    write it in real life, through the service functions the pages and the API call."""
    database = Database(live[1])
    try:
        with database.transaction() as session:
            admin = _as(session, "13800000000")
            mall = _org(session, "新化示范购物中心")
            ngo = _org(session, "新化县共创志愿者协会（示范）")
            # Venue staff register an AED 100 m north of the centre.
            emergency.create_aed(
                session,
                _as(session, "13800000004"),
                mall,
                AedIn(
                    lat=MALL[0] + 0.0009,
                    lng=MALL[1],
                    address=PAYLOAD,
                    indoor_directions=PAYLOAD,
                    opening_hours="24/7",
                ),
            )
            # A villager raises an SOS beside it; the responders alerted carry names they
            # chose themselves.
            incident = emergency.raise_sos(
                session,
                _as(session, "13800000002"),
                sos("cardiac_arrest", (MALL[0] + 0.0005, MALL[1] + 0.0005), PAYLOAD, PAYLOAD),
            )
            alerts = list(session.scalars(select(Alert).where(Alert.incident_id == incident.id)))
            assert alerts, "the SOS alerted nobody: the demo's responders around the mall moved"
            for alert in alerts:
                responder = session.get(Person, alert.person_id)
                assert responder is not None
                people.update_profile(
                    session, principal_for(responder, via="session"), responder, name=SHORT
                )
            responder = session.get(Person, alerts[0].person_id)
            assert responder is not None
            # The health bureau's population sheet: a crowded place far from any AED, so that
            # it is the first suggested site on the coverage page.
            sheet = io.StringIO()
            csv.writer(sheet).writerows(
                [["label", "lat", "lng", "weight"], [PAYLOAD, MALL[0] + 0.05, MALL[1], 100_000]]
            )
            coverage.import_points(
                session,
                _as(session, "13800000003"),
                _region(session, "431322"),
                sheet.getvalue().encode(),
                "points.csv",
            )
            # A village joins the points scheme under a hostile name: the county's roll-up
            # compares it with the others (chart labels and table).
            village = organisations.create_organisation(
                session,
                admin,
                name=PAYLOAD,
                kind=OrganisationKind.village_committee,
                region=_region(session, "431322101203"),
            )
            points.create_catalogue(session, admin, village, template_code="youxiqiao")
            # A volunteer activity with a hostile title and place, on the NGO's dashboard.
            start = utcnow() + timedelta(days=3)
            volunteer.create_activity(
                session,
                _as(session, "13800000007"),
                ngo,
                volunteer.ActivityInput(
                    title=PAYLOAD,
                    category="community",
                    description=PAYLOAD,
                    place=PAYLOAD,
                    lat=MALL[0],
                    lng=MALL[1],
                ),
                [volunteer.ShiftInput(start, start + timedelta(hours=2), 5)],
            )
            # A province renamed by the platform's region import: the programme's chart labels.
            guizhou = _region(session, "520000")
            regions.import_rows(
                session,
                admin,
                [regions.RegionRow(1, guizhou.code, SHORT, guizhou.level, None, guizhou.kind)],
            )
            programme_id = session.scalar(select(Programme.id).order_by(Programme.id))
            assert programme_id is not None
            planted = Planted(
                incident_id=incident.id,
                alert_id=alerts[0].id,
                responder_phone=responder.phone,
                mall_id=mall.id,
                ngo_id=ngo.id,
                village_id=village.id,
                programme_id=programme_id,
            )
    finally:
        database.dispose()
    yield planted


def _json_blocks(page: Page) -> list[object]:
    """What the page's scripts read: JSON.parse of every JSON block's text."""
    return list(
        page.evaluate(
            "[...document.querySelectorAll('script[type=\"application/json\"]')]"
            ".map(s => JSON.parse(s.textContent))"
        )
    )


def assert_inert(page: Page, *, text: list[str], data: list[str]) -> None:
    """Nothing of the payload became markup; it reads back as text where the page shows it,
    and as the same string in the page's JSON blocks where a map or chart carries it."""
    url = page.url
    page.wait_for_timeout(500)  # a meta refresh of 0 s would have fired by now
    assert page.url == url
    assert page.locator("#injected, #injected-img").count() == 0
    assert page.locator('meta[http-equiv="refresh" i]').count() == 0
    assert page.locator("main h1").count() == 1
    shown = page.locator("main").inner_text()
    for value in text:
        assert value in shown
    carried = json.dumps(_json_blocks(page), ensure_ascii=False)
    for value in data:
        assert json.dumps(value, ensure_ascii=False)[1:-1] in carried


def test_the_public_aed_map_shows_a_hostile_address_as_text(page: Page, planted: Planted) -> None:
    page.goto("/emergency/aeds")  # anonymous
    assert_inert(page, text=[PAYLOAD], data=[PAYLOAD])
    expect(page.locator("[data-map][data-drawn]")).to_have_count(1)


def test_the_dispatchers_incident_page_and_the_responders_alert(
    browser: Browser, live_server: str, page: Page, planted: Planted
) -> None:
    login(page, "13800000005")
    # Opening the live connection swaps the picture in again: check the swapped one too.
    with page.expect_response(lambda r: r.url.endswith("/live")):
        page.goto(f"/emergency/incidents/{planted.incident_id}")
    page.wait_for_load_state("networkidle")
    # (Responders appear on the map once they share a position; their names are in the table.)
    assert_inert(page, text=[PAYLOAD, SHORT], data=[PAYLOAD])
    expect(page.locator("[data-map][data-drawn]")).to_have_count(1)

    phone = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        responder = phone.new_page()
        login(responder, planted.responder_phone)
        responder.goto(f"/emergency/alerts/{planted.alert_id}")
        assert_inert(responder, text=[PAYLOAD], data=[PAYLOAD])
    finally:
        phone.close()


def test_the_venue_page(page: Page, planted: Planted) -> None:
    login(page, "13800000004")
    page.goto(f"/emergency/venues/{planted.mall_id}")
    assert_inert(page, text=[PAYLOAD], data=[PAYLOAD])


def test_the_coverage_page(page: Page, planted: Planted) -> None:
    login(page, "13800000003")
    page.goto("/emergency/coverage?region=431322")
    assert_inert(page, text=[], data=[PAYLOAD])
    expect(page.locator("[data-chart][data-drawn]")).to_have_count(1)


def test_the_points_roll_up(page: Page, planted: Planted) -> None:
    login(page, "13800000003")
    page.goto("/points/regions/431322/dashboard")
    assert_inert(page, text=[PAYLOAD], data=[PAYLOAD])
    expect(page.locator("#chart-villages svg, #chart-villages canvas")).not_to_have_count(0)


def test_the_volunteer_organisation_dashboard(page: Page, planted: Planted) -> None:
    login(page, "13800000007")
    page.goto(f"/volunteer/orgs/{planted.ngo_id}")
    assert_inert(page, text=[PAYLOAD], data=[])
    expect(page.locator("#chart-hours svg, #chart-hours canvas")).not_to_have_count(0)


def test_the_training_programme(page: Page, planted: Planted) -> None:
    login(page, "13800000009")
    page.goto(f"/training/programmes/{planted.programme_id}")
    assert_inert(page, text=[SHORT], data=[SHORT])
    expect(page.locator("#chart-provinces svg, #chart-provinces canvas")).not_to_have_count(0)
