from gongchuang.core import notifications, organisations
from gongchuang.core.permissions import SYSTEM
from tests.conftest import api_token, csrf_token, login


def test_joining_an_organisation_lands_in_the_inbox_in_the_readers_language(
    client, world, session
) -> None:
    organisations.add_member(
        session, SYSTEM, world.village_b, phone=world.outsider.phone, roles=["member"], check=False
    )
    headers = api_token(client, world.outsider.phone, ["read"])
    zh = client.get("/api/v1/me/notifications", headers=headers).json()
    assert zh["items"][0]["title"] == f"您已加入{world.village_b.name}"
    assert zh["items"][0]["body"] == "您的角色：成员"  # the role's name, never its code
    en = client.get("/api/v1/me/notifications", headers={**headers, "Accept-Language": "en"})
    assert en.json()["items"][0]["title"] == f"You joined {world.village_b.name}"
    assert en.json()["items"][0]["body"] == "Your roles: Member"


def test_a_notification_without_a_body_shows_none_not_the_catalogues_header(
    client, world, session
) -> None:
    """gettext("") is the translation catalogue's header ("Project-Id-Version: …")."""
    notifications.notify(session, world.villager_a.id, kind="t", title="The incident is closed.")
    session.commit()
    headers = api_token(client, world.villager_a.phone, ["read"])
    for language in ("zh-CN", "en"):
        items = client.get(
            "/api/v1/me/notifications", headers={**headers, "Accept-Language": language}
        ).json()["items"]
        assert items[0]["body"] == ""
    login(client, world.villager_a.phone)
    assert "Project-Id-Version" not in client.get("/notifications").text


def test_stored_message_ids_are_shown_in_the_readers_language(session, world) -> None:
    from gongchuang.core.i18n import N_, current_locale, translatable

    shown = notifications.notify(
        session,
        world.villager_a.id,
        kind="t",
        title=N_("Emergency nearby: %(kind)s"),
        params={"kind": translatable(N_("Cardiac arrest"))},
    )
    token = current_locale.set("zh_CN")
    try:
        title, _body = notifications.render(shown)
    finally:
        current_locale.reset(token)
    assert title == "附近有急救事件：心脏骤停"


def test_marking_read_only_touches_your_own(client, world, session) -> None:
    mine = notifications.notify(session, world.villager_a.id, kind="t", title="Hello")
    theirs = notifications.notify(session, world.cadre_b.id, kind="t", title="Hello")
    session.commit()
    headers = api_token(client, world.villager_a.phone, ["read"])
    assert (
        client.post(f"/api/v1/me/notifications/{theirs.id}/read", headers=headers).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/me/notifications/{mine.id}/read", headers=headers).status_code == 204
    )
    assert notifications.unread_count(session, world.cadre_b.id) >= 1
    session.refresh(mine)
    assert mine.read_at is not None


def test_inbox_page_lists_and_marks_all_read(client, world, session) -> None:
    notifications.notify(session, world.villager_a.id, kind="t", title="Hello")
    session.commit()
    login(client, world.villager_a.phone)
    page = client.get("/notifications")
    assert "Hello" in page.text and 'sse-connect="/api/v1/me/notifications/stream"' in page.text
    client.post("/notifications/read", data={"csrf_token": csrf_token(client)})
    assert notifications.unread_count(session, world.villager_a.id) == 0


def test_sms_channel_delivery_is_recorded(session, world) -> None:
    from gongchuang.core.models import Job, NotificationDelivery

    note = notifications.notify(
        session, world.villager_a.id, kind="t", title="Hello", channels=("sms",)
    )
    job = session.query(Job).filter_by(kind="notification.deliver").one()
    notifications._deliver(session, job)
    delivery = session.query(NotificationDelivery).filter_by(notification_id=note.id).one()
    assert delivery.channel == "sms" and delivery.status == "sent"


def test_inbox_pages_back_to_older_notifications(client, world, session) -> None:
    import re

    for index in range(55):
        notifications.notify(session, world.outsider.id, kind="t", title=f"消息{index:02d}")
    session.commit()
    login(client, world.outsider.phone)
    first = client.get("/notifications").text
    assert "消息54" in first and "消息04" not in first
    older = re.search(r'href="(/notifications\?before=\d+)"', first).group(1)
    second = client.get(older).text
    assert "消息04" in second and "消息54" not in second
