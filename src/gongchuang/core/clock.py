"""The platform's one clock and calendar: storage is timezone-aware UTC, people in China count
days and read times in Beijing time (Asia/Shanghai). Business rules take their time from here,
never from the web shell."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC: what every timestamp column stores."""
    return datetime.now(UTC)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Storage is UTC; people in China read Beijing time."""
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def local_today() -> date:
    """Today as people in China count it (after 16:00 UTC it is already tomorrow)."""
    return utcnow().astimezone(SHANGHAI).date()


def local_midnight(day: date) -> datetime:
    """The start of a calendar day as people in China count it, in UTC for storage."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)
