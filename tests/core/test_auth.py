from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import auth, throttle
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import TooManyAttempts
from gongchuang.core.models import Membership, SignInThrottle, WebSession
from tests.conftest import api_token, csrf_token, login
from tests.support.world import PASSWORD


def test_login_sets_an_httponly_session_cookie(client, world) -> None:
    response = client.post(
        "/login",
        data={
            "phone": world.cadre_a.phone,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
            "next": "/me",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/me"
    cookie = response.headers["set-cookie"]
    assert "gc_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert world.cadre_a.name in client.get("/me").text


def test_login_never_redirects_off_site(client, world) -> None:
    response = client.post(
        "/login",
        data={
            "phone": world.cadre_a.phone,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_wrong_password_is_refused_in_the_users_language(client, world) -> None:
    response = client.post(
        "/login",
        data={"phone": world.cadre_a.phone, "password": "nope", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 422
    assert "手机号码或密码不正确" in response.text


def _token_attempt(client, phone: str, password: str):
    return client.post(
        "/api/v1/auth/tokens",
        json={"phone": phone, "password": password, "name": "t", "scopes": ["read"]},
        headers={"Accept-Language": "en"},
    )


def test_wrong_passwords_make_the_next_try_wait_and_the_wait_is_committed(
    client, world, session: Session
) -> None:
    for _ in range(5):
        assert _token_attempt(client, world.villager_a.phone, "wrong").status_code == 422
    waiting = _token_attempt(client, world.villager_a.phone, PASSWORD)
    assert waiting.status_code == 429
    assert "Too many wrong passwords" in waiting.json()["detail"]
    assert 0 < int(waiting.headers["Retry-After"]) <= 60
    assert session.scalar(select(func.count(SignInThrottle.key))) == 3
    assert not session.scalars(select(SignInThrottle.key)).all()[0].isdigit()


def test_a_registered_phone_and_an_unknown_one_are_answered_alike(client, world) -> None:
    """Lockout used to tell them apart: only registered phones were locked."""

    def answers(phone: str) -> list[tuple[int, str, str | None]]:
        seen = []
        for _ in range(8):
            response = _token_attempt(client, phone, "wrong")
            seen.append(
                (
                    response.status_code,
                    response.json()["detail"],
                    response.headers.get("Retry-After"),
                )
            )
        return seen

    registered, unknown = answers(world.villager_a.phone), answers("13799990000")
    assert registered == unknown
    assert [status for status, _, _ in registered] == [422] * 5 + [429] * 3


def test_waits_grow_with_each_further_failure_and_end(session: Session, world) -> None:
    phone, start = world.villager_a.phone, utcnow()
    attempt = throttle.Attempt(phone, "198.51.100.7")
    waits = []
    moment = start
    for _ in range(9):
        throttle.record_failure(session, attempt, moment)
        waits.append(throttle.wait_left(session, attempt, moment))
        moment += waits[-1]  # the guesser waits exactly as long as asked, then tries again
    minutes = [round(w.total_seconds() / 60) for w in waits]
    assert minutes == [0, 0, 0, 0, 1, 2, 4, 8, 15]
    assert throttle.wait_left(session, attempt, moment) == timedelta(0)
    # A day after the last failure the count starts again.
    throttle.record_failure(session, attempt, moment + throttle.FORGET_AFTER + timedelta(1))
    assert throttle.wait_left(session, attempt, moment + throttle.FORGET_AFTER) == timedelta(0)


def test_strangers_guessing_a_phone_cannot_keep_its_owner_out(session: Session, world) -> None:
    phone = world.villager_a.phone
    first = auth.login(session, phone, PASSWORD, source="203.0.113.5")
    assert first.person is not None and first.known_browser_cookie
    # Then many addresses guess the phone (a few each, under each address's own allowance).
    for n in range(40):
        guess = auth.login(session, phone, "wrong", source=f"192.0.2.{n}")
        assert guess.error is not None
    stranger = auth.login(session, phone, PASSWORD, source="192.0.2.200")
    assert isinstance(stranger.error, TooManyAttempts)
    # The villager's own phone, which signed in before, is not held back by them.
    own = auth.login(
        session,
        phone,
        PASSWORD,
        source="192.0.2.201",
        known_browser_cookie=first.known_browser_cookie,
    )
    assert own.person is not None and own.error is None
    # A cookie issued for another phone, or forged, is no pass.
    other = auth.login(session, world.outsider.phone, PASSWORD, source="198.51.100.9")
    assert other.known_browser_cookie
    borrowed = auth.login(
        session,
        phone,
        PASSWORD,
        source="192.0.2.202",
        known_browser_cookie=other.known_browser_cookie,
    )
    assert isinstance(borrowed.error, TooManyAttempts)
    forged = auth.login(session, phone, PASSWORD, source="192.0.2.203", known_browser_cookie="x.y")
    assert isinstance(forged.error, TooManyAttempts)


def test_the_login_page_gives_a_known_browser_cookie(client, world) -> None:
    login(client, world.villager_a.phone)
    cookie = client.cookies.get(throttle.KNOWN_BROWSER_COOKIE)
    assert cookie and throttle.known_browser(cookie, world.villager_a.phone)
    assert throttle.known_browser(cookie, world.outsider.phone) is None


def test_forms_without_csrf_token_change_nothing(client, world, session: Session) -> None:
    login(client, world.cadre_a.phone)
    before = session.scalar(select(func.count(Membership.id)))
    response = client.post(
        f"/orgs/{world.village_a.id}/members",
        data={"phone": world.outsider.phone, "roles": ["member"]},
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count(Membership.id))) == before


def test_logout_revokes_the_server_session(client, world, session: Session) -> None:
    login(client, world.cadre_a.phone)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert (
        session.scalar(
            select(func.count(WebSession.id)).where(
                WebSession.revoked_at.is_(None), WebSession.person_id == world.cadre_a.id
            )
        )
        == 0
    )
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_read_only_token_cannot_write(client, world) -> None:
    headers = api_token(client, world.cadre_a.phone, ["read"])
    assert client.get("/api/v1/me", headers=headers).json()["name"] == world.cadre_a.name
    response = client.post(
        f"/api/v1/organisations/{world.village_a.id}/members",
        json={"phone": world.outsider.phone},
        headers=headers,
    )
    assert response.status_code == 403


def test_scoped_token_can_write_and_revocation_ends_it(client, world) -> None:
    headers = api_token(client, world.cadre_a.phone, ["read", "org.manage_members"])
    added = client.post(
        f"/api/v1/organisations/{world.village_a.id}/members",
        json={"phone": world.outsider.phone, "roles": ["member"]},
        headers=headers,
    )
    assert added.status_code == 201
    assert added.json()["person"]["name"] == world.outsider.name
    tokens = client.get("/api/v1/me/tokens", headers=headers).json()
    assert client.delete(f"/api/v1/me/tokens/{tokens[0]['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_unknown_scope_is_refused(client, world) -> None:
    response = client.post(
        "/api/v1/auth/tokens",
        json={
            "phone": world.cadre_a.phone,
            "password": PASSWORD,
            "name": "x",
            "scopes": ["everything"],
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_tokens_are_stored_hashed(client, world, session: Session) -> None:
    headers = api_token(client, world.cadre_a.phone, ["read"])
    raw = headers["Authorization"].split()[1]
    from gongchuang.core.models import ApiToken

    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert raw not in stored and auth._sha256(raw) in stored


def test_browser_session_needs_csrf_header_for_api_writes(client, world) -> None:
    login(client, world.cadre_a.phone)
    url = f"/api/v1/organisations/{world.village_a.id}/members"
    refused = client.post(url, json={"phone": world.outsider.phone})
    assert refused.status_code == 403
    accepted = client.post(
        url, json={"phone": world.outsider.phone}, headers={"X-CSRF-Token": csrf_token(client)}
    )
    assert accepted.status_code == 201


def test_changing_the_password_signs_out_other_browsers(client, app, world) -> None:
    from tests.support.openapi import ValidatingClient

    login(client, world.villager_a.phone)
    other = ValidatingClient(app, base_url="http://testserver")
    other.validator = client.validator
    login(other, world.villager_a.phone)
    assert other.get("/me", follow_redirects=False).status_code == 200
    response = client.post(
        "/me/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new one",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get("/me", follow_redirects=False).status_code == 200  # this browser stays
    assert other.get("/me", follow_redirects=False).status_code == 303  # the other is out
    wrong = client.post(
        "/me/password",
        data={
            "current_password": "not it",
            "new_password": "whatever123",
            "csrf_token": csrf_token(client),
        },
    )
    assert wrong.status_code == 422


def test_profile_page_creates_read_only_or_full_tokens(client, world, session: Session) -> None:
    from gongchuang.core.models import ApiToken

    login(client, world.cadre_a.phone)
    client.post(
        "/me/tokens", data={"name": "只读", "read_only": "true", "csrf_token": csrf_token(client)}
    )
    client.post("/me/tokens", data={"name": "小程序", "csrf_token": csrf_token(client)})
    tokens = {
        t.name: t.scopes
        for t in session.scalars(select(ApiToken).where(ApiToken.person_id == world.cadre_a.id))
    }
    assert tokens["只读"] == ["read"]
    assert {"read", "org.manage_members", "person.view_contact"} <= set(tokens["小程序"])


def test_production_hashes_with_rfc9106_and_rehashes_a_weaker_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite runs with the fast test profile (tests/conftest.py); the product's default is
    argon2id's RFC 9106 low-memory profile, and a hash made otherwise is replaced at log-in."""
    from gongchuang import config
    from gongchuang.core import passwords

    fast = passwords.hash_password("secret words")
    monkeypatch.delenv("GONGCHUANG_HASH_PROFILE")
    config.get_settings.cache_clear()
    passwords._hasher.cache_clear()
    try:
        made = passwords.hash_password("secret words")
        assert made.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert passwords.verify_password(fast, "secret words")
        assert passwords.needs_rehash(fast) and not passwords.needs_rehash(made)
    finally:
        config.get_settings.cache_clear()
        passwords._hasher.cache_clear()
