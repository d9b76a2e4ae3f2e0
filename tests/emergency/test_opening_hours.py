"""When an AED can be reached: OSM opening_hours in full, China's public holidays and make-up
working days, and "unknown" as unknown."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongchuang.core import workdays
from gongchuang.core.clock import SHANGHAI
from gongchuang.core.workdays import DayKind
from gongchuang.emergency import opening_hours
from gongchuang.emergency.opening_hours import Availability

OPEN, CLOSED, UNKNOWN = Availability.open, Availability.closed, Availability.unknown


def at(text: str, when: str, *, follows_workdays: bool = False) -> Availability:
    moment = datetime.fromisoformat(when).replace(tzinfo=SHANGHAI)
    return opening_hours.availability(text, moment, follows_workdays=follows_workdays)


@pytest.mark.parametrize(
    ("text", "when", "expected"),
    [
        ("Mo-Fr 08:00-18:00; Sa,Su 10:00-16:00", "2026-11-23 09:00", OPEN),  # Monday
        ("Mo-Fr 08:00-18:00; Sa,Su 10:00-16:00", "2026-11-23 03:00", CLOSED),
        ("Mo-Fr 08:00-18:00; Sa,Su 10:00-16:00", "2026-11-28 09:00", CLOSED),  # Saturday
        ("Mo-Su 22:00-06:00", "2026-11-24 02:00", OPEN),  # past midnight
        ("Mo-Su 22:00-06:00", "2026-11-24 12:00", CLOSED),
        ("08:00-20:00; Su off", "2026-11-29 12:00", CLOSED),
        # What the old 105-line subset could not read:
        ("Mo-Fr 08:30-11:30,13:30-17:00", "2026-11-23 12:30", CLOSED),  # two ranges a day
        ("Mo-Fr 08:30-11:30,13:30-17:00", "2026-11-23 14:00", OPEN),
        ("Mo-Fr 08:00-17:00; Jul-Aug off", "2026-07-15 10:00", CLOSED),  # month range
        ("Mo-Fr 08:00-17:00; Jul-Aug off", "2026-06-15 10:00", OPEN),
        ("week 01-53/2 Mo 10:00-12:00", "2026-11-30 11:00", None),  # odd ISO weeks only
        ("week 01-53/2 Mo 10:00-12:00", "2026-11-23 11:00", None),
        ("sunrise-sunset", "2026-12-02 03:00", CLOSED),
        ("sunrise-sunset", "2026-12-02 12:00", OPEN),
        ('Mo-Fr 08:00-18:00 "ask the guard"', "2026-12-02 09:00", OPEN),  # a comment
        ("24/7 unknown", "2026-12-02 09:00", UNKNOWN),
        ("Mo-Fr 08:00-18:00; Sa unknown", "2026-11-28 09:00", UNKNOWN),
    ],
)
def test_the_specification_beyond_the_common_subset(text, when, expected) -> None:
    if text.startswith("week"):
        # ISO week of the date decides: compute rather than trust a comment.
        week = datetime.fromisoformat(when).isocalendar().week
        expected = OPEN if week % 2 == 1 else CLOSED
    assert at(text, when) is expected


def test_no_hours_are_unknown_not_always_open() -> None:
    for missing in (None, "", "   "):
        assert opening_hours.availability(missing, datetime.now(SHANGHAI)) is UNKNOWN
        assert opening_hours.problem(missing) is None


def test_public_holidays_are_chinas_whole_breaks() -> None:
    """The library's own calendar has 1 October; China's National Day break of 2026 runs to
    7 October (and 4 October is a Sunday inside it)."""
    office = "Mo-Fr 08:00-17:00; PH off"
    assert at(office, "2026-10-01 10:00") is CLOSED
    assert at(office, "2026-10-05 10:00") is CLOSED  # Monday of the break
    assert at(office, "2026-10-09 10:00") is OPEN  # an ordinary Friday after it
    shop = "Mo-Su 10:00-22:00; PH 12:00-18:00"
    assert at(shop, "2026-10-02 11:00") is CLOSED and at(shop, "2026-10-02 13:00") is OPEN
    assert at("Mo-Fr,PH 09:00-12:00", "2026-10-03 10:00") is OPEN  # a Saturday in the break
    assert at("Mo-Fr 09:00-12:00; PH Mo-Fr off", "2026-10-05 10:00") is CLOSED
    assert at("Mo-Fr 09:00-12:00; PH Sa,Su off", "2026-10-05 10:00") is OPEN
    assert at("PH 22:00-02:00", "2026-10-08 01:00") is OPEN  # from the break's last night
    assert at("PH 22:00-02:00", "2026-10-09 01:00") is CLOSED
    assert at("PH +1 day 08:00-10:00", "2026-10-08 09:00") is OPEN  # the day after a holiday
    assert at('Mo-Fr 08:00-17:00 "PH off"', "2026-10-05 10:00") is OPEN  # only a comment


def test_a_school_keeps_to_the_working_calendar() -> None:
    school = "Mo-Fr 07:00-22:00"
    # Saturday 10 October 2026 is a make-up working day (调休上班), 5 October a holiday.
    assert at(school, "2026-10-10 10:00") is CLOSED
    assert at(school, "2026-10-10 10:00", follows_workdays=True) is OPEN
    assert at(school, "2026-10-05 10:00") is OPEN
    assert at(school, "2026-10-05 10:00", follows_workdays=True) is CLOSED
    assert at(school, "2026-10-12 10:00", follows_workdays=True) is OPEN  # an ordinary Monday
    # Its own PH rule says what it does on holidays.
    assert (
        at("Mo-Fr 07:00-22:00; PH 09:00-12:00", "2026-10-05 10:00", follows_workdays=True) is OPEN
    )


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(2004, 1, 2), max_value=date(2026, 12, 30)),
    hour=st.integers(min_value=0, max_value=23),
)
def test_an_office_is_open_exactly_on_chinas_working_days(day: date, hour: int) -> None:
    """The oracle is chinese_calendar itself: with `PH off` and the working calendar, an
    office's AED is open in its hours on every working day (make-up days included), never on a
    holiday or a weekend."""
    moment = datetime.combine(day, time(hour, 15), tzinfo=SHANGHAI)
    in_hours = 8 <= hour < 17
    office = opening_hours.availability("Mo-Fr 08:00-17:00; PH off", moment, follows_workdays=True)
    assert office is (OPEN if in_hours and chinese_calendar.is_workday(day) else CLOSED)
    plain = opening_hours.availability("Mo-Fr 08:00-17:00; PH off", moment)
    on_holiday = workdays.day_kind(day) is DayKind.public_holiday
    assert plain is (OPEN if in_hours and day.weekday() < 5 and not on_holiday else CLOSED)


def test_a_year_not_yet_known_falls_back_to_the_statutory_days(tmp_path, monkeypatch) -> None:
    from gongchuang.config import get_settings

    assert workdays.day_kind(date(2027, 2, 8)) is None
    # The library's own calendar still knows the first day of each festival.
    assert at("Mo-Fr 08:00-17:00; PH off", "2027-01-01 10:00") is CLOSED
    # The State Council's arrangement, given in the holiday file, is used as soon as it is.
    calendar = tmp_path / "holidays.json"
    calendar.write_text(
        '{"2027": {"holidays": ["2027-02-08"], "workdays": ["2027-02-20"]}}', encoding="utf-8"
    )
    monkeypatch.setattr(get_settings(), "holiday_calendar_file", calendar)
    workdays._extra_years.cache_clear()
    opening_hours._compiled.cache_clear()
    try:
        assert workdays.day_kind(date(2027, 2, 8)) is DayKind.public_holiday
        assert workdays.day_kind(date(2027, 2, 20)) is DayKind.make_up_working_day
        assert workdays.day_kind(date(2027, 2, 9)) is DayKind.working_day
        assert at("Mo-Fr 07:00-22:00", "2027-02-20 10:00", follows_workdays=True) is OPEN
    finally:
        monkeypatch.undo()
        workdays._extra_years.cache_clear()


@pytest.mark.parametrize(
    "bad", ["Mo-Fr 8-18", "Xy 08:00-10:00", "always", "Mo-Fr 08:00-17:00; PH[1] off", "24/8"]
)
def test_unreadable_hours_are_refused_with_where_and_why(bad: str) -> None:
    reason = opening_hours.problem(bad)
    assert reason and "expected" in reason
    assert "character" in reason
    with pytest.raises(opening_hours.OpeningHoursError):
        opening_hours.parse(bad)


def test_every_sunday_inside_a_break_is_a_holiday_and_a_plain_sunday_is_not() -> None:
    assert workdays.day_kind(date(2026, 10, 4)) is DayKind.public_holiday
    assert workdays.day_kind(date(2026, 10, 11)) is DayKind.rest_day
    assert workdays.day_kind(date(2026, 9, 20)) is DayKind.make_up_working_day
    assert workdays.day_kind(date(2026, 12, 2)) is DayKind.working_day
    assert workdays.day_kind(date(2026, 12, 2) + timedelta(days=3)) is DayKind.rest_day


@pytest.mark.parametrize(
    "text, zh, en",
    [
        ("24/7", "全天24小时开放", "Open 24 hours"),
        (
            "Mo-Fr 08:00-22:00; Sa,Su 09:00-18:00",
            "周一至周五 08:00–22:00；周六、周日 09:00–18:00",
            "Mon–Fri 08:00–22:00; Sat, Sun 09:00–18:00",
        ),
        (
            "Mo-Fr 08:00-12:00,14:00-18:00; PH off",
            "周一至周五 08:00–12:00、14:00–18:00；法定节假日关闭",
            "Mon–Fri 08:00–12:00, 14:00–18:00; public holidays closed",
        ),
        ("08:00-20:00", "每天 08:00–20:00", "Every day 08:00–20:00"),
        # Richer shapes are shown as written, never half-translated.
        ("sunrise-sunset", "sunrise-sunset", "sunrise-sunset"),
        ("Jan-Mar Mo 08:00-10:00", "Jan-Mar Mo 08:00-10:00", "Jan-Mar Mo 08:00-10:00"),
        ('Mo-Fr 08:00-18:00 "ask the guard"', 'Mo-Fr 08:00-18:00 "ask the guard"', None),
    ],
)
def test_opening_hours_are_said_in_words(text: str, zh: str, en: str | None) -> None:
    from gongchuang.emergency.opening_hours import describe

    assert describe(text, "zh_CN") == zh
    assert describe(text, "en") == (en or text)
    assert describe(None) is None and describe("") is None
