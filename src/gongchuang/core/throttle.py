"""Slowing down password guessing without ever locking a villager out.

A lock on the account (five wrong passwords, then fifteen minutes closed) told an attacker
which phones are registered (only those locked) and let anyone keep a villager out for as long
as they liked. Instead wrong passwords are counted by what they were tried with, never by
account, and each count past its allowance makes the next try wait a little longer:

- the phone from one source (an address): the ordinary case of one person guessing;
- the phone from anywhere: many addresses guessing one phone;
- the source, any phone: one address trying many phones (generous: a village shares one
  carrier-grade NAT address);
- the phone from a browser that has signed in with it before (a signed "known browser"
  cookie, OWASP's device cookie): only this count applies to such a browser, so the villager's
  own phone still signs in while strangers hammer the number from elsewhere.

Nothing here reads the person: a registered phone and an unknown one are counted, delayed and
answered alike. Counts are kept as SHA-256 keys (no phone or address in clear) and forgotten a
day after the last failure; a success clears the counts of the browser or address it came from.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core.clock import utcnow
from gongchuang.core.db import upsert
from gongchuang.core.models import SignInThrottle

KNOWN_BROWSER_COOKIE = "gc_known"
# A count starts again from zero this long after its last failure; rows are then removed.
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Allowance:
    kind: str
    free: int  # wrong passwords before the next try has to wait
    first_wait: timedelta  # then the wait doubles with each further one
    longest_wait: timedelta

    def wait_after(self, failures: int) -> timedelta | None:
        if failures < self.free:
            return None
        doubled = self.first_wait * (2 ** min(failures - self.free, 16))
        return min(doubled, self.longest_wait)


PHONE_FROM_SOURCE = Allowance("phone+source", 5, timedelta(minutes=1), timedelta(minutes=15))
PHONE = Allowance("phone", 10, timedelta(minutes=1), timedelta(minutes=15))
SOURCE = Allowance("source", 50, timedelta(minutes=1), timedelta(minutes=30))
PHONE_FROM_KNOWN_BROWSER = Allowance(
    "phone+browser", 5, timedelta(minutes=1), timedelta(minutes=15)
)


@dataclass(frozen=True)
class Attempt:
    """What a sign-in was tried with. `browser` is the id of a valid known-browser cookie
    issued for this same phone, if the request carried one."""

    phone: str
    source: str
    browser: str | None = None

    def counts(self) -> list[tuple[Allowance, str]]:
        if self.browser:
            return [(PHONE_FROM_KNOWN_BROWSER, _key("browser", self.phone, self.browser))]
        return [
            (PHONE_FROM_SOURCE, _key("pair", self.phone, self.source)),
            (PHONE, _key("phone", self.phone)),
            (SOURCE, _key("source", self.source)),
        ]


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def admit(session: Session, attempt: Attempt, now: datetime | None = None) -> timedelta:
    """How long this attempt must wait before a password may be checked (zero: go ahead).

    Attempts on one phone are taken one at a time: the phone's row (or the known browser's) is
    locked until the attempt's transaction ends, so a thousand guesses sent at once are checked
    in turn, each seeing the failures before it, not all against the same empty count. (SQLite
    takes writers one at a time already.)"""
    now = now or utcnow()
    counts = attempt.counts()
    lock_key = counts[0][1] if attempt.browser else counts[1][1]
    session.execute(
        upsert(session, SignInThrottle)
        .values(key=lock_key, failures=0, last_failure_at=now, wait_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    session.execute(
        select(SignInThrottle.key).where(SignInThrottle.key == lock_key).with_for_update()
    )
    return wait_left(session, attempt, now)


def wait_left(session: Session, attempt: Attempt, now: datetime | None = None) -> timedelta:
    now = now or utcnow()
    until = session.scalar(
        select(func.max(SignInThrottle.wait_until)).where(
            SignInThrottle.key.in_([key for _, key in attempt.counts()])
        )
    )
    return max(until - now, timedelta(0)) if until is not None else timedelta(0)


def record_failure(session: Session, attempt: Attempt, now: datetime | None = None) -> None:
    """Count a wrong password on each of the attempt's counts, atomically (concurrent
    failures all count), and set the wait each count has now earned."""
    now = now or utcnow()
    stale = now - FORGET_AFTER
    for allowance, key in attempt.counts():
        statement = upsert(session, SignInThrottle).values(
            key=key, failures=1, last_failure_at=now, wait_until=None
        )
        failures = session.scalar(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case(
                        (SignInThrottle.last_failure_at < stale, 1),
                        else_=SignInThrottle.failures + 1,
                    ),
                    "last_failure_at": now,
                },
            ).returning(SignInThrottle.failures)
        )
        wait = allowance.wait_after(int(failures or 0))
        if wait is not None:
            session.execute(
                update(SignInThrottle)
                .where(SignInThrottle.key == key)
                .values(wait_until=now + wait)
            )


def record_success(session: Session, attempt: Attempt) -> None:
    """The right password: this browser's or this address's count for the phone restarts.
    (The phone's and the source's counts are left to age: a success of the villager must not
    hand a distributed guesser a fresh allowance.)"""
    keys = [key for allowance, key in attempt.counts() if allowance in _CLEARED_BY_SUCCESS]
    if keys:
        session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))


_CLEARED_BY_SUCCESS = (PHONE_FROM_SOURCE, PHONE_FROM_KNOWN_BROWSER)


def forget_old(session: Session) -> None:
    session.execute(
        delete(SignInThrottle).where(SignInThrottle.last_failure_at < utcnow() - FORGET_AFTER)
    )


# --- the known-browser cookie ---------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt="gongchuang.known-browser")


def known_browser_cookie(phone: str, current: str | None = None) -> str:
    """The cookie a browser gets when it signs in with `phone`: a random id of the browser,
    kept when it already had one, and the phone it proved, signed. One phone per browser (the
    last one signed in with), which is how a villager's own phone is used."""
    browser = _browser_id(current) or secrets.token_urlsafe(12)
    return str(_serializer().dumps([_key("phone", phone), browser]))


def known_browser(cookie: str | None, phone: str) -> str | None:
    """The browser's id when its cookie was issued for this phone, else None."""
    if not cookie:
        return None
    try:
        proved, browser = _serializer().loads(cookie)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(browser, str) or proved != _key("phone", phone):
        return None
    return browser


def _browser_id(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        _, browser = _serializer().loads(cookie)
    except (BadSignature, ValueError, TypeError):
        return None
    return browser if isinstance(browser, str) else None
