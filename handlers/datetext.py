"""Understand dates and times as people type them in Indonesian ("besok jam 10", "Senin depan", "7/7/2026").

dateparser gets "lusa", "Senin depan", "minggu depan" and "3 hari lagi" wrong and drops the time in
"besok jam 10" (DESIGN.md, Known pitfalls), so this small parser handles what people actually type. It only
computes dates: whether a date is past, a holiday or free is for the caller to decide, and the caller always
echoes the understood date back before using it.

Interpretation rules (weeks run Monday to Sunday; "today" is ``now`` seen in the office's zone):

- "hari ini", "sekarang" = today; "besok"/"esok" = today + 1; "lusa" = today + 2;
  "N hari lagi" / "N hari ke depan" (N = 1..90, digits or satu..sepuluh) = today + N.
- "minggu depan" / "pekan depan" = some day in next week:
  ``Understood(day=<Monday of next week>, whole_week=True)``.
- "bulan depan" = the same day of the month next month, clamped to that month's end (31 Jan -> 28/29 Feb).
- A bare weekday ("Senin") = its nearest occurrence after today; today itself is excluded, so "Rabu" said
  on a Wednesday means the Wednesday a week later.
- "<weekday> ini" / "<weekday> minggu ini" = that weekday in the current week, even if it has already
  passed (the caller says so). "<weekday> depan" / "<weekday> minggu depan" / "<weekday> pekan depan" =
  that weekday in next week.
- "Minggu" is both Sunday and "week": a bare "minggu" or "minggu ini" gives ``Ambiguous("minggu")``;
  "hari Minggu", "Ahad", "hari Minggu depan", "Minggu, 12 Juli" are Sunday; "minggu depan" is the whole
  next week.
- Absolute dates are day-month-year: "7 Juli [2026]", "7 Jul", "7/7", "07-07-2026", "7/7/26", "7.7.2026",
  "2026-07-07". Without a year a date means its next occurrence: this year if it is today or later, else the
  first later year that has it (so "29 Februari" finds the next leap year). Two-digit years are 20YY.
  A weekday in front ("Selasa, 7 Juli 2026") must match the date, else ``NotUnderstood("weekday_mismatch")``.
- Times: "jam/pukul/pkl 10", "10:30", "14.30", "10 pagi", optionally followed by a part of the day, which
  turns a 12-hour reading into 24 hours: pagi 0-11; siang 10-12 as is, 1-6 -> 13-18; sore 1-7 -> 13-19;
  malam 6-11 -> 18-23. 24-hour times that fit the part ("jam 14 siang", "19.00 malam") are kept; anything
  else is "invalid_time". A part of the day alone ("sore") gives ``period`` and no ``time``;
  "besok pagi jam 9" combines both.
- Zone words WIB/WITA/WIT and filler words ("tanggal", "tgl", "pada", "nanti") are ignored.

``NotUnderstood.reason`` is one of: "empty", "unknown", "invalid_date", "invalid_time", "weekday_mismatch".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

__all__ = [
    "Ambiguous",
    "DayPeriod",
    "NotUnderstood",
    "TimeOnly",
    "Understood",
    "WhenResult",
    "parse_when",
]


class DayPeriod(Enum):
    PAGI = "pagi"
    SIANG = "siang"
    SORE = "sore"
    MALAM = "malam"


@dataclass(frozen=True)
class Understood:
    """A day, with a clock ``time`` or only a ``period`` of the day (or neither).

    ``whole_week`` means "some day in the week starting on ``day``" ("minggu depan").
    """

    day: date
    time: time | None
    period: DayPeriod | None
    whole_week: bool = False


@dataclass(frozen=True)
class TimeOnly:
    """A time or part of the day without a date ("jam 10", "sore")."""

    time: time | None
    period: DayPeriod | None


@dataclass(frozen=True)
class Ambiguous:
    """The text has two sensible readings; ``kind`` says which word ("minggu": Sunday or a week)."""

    kind: str


@dataclass(frozen=True)
class NotUnderstood:
    reason: str


WhenResult = Understood | TimeOnly | Ambiguous | NotUnderstood

# Nobody types a date in more than this; longer text is not a date, and we never scan it.
MAX_INPUT_CHARS = 200
MAX_DAYS_AHEAD = 90

_WEEKDAYS = {
    "senin": 0,
    "selasa": 1,
    "rabu": 2,
    "kamis": 3,
    "jumat": 4,
    "sabtu": 5,
    "minggu": 6,
    "ahad": 6,
}

_MONTHS = {
    **dict.fromkeys(("januari", "jan"), 1),
    **dict.fromkeys(("februari", "pebruari", "feb", "peb"), 2),
    **dict.fromkeys(("maret", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mei",), 5),
    **dict.fromkeys(("juni", "jun"), 6),
    **dict.fromkeys(("juli", "jul"), 7),
    **dict.fromkeys(("agustus", "agu", "agt", "ags", "agst", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt", "oct"), 10),
    **dict.fromkeys(("november", "nopember", "nov", "nop"), 11),
    **dict.fromkeys(("desember", "des", "dec"), 12),
}

_NUMBER_WORDS = {
    "satu": 1,
    "dua": 2,
    "tiga": 3,
    "empat": 4,
    "lima": 5,
    "enam": 6,
    "tujuh": 7,
    "delapan": 8,
    "sembilan": 9,
    "sepuluh": 10,
}

_PERIODS = {period.value: period for period in DayPeriod}


def _hours(kept: range, plus_twelve: range = range(0)) -> dict[int, int]:
    """Typed hour -> 24-hour clock: ``kept`` hours stay, ``plus_twelve`` hours are afternoon/evening."""
    return {h: h for h in kept} | {h: h + 12 for h in plus_twelve}


# Which typed hours each part of the day allows, and what they mean; "jam 2 siang" = 14, "jam 11 siang" = 11.
_PERIOD_HOURS = {
    DayPeriod.PAGI: _hours(range(12)),
    DayPeriod.SIANG: _hours(range(10, 19), plus_twelve=range(1, 7)),
    DayPeriod.SORE: _hours(range(13, 20), plus_twelve=range(1, 8)),
    DayPeriod.MALAM: _hours(range(18, 24), plus_twelve=range(6, 12)),
}

_TIME_MARKERS = frozenset({"jam", "pukul", "pkl", "pk"})
_ZONE_WORDS = frozenset({"wib", "wita", "wit"})
_FILLER_WORDS = frozenset({"tanggal", "tgl", "pada", "pd", "nanti"})
_WEEK_WORDS = frozenset({"minggu", "pekan"})

# All patterns are anchored, bounded and free of nested quantifiers: no catastrophic backtracking.
_APOSTROPHES = re.compile(r"['`\u2018\u2019]")
_LETTER_DIGIT_BOUNDARY = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_NOT_TOKEN_CHARS = re.compile(r"[^0-9a-z./:\-]+")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/\-.])(\d{1,2})(?:\2(\d{4}|\d{2}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_NUMBER = re.compile(r"\d{1,2}")
_YEAR_NUMBER = re.compile(r"\d{4}")
_CLOCK_WITH_MINUTES = re.compile(r"(\d{1,2})[.:](\d{2})")
_CLOCK_LOOSE = re.compile(r"(\d{1,4})(?:[.:](\d{1,4}))?")


class _Invalid(Exception):
    """Raised inside the parser to stop at the first definite error; ``parse_when`` turns it into a result."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _DatePart:
    day: date
    whole_week: bool = False


@dataclass(frozen=True)
class _AmbiguousPart:
    kind: str


@dataclass(frozen=True)
class _TimePart:
    """A time as typed: the hour is resolved against the period only at the end, after merging parts."""

    hour: int | None
    minute: int
    period: DayPeriod | None


_Part = _DatePart | _AmbiguousPart | _TimePart
_Match = tuple[int, _Part]  # (tokens consumed, what they mean)


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> WhenResult:
    """Parse an Indonesian date and/or time typed by a person; see the module docstring for the rules.

    ``now`` must be timezone-aware; "today" is its date in ``tz`` (the office's zone), which can differ
    between WIB, WITA and WIT for the same instant.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not text.strip():
        return NotUnderstood("empty")
    if len(text) > MAX_INPUT_CHARS:
        return NotUnderstood("unknown")
    tokens = _tokenize(text)
    if not tokens:
        return NotUnderstood("unknown")
    today = now.astimezone(tz).date()
    try:
        return _interpret(tokens, today)
    except _Invalid as error:
        return NotUnderstood(error.reason)


def _tokenize(text: str) -> list[str]:
    """Lower-case words and numbers, without punctuation, zone words or fillers.

    Apostrophes go first so "Jum'at" becomes "jumat"; letters and digits stuck together ("jam10", "7juli")
    are separated; dots, colons, slashes and dashes stay inside numbers ("14.30", "7/7") but not at their
    ends ("10.").
    """
    lowered = _APOSTROPHES.sub("", text.lower())
    spaced = _NOT_TOKEN_CHARS.sub(" ", _LETTER_DIGIT_BOUNDARY.sub(" ", lowered))
    words = (word.strip("./:-") for word in spaced.split())
    return [word for word in words if word and word not in _ZONE_WORDS and word not in _FILLER_WORDS]


def _interpret(tokens: list[str], today: date) -> WhenResult:
    parts = _scan(tokens, today)
    dates = [part for part in parts if not isinstance(part, _TimePart)]
    times = [part for part in parts if isinstance(part, _TimePart)]
    if len(dates) > 1:
        raise _Invalid("unknown")
    time_part = _merge_times(times)
    if dates and isinstance(dates[0], _AmbiguousPart):
        return Ambiguous(dates[0].kind)
    clock, period = _resolve_time(time_part) if time_part else (None, None)
    if not dates:
        return TimeOnly(clock, period)
    date_part = dates[0]
    assert isinstance(date_part, _DatePart)
    return Understood(date_part.day, clock, period, date_part.whole_week)


def _scan(tokens: list[str], today: date) -> list[_Part]:
    """Split the tokens into date and time parts, left to right; a token that fits nothing means "unknown"."""
    parts: list[_Part] = []
    i = 0
    while i < len(tokens):
        match = _match_date(tokens, i, today) or _match_time(tokens, i)
        if match is None:
            raise _Invalid("unknown")
        used, part = match
        parts.append(part)
        i += used
    return parts


def _at(tokens: list[str], i: int) -> str:
    return tokens[i] if i < len(tokens) else ""


# --- dates


def _match_date(tokens: list[str], i: int, today: date) -> _Match | None:
    # Order matters: "minggu depan" (a week) must be tried before the weekday "minggu" (Sunday).
    for matcher in _DATE_MATCHERS:
        match = matcher(tokens, i, today)
        if match is not None:
            return match
    calendar = _match_calendar_date(tokens, i, today)
    if calendar is not None:
        used, day = calendar
        return used, _DatePart(day)
    return None


def _match_relative_day(tokens: list[str], i: int, today: date) -> _Match | None:
    word = tokens[i]
    if word == "hari" and _at(tokens, i + 1) == "ini":
        return 2, _DatePart(today)
    offsets = {"sekarang": 0, "besok": 1, "esok": 1, "lusa": 2}
    if word in offsets:
        return 1, _DatePart(today + timedelta(days=offsets[word]))
    return None


def _match_days_ahead(tokens: list[str], i: int, today: date) -> _Match | None:
    """ "3 hari lagi", "tiga hari ke depan", "3 hari kedepan"."""
    count = _small_number(tokens[i])
    if count is None or _at(tokens, i + 1) != "hari":
        return None
    tail = (_at(tokens, i + 2), _at(tokens, i + 3))
    if tail[0] in ("lagi", "kedepan"):
        used = 3
    elif tail == ("ke", "depan"):
        used = 4
    else:
        return None
    if not 1 <= count <= MAX_DAYS_AHEAD:
        raise _Invalid("unknown")
    return used, _DatePart(today + timedelta(days=count))


def _small_number(word: str) -> int | None:
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    return int(word) if _DAY_NUMBER.fullmatch(word) else None


def _match_next_week(tokens: list[str], i: int, today: date) -> _Match | None:
    if tokens[i] in _WEEK_WORDS and _at(tokens, i + 1) == "depan":
        return 2, _DatePart(_monday_of_week(today, weeks_ahead=1), whole_week=True)
    return None


def _match_next_month(tokens: list[str], i: int, today: date) -> _Match | None:
    if tokens[i] == "bulan" and _at(tokens, i + 1) == "depan":
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return 2, _DatePart(date(year, month, min(today.day, _days_in_month(year, month))))
    return None


def _match_weekday(tokens: list[str], i: int, today: date) -> _Match | None:
    """A weekday, optionally after "hari", then an absolute date, "ini"/"depan", or nothing."""
    after_hari = tokens[i] == "hari"
    j = i + 1 if after_hari else i
    word = _at(tokens, j)
    if word not in _WEEKDAYS:
        return None
    weekday = _WEEKDAYS[word]
    j += 1
    calendar = _match_calendar_date(tokens, j, today)
    if calendar is not None:
        used, day = calendar
        if day.weekday() != weekday:
            raise _Invalid("weekday_mismatch")
        return j + used - i, _DatePart(day)
    used, weeks_ahead = _match_week_relation(tokens, j)
    if word == "minggu" and not after_hari and (used == 0 or (used == 1 and weeks_ahead == 0)):
        return j + used - i, _AmbiguousPart("minggu")  # "minggu" / "minggu ini": Sunday, or this week?
    if weeks_ahead is None:
        return j - i, _DatePart(_next_weekday_after(today, weekday))
    day = _monday_of_week(today, weeks_ahead) + timedelta(days=weekday)
    return j + used - i, _DatePart(day)


def _match_week_relation(tokens: list[str], i: int) -> tuple[int, int | None]:
    """Tokens naming the week ("ini", "depan", "minggu ini", "pekan depan") and how many weeks ahead it is."""
    relations = {"ini": 0, "depan": 1}
    if _at(tokens, i) in _WEEK_WORDS and _at(tokens, i + 1) in relations:
        return 2, relations[tokens[i + 1]]
    if _at(tokens, i) in relations:
        return 1, relations[tokens[i]]
    return 0, None


def _match_calendar_date(tokens: list[str], i: int, today: date) -> tuple[int, date] | None:
    """ "7 Juli [2026]", "7/7[/2026]", "07-07-26", "7.7.2026", "2026-07-07": tokens used and the date."""
    word = _at(tokens, i)
    iso = _ISO_DATE.fullmatch(word)
    if iso:
        return 1, _make_date(int(iso[3]), int(iso[2]), int(iso[1]))
    numeric = _NUMERIC_DATE.fullmatch(word)
    # "7.7" alone is too close to a time to be read as a date; dotted dates need their year.
    if numeric and (numeric[2] != "." or numeric[4]):
        year = _full_year(numeric[4]) if numeric[4] else None
        return 1, _dated(int(numeric[1]), int(numeric[3]), year, today)
    month = _MONTHS.get(_at(tokens, i + 1))
    if _DAY_NUMBER.fullmatch(word) and month is not None:
        year_word = _at(tokens, i + 2)
        if _YEAR_NUMBER.fullmatch(year_word):
            return 3, _make_date(int(word), month, int(year_word))
        return 2, _dated(int(word), month, None, today)
    return None


def _full_year(digits: str) -> int:
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _dated(day: int, month: int, year: int | None, today: date) -> date:
    return _make_date(day, month, year) if year is not None else _next_occurrence(day, month, today)


def _make_date(day: int, month: int, year: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _Invalid("invalid_date") from None


def _next_occurrence(day: int, month: int, today: date) -> date:
    """The first date with this day and month that is today or later (29 Feb may be up to 8 years away)."""
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(2000, month):  # 2000 is a leap year
        raise _Invalid("invalid_date")
    for year in range(today.year, today.year + 9):
        if day <= _days_in_month(year, month) and date(year, month, day) >= today:
            return date(year, month, day)
    raise _Invalid("invalid_date")  # only past the year 9990


def _days_in_month(year: int, month: int) -> int:
    first_of_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (first_of_next - timedelta(days=1)).day


def _monday_of_week(today: date, weeks_ahead: int) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)


def _next_weekday_after(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


_DATE_MATCHERS = (
    _match_relative_day,
    _match_days_ahead,
    _match_next_week,
    _match_next_month,
    _match_weekday,
)


# --- times


def _match_time(tokens: list[str], i: int) -> _Match | None:
    """ "jam 10", "pukul 14.00", "14:30", "10 pagi", each with an optional part of the day; or "sore"."""
    word = tokens[i]
    if word in _PERIODS:
        return 1, _TimePart(None, 0, _PERIODS[word])
    if word in _TIME_MARKERS:
        clock = _loose_clock(_at(tokens, i + 1))
        used = 2
    else:
        strict = _CLOCK_WITH_MINUTES.fullmatch(word)
        clock = (int(strict[1]), int(strict[2])) if strict else None
        if clock is None and _at(tokens, i + 1) in _PERIODS:
            clock = _loose_clock(word)  # a bare number is an hour only with a part of the day: "10 pagi"
        used = 1
    if clock is None:
        return None
    period = _PERIODS.get(_at(tokens, i + used))
    return used + (period is not None), _TimePart(clock[0], clock[1], period)


def _loose_clock(word: str) -> tuple[int, int] | None:
    """Hour and minute after "jam"/"pukul": it is clearly meant as a time, so a bad one is "invalid_time"."""
    match = _CLOCK_LOOSE.fullmatch(word)
    if match is None:
        return None
    if match[2] is not None and len(match[2]) != 2:
        raise _Invalid("invalid_time")
    return int(match[1]), int(match[2] or 0)


def _merge_times(parts: list[_TimePart]) -> _TimePart | None:
    """One time part, or a clock time plus a separate part of the day ("besok pagi jam 9")."""
    if len(parts) <= 1:
        return parts[0] if parts else None
    if len(parts) == 2:
        clock, period = sorted(parts, key=lambda part: part.hour is None)
        if clock.hour is not None and clock.period is None and period.hour is None:
            return _TimePart(clock.hour, clock.minute, period.period)
    raise _Invalid("unknown")


def _resolve_time(part: _TimePart) -> tuple[time | None, DayPeriod | None]:
    if part.hour is None:
        return None, part.period
    if not 0 <= part.minute <= 59:
        raise _Invalid("invalid_time")
    if part.period is None:
        hour: int | None = part.hour if 0 <= part.hour <= 23 else None
    else:
        hour = _PERIOD_HOURS[part.period].get(part.hour)
    if hour is None:
        raise _Invalid("invalid_time")
    return time(hour, part.minute), None
