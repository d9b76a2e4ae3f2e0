"""Platform-wide figures for the home page. They change slowly and every visitor asks for
them, so each process recomputes them at most once a minute."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.models import Organisation, Person, Region

TTL_SECONDS = 60.0


@dataclass(frozen=True)
class PlatformCounts:
    regions: int
    organisations: int
    people: int


_lock = threading.Lock()
_cached: tuple[float, PlatformCounts] | None = None


def platform_counts(session: Session, *, now: float | None = None) -> PlatformCounts:
    global _cached
    moment = time.monotonic() if now is None else now
    with _lock:
        if _cached is not None and moment - _cached[0] < TTL_SECONDS:
            return _cached[1]
    counts = PlatformCounts(
        regions=session.scalar(select(func.count(Region.id))) or 0,
        organisations=session.scalar(select(func.count(Organisation.id))) or 0,
        people=session.scalar(select(func.count(Person.id))) or 0,
    )
    with _lock:
        _cached = (moment, counts)
    return counts


def forget() -> None:
    global _cached
    with _lock:
        _cached = None
