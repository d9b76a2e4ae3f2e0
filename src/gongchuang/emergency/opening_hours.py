"""When an AED can be reached, in the OpenStreetMap `opening_hours` syntax (the common subset):
"24/7", "Mo-Fr 08:00-18:00; Sa,Su 10:00-16:00", "08:00-22:00", "Mo-Su 22:00-06:00", "Su off".
Later rules override earlier ones for the days they name, as in OSM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_RANGE = re.compile(rf"^({_TIME})-({_TIME})$")
_DAYSPEC = re.compile(r"^(Mo|Tu|We|Th|Fr|Sa|Su)(?:-(Mo|Tu|We|Th|Fr|Sa|Su))?$")


class OpeningHoursError(ValueError):
    pass


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Schedule:
    # For each weekday (0 = Monday), the open minute ranges [start, end) of that day; a range
    # past midnight spills into the next day.
    days: tuple[tuple[tuple[int, int], ...], ...]
    text: str

    @property
    def always(self) -> bool:
        return all(day == ((0, 1440),) for day in self.days)

    def is_open(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        if any(start <= minute < end for start, end in self.days[weekday]):
            return True
        yesterday = self.days[(weekday - 1) % 7]
        return any(end > 1440 and minute < end - 1440 for _, end in yesterday)

    def open_at_hour(self, weekday: int, hour: int) -> bool:
        return self.is_open(datetime.combine(datetime(2024, 1, 1 + weekday).date(), time(hour)))


def _days(spec: str) -> list[int]:
    chosen: list[int] = []
    for part in spec.split(","):
        match = _DAYSPEC.match(part.strip())
        if not match:
            raise OpeningHoursError(f"unknown days {part!r}")
        first = DAYS.index(match.group(1))
        last = DAYS.index(match.group(2)) if match.group(2) else first
        day = first
        while True:
            chosen.append(day)
            if day == last:
                break
            day = (day + 1) % 7
    return chosen


# A register holds a handful of distinct strings, and every alert wave asks each nearby AED.
@lru_cache(maxsize=1024)
def parse(text: str) -> Schedule:
    cleaned = " ".join((text or "").split())
    if cleaned in ("", "24/7"):
        return Schedule(tuple(((0, 1440),) for _ in DAYS), "24/7")
    days: list[tuple[tuple[int, int], ...]] = [() for _ in DAYS]
    for rule in (r.strip() for r in cleaned.split(";")):
        if not rule:
            continue
        head, _, rest = rule.partition(" ")
        if _DAYSPEC.match(head.split(",")[0]):
            chosen, times = _days(head), rest.strip()
        else:
            chosen, times = list(range(7)), rule
        if times == "off":
            ranges: tuple[tuple[int, int], ...] = ()
        else:
            parsed = []
            for span in times.split(","):
                match = _RANGE.match(span.strip())
                if not match:
                    raise OpeningHoursError(f"unknown times {span!r}")
                start, end = _minutes(match.group(1)), _minutes(match.group(2))
                if start >= 1440 or start == end:
                    raise OpeningHoursError(f"empty range {span!r}")
                parsed.append((start, end if end > start else end + 1440))
            ranges = tuple(parsed)
        for day in chosen:
            days[day] = ranges
    return Schedule(tuple(days), cleaned)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except OpeningHoursError:
        return False
    return True
