from sqlalchemy.orm import Session

from gongchuang.core.models import WebhookEndpoint
from tests.conftest import api_token, csrf_token, login


def test_admin_adds_pauses_and_resumes_a_webhook(client, world, session: Session) -> None:
    login(client, world.cadre_a.phone)
    page = client.get(f"/orgs/{world.village_a.id}/webhooks")
    assert page.status_code == 200 and "credential.issued" in page.text
    created = client.post(
        f"/orgs/{world.village_a.id}/webhooks",
        data={
            "url": "https://example.org/hook",
            "topics": ["credential.issued"],
            "csrf_token": csrf_token(client),
        },
    )
    endpoint = session.query(WebhookEndpoint).one()
    assert endpoint.secret in created.text
    client.post(
        f"/orgs/{world.village_a.id}/webhooks/{endpoint.id}/active",
        data={"active": "false", "csrf_token": csrf_token(client)},
    )
    session.refresh(endpoint)
    assert endpoint.active is False
    listing = client.get(f"/orgs/{world.village_a.id}/webhooks").text
    assert "已暂停" in listing and endpoint.secret not in listing


def test_unknown_topics_and_bad_addresses_are_refused(client, world, session: Session) -> None:
    headers = api_token(client, world.cadre_a.phone, ["read", "org.manage_webhooks"])
    url = f"/api/v1/organisations/{world.village_a.id}/webhooks"
    bad_topic = client.post(
        url, json={"url": "https://x.org/h", "topics": ["lottery.won"]}, headers=headers
    )
    assert bad_topic.status_code == 422
    bad_url = client.post(url, json={"url": "ftp://x.org/h", "topics": ["*"]}, headers=headers)
    assert bad_url.status_code == 422
    assert session.query(WebhookEndpoint).count() == 0


def test_other_villages_cannot_see_the_webhooks(client, world) -> None:
    login(client, world.cadre_b.phone)
    assert client.get(f"/orgs/{world.village_a.id}/webhooks").status_code == 404
    login(client, world.villager_a.phone)  # a member without the permission: same answer
    assert client.get(f"/orgs/{world.village_a.id}/webhooks").status_code == 404
