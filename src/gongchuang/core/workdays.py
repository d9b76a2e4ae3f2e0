"""China's working calendar: the public holidays and the make-up working days (调休) that the
State Council announces each year for the year after.

The days come from the `chinese_calendar` package, which follows the announcements; a year it
does not know yet (its release lags the November announcement) can be given in a JSON file
named by the `holiday_calendar_file` setting:

    {"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-14", ...]}}

`holidays` are the days off of the announced breaks (weekends inside a break included),
`workdays` the weekend days worked instead. A year known to neither is `None` here: callers
say so rather than guess.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from functools import cache

import chinese_calendar

from gongchuang.config import get_settings


class DayKind(StrEnum):
    working_day = "working_day"  # an ordinary Monday to Friday
    rest_day = "rest_day"  # an ordinary Saturday or Sunday
    public_holiday = "public_holiday"  # a day of an announced break (节假日)
    make_up_working_day = "make_up_working_day"  # a weekend day worked instead (调休上班)


@cache
def _extra_years() -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    path = get_settings().holiday_calendar_file
    if path is None:
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        int(year): (
            frozenset(date.fromisoformat(d) for d in days.get("holidays", [])),
            frozenset(date.fromisoformat(d) for d in days.get("workdays", [])),
        )
        for year, days in document.items()
    }


def day_kind(day: date) -> DayKind | None:
    """What kind of day this is in China, or None when the year's arrangement is unknown."""
    extra = _extra_years().get(day.year)
    if extra is not None:
        holidays, workdays = extra
        if day in holidays:
            return DayKind.public_holiday
        if day in workdays:
            return DayKind.make_up_working_day
        return DayKind.working_day if day.weekday() < 5 else DayKind.rest_day
    try:
        off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if name is not None:
        return DayKind.public_holiday if off else DayKind.make_up_working_day
    return DayKind.rest_day if off else DayKind.working_day


def is_known(day: date) -> bool:
    return day_kind(day) is not None
