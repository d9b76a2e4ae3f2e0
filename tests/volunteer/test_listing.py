"""The list of activities: each with its next date and place, filtered by category, organisation,
dates and words, soonest first, in pages; the same filters in the API and the HTML page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.pagination import NumberedPage
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Activity
from tests.conftest import login
from tests.support.principals import acting
from tests.volunteer.conftest import VolunteerWorld

F = service.ActivityFilter


def three_activities(session: Session, vw: VolunteerWorld) -> tuple[Activity, Activity, Activity]:
    soon, _ = vw.activity(session, starts_in=timedelta(days=1), title="敬老院陪伴")
    later, _ = vw.activity(
        session,
        starts_in=timedelta(days=5),
        title="河岸清洁",
        category="environment",
        place="资江风光带",
    )
    last, _ = vw.activity(
        session, starts_in=timedelta(days=10), title="图书整理", description="社区书屋"
    )
    # The last one belongs to the federation rather than its team.
    last.organisation_id = vw.federation.id
    session.flush()
    session.expire(last, ["organisation"])
    return soon, later, last


def ids(page: NumberedPage) -> list[int]:
    return [a.id for a, _ in page.items]


def test_filters_narrow_and_order_by_next_date(session: Session, vw: VolunteerWorld) -> None:
    soon, later, last = three_activities(session, vw)
    mine = {soon.id, later.id, last.id}
    everything = service.open_activities(session)
    assert [i for i in ids(everything) if i in mine] == [soon.id, later.id, last.id]
    starts = {a.id: s for a, s in everything.items}
    assert starts[soon.id] == service.shifts_of(session, soon)[0].starts_at

    assert ids(service.open_activities(session, F(category="environment"))) == [later.id]
    assert ids(service.open_activities(session, F(organisation_id=vw.federation.id))) == [last.id]
    assert ids(service.open_activities(session, F(search="资江"))) == [later.id]  # the place
    assert ids(service.open_activities(session, F(search="书屋"))) == [last.id]  # description
    assert ids(service.open_activities(session, F(search="100%"))) == []  # LIKE escaped
    day = (utcnow() + timedelta(days=5)).astimezone(SHANGHAI).date()
    in_range = service.open_activities(
        session, F(date_from=day - timedelta(days=1), date_to=day + timedelta(days=1))
    )
    assert ids(in_range) == [later.id]
    with pytest.raises(InvalidInput):
        service.open_activities(session, F(date_from=day, date_to=day - timedelta(days=1)))


def test_pages_count_and_a_cancelled_or_past_shift_is_not_next(
    session: Session, vw: VolunteerWorld
) -> None:
    soon, later, _last = three_activities(session, vw)
    team = F(organisation_id=vw.team.id)
    first = service.open_activities(session, team, limit=1, page=1)
    second = service.open_activities(session, team, limit=1, page=2)
    assert (first.total, first.pages, ids(first), ids(second)) == (2, 2, [soon.id], [later.id])
    assert (second.first, second.last, second.has_next, second.has_previous) == (2, 2, False, True)
    # A shared link past the end shows the last page; the API asks for an empty page instead.
    assert ids(service.open_activities(session, team, limit=1, page=9)) == [later.id]
    assert ids(service.open_activities(session, team, limit=1, page=9, past_end=True)) == []
    service.cancel_activity(session, acting(vw.organiser), soon, "下雨")
    assert ids(service.open_activities(session, team)) == [later.id]


def test_api_lists_with_the_same_filters_and_pages(client, session: Session, vw) -> None:
    _soon, later, last = three_activities(session, vw)
    session.commit()
    url = "/api/v1/volunteer/activities"
    found = client.get(url, params={"q": "资江"}).json()
    assert [a["id"] for a in found] == [later.id]
    team = {"organisation_id": vw.team.id, "per_page": 1}
    assert [a["id"] for a in client.get(url, params={**team, "page": 2}).json()] == [later.id]
    assert client.get(url, params={**team, "page": 3}).json() == []
    day = (utcnow() + timedelta(days=10)).astimezone(SHANGHAI).date().isoformat()
    ranged = client.get(url, params={"date_from": day, "date_to": day}).json()
    assert [a["id"] for a in ranged] == [last.id]
    backwards = client.get(url, params={"date_from": day, "date_to": "2020-01-01"})
    assert backwards.status_code == 422


def test_the_page_shows_dates_keeps_filters_in_its_links(client, session: Session, vw) -> None:
    soon, _later, _last = three_activities(session, vw)
    for n in range(service.ACTIVITIES_PER_PAGE):  # a second page for the team's activities
        vw.activity(session, starts_in=timedelta(days=20, hours=n), title=f"巡河{n}")
    session.commit()
    page = client.get(
        "/volunteer/activities", params={"organisation_id": vw.team.id, "date_from": ""}
    )
    assert page.status_code == 200
    html = page.text
    assert "敬老院陪伴" in html and "图书整理" not in html
    when = service.shifts_of(session, soon)[0].starts_at.astimezone(SHANGHAI)
    assert when.strftime("%Y-%m-%d %H:%M") in html and "敬老院" in html
    assert f"organisation_id={vw.team.id}&amp;page=2" in html  # the next page keeps the filter
    second = client.get("/volunteer/activities", params={"organisation_id": vw.team.id, "page": 2})
    assert "巡河11" in second.text and "敬老院陪伴" not in second.text
    searched = client.get("/volunteer/activities", params={"q": "资江", "category": ""})
    assert "河岸清洁" in searched.text and "敬老院陪伴" not in searched.text
    assert client.get("/volunteer/activities", params={"date_to": "soon"}).status_code == 422


def test_recommended_activities_say_when(client, session: Session, vw) -> None:
    soon, _, _ = three_activities(session, vw)
    session.commit()
    login(client, vw.alice.phone)
    html = client.get("/volunteer").text
    when = service.shifts_of(session, soon)[0].starts_at.astimezone(SHANGHAI)
    assert "敬老院陪伴" in html and when.strftime("%Y-%m-%d %H:%M") in html


def test_home_page_shows_my_next_shift_with_date_and_place(client, session: Session, vw) -> None:
    _, shift = vw.activity(session, starts_in=timedelta(days=2), place="敬老院东楼")
    service.sign_up(session, acting(vw.alice), shift.id)
    session.commit()
    login(client, vw.alice.phone)
    html = client.get("/").text
    assert 'data-testid="home-shifts"' in html and "敬老院东楼" in html
    assert shift.starts_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in html
    client.cookies.clear()
    login(client, vw.bob.phone)  # nothing coming: no block
    assert 'data-testid="home-shifts"' not in client.get("/").text
