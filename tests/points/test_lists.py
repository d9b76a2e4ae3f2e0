"""Long lists in points: the public notice in pages with a count and a search by name (the
printed notice keeps every record), and the approval queue with photo thumbnails."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy.orm import Session

from gongchuang.core import people
from gongchuang.core.identity import mask_name
from gongchuang.points import service
from gongchuang.points.service import queries
from tests.conftest import login
from tests.points.conftest import PointsWorld
from tests.support.principals import acting


def test_the_notice_board_pages_and_finds_a_name(
    session: Session, pw: PointsWorld, monkeypatch
) -> None:
    monkeypatch.setattr(queries, "BOARD_PER_PAGE", 2)
    records = [pw.approve(session, pw.report(session, p)) for p in (pw.villager, pw.neighbour)]
    records.append(pw.approve(session, pw.report(session, pw.shopkeeper)))
    board = service.notice_board(session, pw.village)
    assert [count for _, count in board.notices] == [3]
    assert (board.records.total, board.records.pages) == (3, 2)
    assert [r.id for r in board.records.items] == [records[0].id, records[1].id]
    second = service.notice_board(session, pw.village, page=2)
    assert [r.id for r in second.records.items] == [records[2].id]
    found = service.notice_board(session, pw.village, search=pw.neighbour.name, full_names=True)
    assert [r.id for r in found.records.items] == [records[1].id]
    # The notice itself (what the PDF prints) still holds every record.
    notice = board.notices[0][0]
    assert len(service.notice_records(session, notice)) == 3


def test_the_board_page_shows_a_count_pages_and_keeps_the_search(
    client, session, pw, monkeypatch
) -> None:
    monkeypatch.setattr(queries, "BOARD_PER_PAGE", 2)
    for _ in range(3):
        pw.approve(session, pw.report(session, pw.neighbour))
    pw.approve(session, pw.report(session, pw.villager))
    people.set_consent(session, acting(pw.neighbour), pw.neighbour, "public_name", True)
    session.commit()
    url = f"/points/villages/{pw.village.id}/board"
    html = client.get(url).text  # public: no login
    assert "4 条记录 · 当前第 1–2 项" in html and "第 1 页，共 2 页" in html
    assert 'href="?page=2"' in html
    assert client.get(url, params={"page": 2}).text.count("<tr><td>") == 2
    searched = client.get(url, params={"q": pw.neighbour.name}).text
    records = searched.split('id="notice-records"')[1]
    assert pw.neighbour.name in records and mask_name(pw.villager.name) not in records
    assert "3 条记录" in records
    assert "page=2" in records and "q=%E7%94%B2" in records  # the next page keeps the search


def test_the_approval_queue_shows_photo_thumbnails(client, session, pw: PointsWorld) -> None:
    big = io.BytesIO()
    Image.new("RGB", (1600, 1200), (20, 120, 30)).save(big, format="JPEG")
    from gongchuang.core import files

    photo = files.save_upload(session, acting(pw.villager), filename="big.jpg", data=big.getvalue())
    record = service.submit_record(
        session,
        acting(pw.villager),
        pw.village,
        service.RecordRequest("GY01", pw.villager.id, service.today_local(), "", photo.id),
    )
    queue = service.approval_queue(session, acting(pw.leader), pw.village)
    assert [r.id for r in queue.records] == [record.id] and queue.photos == {record.id}
    session.commit()
    login(client, pw.leader.phone)
    base = f"/points/villages/{pw.village.id}"
    html = client.get(base + "/approvals").text
    assert f'{base}/records/{record.id}/evidence?size=thumbnail"' in html
    assert 'loading="lazy"' in html and "data-select-all" in html
    thumb = client.get(f"{base}/records/{record.id}/evidence", params={"size": "thumbnail"})
    full = client.get(f"{base}/records/{record.id}/evidence")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 192
    assert len(thumb.content) < len(full.content) / 3


def test_home_summary_says_balance_and_what_waits(session: Session, pw: PointsWorld) -> None:
    pw.report(session, pw.villager)
    leader = service.home_summary(session, acting(pw.leader))
    assert leader is not None and [v.awaiting_me for v in leader] == [1]
    villager = service.home_summary(session, acting(pw.villager))
    assert villager is not None and villager[0].awaiting_me == 0
    assert service.home_summary(session, acting(pw.world.outsider)) is None


def test_a_signed_in_home_page_is_theirs(client, session, pw: PointsWorld) -> None:
    pw.report(session, pw.villager)
    session.commit()
    guest = client.get("/").text
    assert 'id="stats-h"' in guest and "home-points" not in guest
    login(client, pw.leader.phone)
    home = client.get("/").text
    assert 'id="stats-h"' not in home  # region counts are for guests
    assert f'href="/points/villages/{pw.village.id}/approvals" data-testid="home-approvals"' in home
    client.cookies.clear()
    login(client, pw.villager.phone)
    home = client.get("/").text
    assert "home-balance" in home and "home-approvals" not in home
