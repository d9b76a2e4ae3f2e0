"""When an AED can be reached: OpenStreetMap's `opening_hours`, the whole specification, as
implemented by `opening-hours-py` (ranges by month and week, several ranges a day, times past
midnight, `sunrise-sunset`, comments, fallback rules, `unknown`), evaluated in Beijing time.

Public holidays (`PH`) are China's, as the State Council announces them (core.workdays): the
library's own calendar for China knows only the first day of each festival (it has 1 October
as a holiday but not the rest of the National Day week). So on each day evaluated, every `PH`
of the expression is replaced by the weekdays of the two days the evaluation can touch (that
day, and the day before for a range running past midnight) that are public holidays: the
expression then reads exactly as OSM means it on that day. For a year whose arrangement is not
known, the library's own calendar is used (the statutory first days).

An AED may also follow the working calendar (`follows_workdays`: a school or an office): on a
make-up working day (调休上班) it keeps the hours of an ordinary weekday, and on a public holiday
(unless its hours say what it does then with `PH`) those of an ordinary weekend day.

No hours at all means unknown, as in OSM: never "always open".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import opening_hours as osm
from opening_hours import OpeningHours, State

from gongchuang.core import workdays
from gongchuang.core.clock import SHANGHAI
from gongchuang.core.i18n import current_locale
from gongchuang.core.workdays import DayKind

ParserError: type[Exception] = getattr(osm, "ParserError")  # noqa: B009  # not in its stub

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# `PH`, `PH +1 day`, `PH -2 days`, followed (intersection) by a weekday range or not.
_PH = re.compile(
    r"(?<![A-Za-z])PH(?:\s*(?P<sign>[+-])\s*(?P<days>\d+)\s*days?)?(?![A-Za-z])"
    r"(?P<weekdays>\s+(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:\s*[-,]\s*(?:Mo|Tu|We|Th|Fr|Sa|Su))*"
    r"(?![A-Za-z\[]))?"
)
_QUOTED = re.compile(r'"[^"]*"')


class OpeningHoursError(ValueError):
    """The text is not OSM `opening_hours`; the message says where and what was expected."""


class Availability(StrEnum):
    open = "open"
    closed = "closed"
    unknown = "unknown"


_STATES = {State.OPEN: Availability.open, State.CLOSED: Availability.closed}


@lru_cache(maxsize=4096)
def _compiled(text: str, country: str | None = None) -> OpeningHours:
    try:
        return OpeningHours(
            text, timezone=SHANGHAI, country=country, auto_country=False, auto_timezone=False
        )
    except ParserError as exc:
        raise OpeningHoursError(_reason(str(exc))) from None


def _reason(message: str) -> str:
    """The library's parser error, in one line: where, and what it expected there."""
    where = re.search(r"-->\s*\d+:(\d+)", message)
    expected = re.search(r"=\s*(expected .*)", message)
    parts = []
    if where:
        parts.append(f"at character {where.group(1)}")
    parts.append(expected.group(1).strip() if expected else "not opening_hours syntax")
    return ": ".join(parts)


def _weekday_set(spec: str) -> set[int]:
    chosen: set[int] = set()
    for part in re.split(r"\s*,\s*", spec.strip()):
        first, _, last = (p.strip() for p in part.partition("-"))
        start = DAYS.index(first)
        end = DAYS.index(last) if last else start
        day = start
        while True:
            chosen.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    return chosen


@dataclass(frozen=True)
class Hours:
    text: str
    uses_ph: bool

    def availability(self, moment: datetime, *, follows_workdays: bool = False) -> Availability:
        local = moment.astimezone(SHANGHAI) if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
        if follows_workdays:
            local = self._as_on_an_ordinary_day(local)
        state, _ = self._for_day(local.date()).state(local)
        return _STATES.get(state, Availability.unknown)

    def _as_on_an_ordinary_day(self, local: datetime) -> datetime:
        kind = workdays.day_kind(local.date())
        if kind is DayKind.make_up_working_day:
            wanted = DayKind.working_day
        elif kind is DayKind.public_holiday and not self.uses_ph:
            wanted = DayKind.rest_day
        else:
            return local
        for distance in range(1, 15):
            for step in (-distance, distance):
                other = local + timedelta(days=step)
                if workdays.day_kind(other.date()) is wanted:
                    return other
        return local

    def _for_day(self, day: date) -> OpeningHours:
        if not self.uses_ph:
            return _compiled(self.text)
        window = [day - timedelta(days=n) for n in range(-7, 9)]
        if not all(workdays.is_known(d) for d in window):
            return _compiled(self.text, "CN")  # the statutory first days only
        return _compiled(_ph_as_weekdays(self.text, day))


def _ph_as_weekdays(text: str, day: date) -> str:
    """The expression as it reads on `day`: each PH becomes the weekdays, among `day` and the
    day before, on which it holds; a weekday that cannot matter (two days on) when none."""
    touched = (day - timedelta(days=1), day)
    unused = DAYS[(day + timedelta(days=2)).weekday()]

    def holds(on: date, sign: str | None, days: str | None) -> bool:
        shift = int(days or 0) * (-1 if sign == "-" else 1)
        return workdays.day_kind(on - timedelta(days=shift)) is DayKind.public_holiday

    def replace(match: re.Match[str]) -> str:
        matching = [d for d in touched if holds(d, match.group("sign"), match.group("days"))]
        if match.group("weekdays"):  # "PH Mo-Fr": holidays that fall on those weekdays
            allowed = _weekday_set(match.group("weekdays"))
            matching = [d for d in matching if d.weekday() in allowed]
        return ",".join(DAYS[d.weekday()] for d in matching) or unused

    pieces, last = [], 0
    for quoted in _QUOTED.finditer(text):  # comments are left as written
        pieces.append(_PH.sub(replace, text[last : quoted.start()]))
        pieces.append(quoted.group(0))
        last = quoted.end()
    pieces.append(_PH.sub(replace, text[last:]))
    return "".join(pieces)


@lru_cache(maxsize=1024)
def parse(text: str) -> Hours:
    """The hours in `text`, or OpeningHoursError saying why they cannot be read."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise OpeningHoursError("empty")
    _compiled(cleaned)
    unquoted = _QUOTED.sub("", cleaned)
    uses_ph = bool(_PH.search(unquoted))
    if uses_ph:
        # Each rewriting must read too (e.g. "PH" inside a construct a weekday cannot stand in).
        _compiled(_ph_as_weekdays(cleaned, date(2026, 10, 1)))
        _compiled(_ph_as_weekdays(cleaned, date(2026, 10, 12)))
    return Hours(cleaned, uses_ph)


def problem(text: str | None) -> str | None:
    """Why `text` cannot be stored as opening hours (None: it can, or it is empty = unknown)."""
    if not (text or "").strip():
        return None
    try:
        parse(text or "")
    except OpeningHoursError as exc:
        return str(exc)
    return None


def availability(
    text: str | None, moment: datetime, *, follows_workdays: bool = False
) -> Availability:
    """Open, closed or unknown at `moment`: unknown when no hours are known, or the hours say
    so (`unknown`, or a fallback rule that ends there)."""
    if not (text or "").strip():
        return Availability.unknown
    try:
        return parse(text or "").availability(moment, follows_workdays=follows_workdays)
    except OpeningHoursError:
        return Availability.unknown


# --- said in words ------------------------------------------------------------------------------

_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAY_NAMES = {
    "zh_CN": dict(
        zip(_OSM_DAYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True)
    ),
    "en": dict(zip(_OSM_DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}
_WORDS = {
    "zh_CN": {
        "always": "全天24小时开放",
        "to": "至",
        "and": "、",
        "rules": "；",
        "off": "关闭",
        "PH": "法定节假日",
        "every day": "每天",
    },
    "en": {
        "always": "Open 24 hours",
        "to": "–",
        "and": ", ",
        "rules": "; ",
        "off": "closed",
        "PH": "public holidays",
        "every day": "Every day",
    },
}
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)"
_DAYS = re.compile(rf"^{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*$")
_SPAN = re.compile(r"^([0-2]\d:[0-5]\d)-([0-2]\d:[0-5]\d)$")


def _days_in_words(selector: str, words: dict[str, str], days: dict[str, str]) -> str:
    def one(piece: str) -> str:
        if piece == "PH":
            return words["PH"]
        first, _, last = piece.partition("-")
        return f"{days[first]}{words['to']}{days[last]}" if last else days[piece]

    return words["and"].join(one(piece) for piece in selector.split(","))


def describe(text: str | None, locale: str | None = None) -> str | None:
    """Opening hours as people read them: "Mo-Fr 08:00-22:00; PH off" → "周一至周五
    08:00–22:00；法定节假日关闭", in `locale` or the reader's. The common shapes only (days,
    times, "off", 24/7); anything richer (months, weeks, sunrise, comments) is shown as written.
    None: not known."""
    if not text:
        return None
    locale = locale or current_locale.get()
    words, days = _WORDS.get(locale, _WORDS["en"]), _DAY_NAMES.get(locale, _DAY_NAMES["en"])
    value = text.strip()
    if value == "24/7":
        return words["always"]
    said = []
    for rule in (r.strip() for r in value.split(";")):
        if not rule:
            continue
        parts = rule.split(" ", 1)
        selector, times = (parts[0], parts[1].strip()) if _DAYS.match(parts[0]) else ("", rule)
        day_words = _days_in_words(selector, words, days) if selector else words["every day"]
        if times in ("off", "closed"):
            said.append(f"{day_words}{'' if locale == 'zh_CN' else ' '}{words['off']}")
            continue
        spans = [_SPAN.match(s.strip()) for s in times.split(",")]
        if not times or not all(spans):
            return value  # a shape this does not say in words: as written
        said.append(
            f"{day_words} " + words["and"].join(f"{m.group(1)}–{m.group(2)}" for m in spans if m)
        )
    return words["rules"].join(said) if said else value
