"""Logging in: phone + password, server-side sessions, throttling, CSRF and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import audit, throttle
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import (
    AuthenticationRequired,
    GongchuangError,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.identity import normalise_phone
from gongchuang.core.models import ApiToken, Person, WebSession
from gongchuang.core.passwords import hash_password, needs_rehash, verify_password
from gongchuang.core.permissions import KNOWN_PERMISSIONS, READ_SCOPE, SELF_SERVICE, Principal

SESSION_COOKIE = "gc_session"
CSRF_COOKIE = "gc_csrf"
TOKEN_PREFIX = "gct_"  # noqa: S105 - a marker that makes leaked tokens findable, not a secret


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class LoginOutcome:
    """A failed login is an outcome, not an exception: the count of wrong passwords must be
    committed with the answer."""

    person: Person | None = None
    session_token: str | None = None
    error: GongchuangError | None = None
    # The known-browser cookie to give the browser on success (see core.throttle).
    known_browser_cookie: str | None = None
    retry_after_s: int | None = None


def login(
    session: Session,
    phone: str,
    password: str,
    user_agent: str = "",
    *,
    source: str = "",
    known_browser_cookie: str | None = None,
) -> LoginOutcome:
    """Check the password and open a session (the cookie value is in the outcome).

    Wrong passwords make later tries wait (core.throttle), counted by phone, source and
    browser, never by account: an unknown phone and a registered one get the same answers at
    the same moments, and a browser that signed in with the phone before is not held back by
    guesses made elsewhere."""
    phone = normalise_phone(phone)
    attempt = throttle.Attempt(
        phone, source or "unknown", throttle.known_browser(known_browser_cookie, phone)
    )
    now = utcnow()
    wait = throttle.admit(session, attempt, now)
    if wait > timedelta(0):
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        return LoginOutcome(
            error=TooManyAttempts(
                N_("Too many wrong passwords. Try again in %(minutes)s minutes."), minutes=minutes
            ),
            retry_after_s=math.ceil(wait.total_seconds()),
        )
    person = session.scalar(select(Person).where(Person.phone == phone))
    ok = verify_password(person.password_hash if person else None, password or "")
    if person is None or not ok or not person.is_active:
        throttle.record_failure(session, attempt, now)
        return LoginOutcome(
            error=InvalidInput(
                N_("The phone number or password is not correct"),
                errors=[{"field": "password", "message": N_("phone or password incorrect")}],
            )
        )
    throttle.record_success(session, attempt)
    if person.password_hash and needs_rehash(person.password_hash):
        person.password_hash = hash_password(password)
    return LoginOutcome(
        person=person,
        session_token=open_session(session, person, user_agent),
        known_browser_cookie=throttle.known_browser_cookie(phone, known_browser_cookie),
    )


def open_session(session: Session, person: Person, user_agent: str = "") -> str:
    """A server-side session for someone who has just proved who they are; returns the cookie
    value (only its hash is stored)."""
    now = utcnow()
    person.last_login_at = now
    raw = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_sha256(raw),
            person_id=person.id,
            expires_at=now + timedelta(days=get_settings().session_days),
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return raw


def logout(session: Session, raw: str | None) -> None:
    if not raw:
        return
    web_session = session.get(WebSession, _sha256(raw))
    if web_session is not None and web_session.revoked_at is None:
        web_session.revoked_at = utcnow()


def revoke_other_sessions(session: Session, person_id: int, keep_raw: str | None) -> int:
    """After a password change, every other browser signed in as this person is signed out."""
    keep = _sha256(keep_raw) if keep_raw else None
    others = session.scalars(
        select(WebSession).where(WebSession.person_id == person_id, WebSession.revoked_at.is_(None))
    )
    count = 0
    for web_session in others:
        if web_session.id != keep:
            web_session.revoked_at = utcnow()
            count += 1
    return count


def principal_for(person: Person, *, via: str, scopes: frozenset[str] | None = None) -> Principal:
    return Principal(
        person_id=person.id,
        name=person.name,
        is_platform_admin=person.is_platform_admin,
        scopes=scopes,
        via=via,
    )


def principal_from_session(session: Session, raw: str | None) -> Principal | None:
    if not raw:
        return None
    web_session = session.get(WebSession, _sha256(raw))
    if web_session is None or web_session.revoked_at or web_session.expires_at <= utcnow():
        return None
    person = session.get(Person, web_session.person_id)
    if person is None or not person.is_active:
        return None
    return principal_for(person, via="session")


def csrf_token_for(seed: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(seed: str | None, token: str | None) -> bool:
    if not seed or not token:
        return False
    return hmac.compare_digest(csrf_token_for(seed), token)


def validate_scopes(scopes: list[str]) -> frozenset[str]:
    unknown = sorted(set(scopes) - KNOWN_PERMISSIONS - {READ_SCOPE})
    if unknown:
        raise InvalidInput(
            N_("Unknown scopes: %(scopes)s"),
            scopes=", ".join(unknown),
            errors=[
                {
                    "field": "scopes",
                    "message": Phrase(N_("unknown: %(names)s"), names=", ".join(unknown)),
                }
            ],
        )
    if not scopes:
        raise InvalidInput(
            N_("Choose at least one scope"),
            errors=[{"field": "scopes", "message": N_("choose at least one")}],
        )
    return frozenset(scopes)


def scopes_for(session: Session, principal: Principal, *, read_only: bool) -> list[str]:
    """The scopes of a token that may do what its owner may do today (or only read)."""
    if read_only:
        return [READ_SCOPE]
    if principal.is_platform_admin:
        return [READ_SCOPE, *sorted(KNOWN_PERMISSIONS)]
    granted = {p for g in principal.grants(session) for p in g.permissions} | SELF_SERVICE
    return [READ_SCOPE, *sorted(granted)]


def create_api_token(
    session: Session,
    actor: Principal,
    person: Person,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and stored only hashed."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(
            errors=[{"field": "name", "message": N_("required, at most 100 characters")}]
        )
    checked = validate_scopes(scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput(
            N_("The expiry must be in the future"),
            errors=[{"field": "expires_at", "message": N_("in the past")}],
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        person_id=person.id,
        name=name,
        token_hash=_sha256(raw),
        prefix=raw[:10],
        scopes=sorted(checked),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "api_token.create",
        "api_token",
        token.id,
        after={"name": name, "scopes": sorted(checked), "person_id": person.id},
    )
    return token, raw


def revoke_api_token(session: Session, actor: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.person_id != actor.person_id and not actor.is_platform_admin):
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "api_token.revoke", "api_token", token.id)
    return token


def principal_from_token(session: Session, raw: str) -> Principal:
    # Only the columns it needs, token and holder in one round trip: this runs for every API
    # call a phone makes.
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            ApiToken.scopes,
            ApiToken.prefix,
            Person.id,
            Person.name,
            Person.is_active,
            Person.is_platform_admin,
        )
        .join(Person, Person.id == ApiToken.person_id)
        .where(ApiToken.token_hash == _sha256(raw))
    ).first()
    now = utcnow()
    if row is None or row[1] is not None or (row[2] is not None and row[2] <= now) or not row[8]:
        raise AuthenticationRequired(N_("The API token is invalid, expired or revoked"))
    token_id, _revoked, _expires, last_used, scopes, prefix, person_id, name, _, admin = row
    # Touch at most once a minute: a busy integration should not write on every call.
    if last_used is None or now - last_used > timedelta(minutes=1):
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return Principal(
        person_id=person_id,
        name=name,
        is_platform_admin=admin,
        scopes=frozenset(scopes),
        via=f"token:{prefix}",
    )
