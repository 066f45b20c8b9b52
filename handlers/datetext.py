"""Understand dates and times as people type them in Indonesian ("besok jam 10", "Senin depan", "7/7/2026").

dateparser gets "lusa", "Senin depan", "minggu depan" and "3 hari lagi" wrong and drops the time in
"besok jam 10" (DESIGN.md, Known pitfalls), so this small parser handles what people actually type. It only
computes dates: whether a date is past, a holiday or free is for the caller to decide, and the caller always
echoes the understood date back before using it.

Interpretation rules (weeks run Monday to Sunday; "today" is ``now`` seen in the office's zone):

- "hari ini", "sekarang" = today; "besok"/"esok" = today + 1; "lusa" = today + 2;
  "N hari lagi" / "N hari ke depan" (N = 1..90, digits or satu..sepuluh) = today + N;
  "seminggu lagi" / "N minggu lagi" / "N pekan lagi" (N = 1..12) = today + 7N (one day, not a whole week).
- "minggu depan" / "pekan depan" = some day in next week:
  ``Understood(day=<Monday of next week>, whole_week=True)``.
- "bulan depan" = some day in next month: ``Understood(day=<the 1st of next month>, whole_month=True)``;
  "sebulan lagi" / "N bulan lagi" = some day from the same day N months on (clamped to that month's end:
  31 Jan + 1 = 28/29 Feb), ``whole_month=True`` too. The caller offers the free dates from that day.
- A bare weekday ("Senin") = its nearest occurrence after today; today itself is excluded, so "Rabu" said
  on a Wednesday means the Wednesday a week later.
- "<weekday> ini" / "<weekday> minggu ini" = that weekday in the current week, even if it has already
  passed (the caller says so) — except on Saturday and Sunday, when a weekday already past this week means
  the coming one ("Senin ini" said on a Saturday is the Monday after). "<weekday> depan" /
  "<weekday> minggu depan" / "<weekday> pekan depan" = that weekday in next week — except that on Saturday
  and Sunday, when "Jumat ini" already means the coming Friday, "Jumat depan" may mean that one too or the one
  a week later: ``Ambiguous("weekday_depan", (the coming one, a week later))`` (Monday to Friday only; a time
  said with it goes with both readings), and the caller asks.
- "Minggu" is both Sunday and "week": a bare "minggu" or "minggu ini" gives ``Ambiguous("minggu")``;
  "hari Minggu", "Ahad", "hari Minggu depan", "Minggu, 12 Juli" are Sunday; "minggu depan" is the whole
  next week.
- Absolute dates are day-month-year: "7 Juli [2026]", "7 Jul", "7/7", "07-07-2026", "7/7/26", "7.7.2026",
  "2026-07-07", "7 Juli 26". Without a year a date means its nearest occurrence: the last one that has passed
  (if at most three months ago) or the next one (today counts as next), whichever is closer, ties going to the
  next — so on 24 November "23 November" is yesterday (the caller refuses it as past), on 28 December
  "5 Januari" is next year, and on 1 July "1 Januari" is next year too;
  "29 Februari" finds the nearest leap year. Two-digit years are 20YY (after a month name only from 24 on,
  or this year's: "7 Juli 10" is 10.00).
- "tanggal 5" / "tgl 5" without a month = the next 5th of a month (this month if today or later, else the
  next month that has it).
  A weekday in front ("Selasa, 7 Juli 2026") must match the date, else ``NotUnderstood("weekday_mismatch")``.
- A weekday followed by a bare number ("Selasa 15") is how dates are written ("Selasa, 15 Desember"), and
  times are written with "jam"/"pukul" or minutes ("Selasa jam 15", "Selasa 15.00"). So the number N is read
  against the calendar: the N-th of this month (if not yet past) or of next month, the first of them that falls
  on that weekday, is the *date* candidate; the weekday's nearest occurrence at N o'clock is the *hour*
  candidate. Then, saying on Sunday 6 December 2026:
  - no date candidate: an hour, as after any date ("Senin 10" = Monday 7 December 10.00, 10 December being
    a Thursday); a number that cannot be an hour (24-31) is ``NotUnderstood("weekday_mismatch")``;
  - a date candidate and something after the number ("Selasa 15 jam 10"): the date;
  - a date candidate and a number that is no office hour (6, 18-31: "Senin 21", "Kamis 31"), or whose hour
    would fall on that same day ("Selasa 8" = 8 December, its free times then shown): the date;
  - otherwise both are sensible ("Selasa 15": Tuesday 15 December, or Tuesday 8 December 15.00; office hours
    are 1-5 read as 13-17, and 7-17): ``Ambiguous("weekday_number", (date reading, hour reading))``, and the
    caller asks ("tanggal 15 atau pukul 15.00?"). A zone typed after it ("Selasa 15 WITA") makes it the hour;
    a part of the day ("Selasa 8 pagi") makes it a time as before.
- Times: "jam/pukul/pkl 10", "10:30", "14.30", "10 pagi", "jam sepuluh", "jam sebelas siang" (number words
  satu..dua belas), "setengah 10" / "jam setengah sepuluh" (= 09.30, half an hour *before* the hour), and a
  bare hour right after a date ("besok 10"), optionally followed by a part of the day, which turns a 12-hour
  reading into 24 hours: pagi (or "dini hari") 0-11; siang 10-12 as is, 1-6 -> 13-18; sore 1-7 -> 13-19;
  malam 6-11 -> 18-23. 24-hour times that fit the part ("jam 14 siang", "19.00 malam") are kept; anything
  else is "invalid_time". Without a part of the day, hours 1-5 are afternoon ("jam 2" = 14.00: no office
  receives anyone at 02.00) unless written with a leading zero ("02.00"). A part of the day alone ("sore")
  gives ``period`` and no ``time``; "besok pagi jam 9" combines both. With ``time_expected`` (a date was
  already chosen) a bare number ("9", "10") is an hour too.
- Zones: WIB/WITA/WIT after a time mean that zone: the result is converted to the office's zone (10.00 WIT
  is 09.00 WITA) and ``zone`` names the typed zone (only when it differs from the office's). Two different
  zones are "unknown". Filler words ("pada", "nanti") are ignored.

``Ambiguous.kind`` is "minggu" (Sunday, or a week?), "weekday_number" or "weekday_depan" (with its
``readings``).
``NotUnderstood.reason`` is one of: "empty", "unknown", "invalid_date", "invalid_time", "weekday_mismatch".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

__all__ = [
    "WEEKDAY_DEPAN",
    "WEEKDAY_NUMBER",
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

    ``whole_week`` means "some day in the week starting on ``day``" ("minggu depan"), ``whole_month`` "some day
    from ``day`` on, within about a month" ("bulan depan", "sebulan lagi").
    """

    day: date
    time: time | None
    period: DayPeriod | None
    whole_week: bool = False
    zone: str | None = None  # the zone the person typed (IANA key), when it differs from the office's
    whole_month: bool = False

    @property
    def is_span(self) -> bool:
        """Not one day but days to choose from (a week, a month)."""
        return self.whole_week or self.whole_month


@dataclass(frozen=True)
class TimeOnly:
    """A time or part of the day without a date ("jam 10", "sore")."""

    time: time | None
    period: DayPeriod | None
    zone: str | None = None  # as in Understood


@dataclass(frozen=True)
class Ambiguous:
    """The text has two sensible readings; ``kind`` says which word ("minggu": Sunday or a week).

    ``readings`` lists them when they are definite ("weekday_number": the date first, then the hour).
    """

    kind: str
    readings: tuple[Understood, ...] = ()


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
    "sebelas": 11,
    "duabelas": 12,
}
_DOZEN = ("dua", "belas")  # "dua belas" = 12, in two words

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
_ZONES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
_FILLER_WORDS = frozenset({"pada", "pd", "nanti"})
_DATE_WORDS = frozenset({"tanggal", "tgl", "tg"})
_HALF = "setengah"
_SPAN_WORDS = {"seminggu": (1, "minggu"), "sepekan": (1, "minggu"), "sebulan": (1, "bulan")}
_MAX_SPAN = 12
_WEEK_WORDS = frozenset({"minggu", "pekan"})

# All patterns are anchored, bounded and free of nested quantifiers: no catastrophic backtracking.
_APOSTROPHES = re.compile(r"['`\u2018\u2019]")
_LETTER_DIGIT_BOUNDARY = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_NOT_TOKEN_CHARS = re.compile(r"[^0-9a-z./:\-]+")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/\-.])(\d{1,2})(?:\2(\d{4}|\d{2}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_NUMBER = re.compile(r"\d{1,2}")
_YEAR_NUMBER = re.compile(r"\d{4}")
_SHORT_YEAR = re.compile(r"\d{2}")
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
    whole_month: bool = False


@dataclass(frozen=True)
class _AmbiguousPart:
    kind: str
    readings: tuple[Understood, ...] = ()


@dataclass(frozen=True)
class _TimePart:
    """A time as typed: the hour is resolved against the period only at the end, after merging parts."""

    hour: int | None
    minute: int
    period: DayPeriod | None
    padded: bool = False  # written with a leading zero ("02.00"): a 24-hour time, never moved to the afternoon


_Part = _DatePart | _AmbiguousPart | _TimePart
_Match = tuple[int, _Part]  # (tokens consumed, what they mean)


def parse_when(text: str, now: datetime, tz: ZoneInfo, *, time_expected: bool = False) -> WhenResult:
    """Parse an Indonesian date and/or time typed by a person; see the module docstring for the rules.

    ``now`` must be timezone-aware; "today" is its date in ``tz`` (the office's zone), which can differ
    between WIB, WITA and WIT for the same instant. ``time_expected``: the person was asked for a time (a
    date is already chosen), so a bare number is an hour.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not text.strip():
        return NotUnderstood("empty")
    if len(text) > MAX_INPUT_CHARS:
        return NotUnderstood("unknown")
    words = _tokenize(text)
    zones = {_ZONES[word] for word in words if word in _ZONES}
    tokens = [word for word in words if word not in _ZONES]
    if not tokens or len(zones) > 1:
        return NotUnderstood("unknown")
    today = now.astimezone(tz).date()
    try:
        result = _interpret(tokens, today, time_expected)
    except _Invalid as error:
        return NotUnderstood(error.reason)
    typed = ZoneInfo(zones.pop()) if zones else None
    if typed is not None and isinstance(result, Ambiguous) and result.kind == WEEKDAY_NUMBER:
        result = result.readings[1]  # "Selasa 15 WITA": a zone goes with a time
    return _in_office_zone(result, typed, tz, today)


def _in_office_zone(result: WhenResult, typed: ZoneInfo | None, tz: ZoneInfo, today: date) -> WhenResult:
    """A time typed with another zone ("10.00 WIT" in a WITA office), converted to the office's zone.

    Zones are compared by their offset, not their name: "WIB" typed in an Asia/Pontianak office is its own zone.
    """
    if isinstance(result, Ambiguous):
        return replace(result, readings=tuple(_moved(r, typed, tz, today) for r in result.readings))
    if isinstance(result, Understood):
        return _moved(result, typed, tz, today)
    if typed is None or _same_offset(typed, tz, today) or not isinstance(result, TimeOnly) or result.time is None:
        return result
    moved = datetime.combine(today, result.time, tzinfo=typed).astimezone(tz)
    return TimeOnly(moved.time(), result.period, typed.key)


def _moved(result: Understood, typed: ZoneInfo | None, tz: ZoneInfo, today: date) -> Understood:
    if typed is None or _same_offset(typed, tz, today) or result.time is None:
        return result
    # Indonesian zones have no daylight saving time: the offset is the same on every day.
    day = today if result.is_span else result.day
    moved = datetime.combine(day, result.time, tzinfo=typed).astimezone(tz)
    return replace(result, day=result.day if result.is_span else moved.date(), time=moved.time(), zone=typed.key)


def _same_offset(typed: ZoneInfo, tz: ZoneInfo, today: date) -> bool:
    noon = datetime.combine(today, time(12))
    return typed.utcoffset(noon) == tz.utcoffset(noon)


def _tokenize(text: str) -> list[str]:
    """Lower-case words and numbers, without punctuation or fillers.

    Apostrophes go first so "Jum'at" becomes "jumat"; letters and digits stuck together ("jam10", "7juli")
    are separated; dots, colons, slashes and dashes stay inside numbers ("14.30", "7/7") but not at their
    ends ("10.").
    """
    lowered = _APOSTROPHES.sub("", text.lower())
    spaced = _NOT_TOKEN_CHARS.sub(" ", _LETTER_DIGIT_BOUNDARY.sub(" ", lowered))
    words = (word.strip("./:-") for word in spaced.split())
    return [word for word in words if word and word not in _FILLER_WORDS]


def _interpret(tokens: list[str], today: date, time_expected: bool = False) -> WhenResult:
    parts = _scan(tokens, today, time_expected)
    dates = [part for part in parts if not isinstance(part, _TimePart)]
    times = [part for part in parts if isinstance(part, _TimePart)]
    if len(dates) > 1:
        raise _Invalid("unknown")
    time_part = _merge_times(times)
    clock, period = _resolve_time(time_part) if time_part else (None, None)
    if dates and isinstance(dates[0], _AmbiguousPart):
        readings = tuple(r if r.time is not None else replace(r, time=clock, period=period) for r in dates[0].readings)
        return Ambiguous(dates[0].kind, readings)
    if not dates:
        return TimeOnly(clock, period)
    date_part = dates[0]
    assert isinstance(date_part, _DatePart)
    return Understood(date_part.day, clock, period, date_part.whole_week, whole_month=date_part.whole_month)


def _scan(tokens: list[str], today: date, time_expected: bool = False) -> list[_Part]:
    """Split the tokens into date and time parts, left to right; a token that fits nothing means "unknown"."""
    parts: list[_Part] = []
    i = 0
    while i < len(tokens):
        # A bare number is an hour when a time was asked for, or right after a date ("besok 10").
        bare_hour = time_expected or bool(parts and isinstance(parts[-1], _DatePart | _AmbiguousPart))
        match = _match_date(tokens, i, today) or _match_time(tokens, i, bare_hour)
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


def _match_span_ahead(tokens: list[str], i: int, today: date) -> _Match | None:
    """ "seminggu lagi", "2 minggu lagi", "dua pekan ke depan", "sebulan lagi", "3 bulan lagi"."""
    word = tokens[i]
    if word in _SPAN_WORDS:
        count, unit = _SPAN_WORDS[word]
        j = i + 1
    else:
        number = _small_number(word)
        unit_word = _at(tokens, i + 1)
        if number is None or unit_word not in (*_WEEK_WORDS, "bulan"):
            return None
        count, unit, j = number, "bulan" if unit_word == "bulan" else "minggu", i + 2
    tail = (_at(tokens, j), _at(tokens, j + 1))
    if tail[0] in ("lagi", "kedepan"):
        used = j + 1 - i
    elif tail == ("ke", "depan"):
        used = j + 2 - i
    else:
        return None
    if not 1 <= count <= _MAX_SPAN:
        raise _Invalid("unknown")
    if unit == "bulan":
        return used, _DatePart(_months_later(today, count), whole_month=True)
    return used, _DatePart(today + timedelta(weeks=count))


def _months_later(today: date, months: int) -> date:
    """The same day of the month ``months`` on, clamped to that month's end (31 Jan + 1 = 28/29 Feb)."""
    index = today.year * 12 + today.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(today.day, _days_in_month(year, month + 1)))


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
        return 2, _DatePart(_months_later(today.replace(day=1), 1), whole_month=True)
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
    if used == 0:
        numbered = _weekday_number(tokens, j, weekday, today)
        if numbered is not None:
            return j + 1 - i, numbered
    if word == "minggu" and not after_hari and (used == 0 or (used == 1 and weeks_ahead == 0)):
        return j + used - i, _AmbiguousPart("minggu")  # "minggu" / "minggu ini": Sunday, or this week?
    if weeks_ahead is None:
        return j - i, _DatePart(_next_weekday_after(today, weekday))
    day = _monday_of_week(today, weeks_ahead) + timedelta(days=weekday)
    if weeks_ahead == 0 and today.weekday() >= 5 and day < today:
        day += timedelta(weeks=1)  # "Senin ini" on a weekend: the week's working days are over, the coming one
    if weeks_ahead == 1 and today.weekday() >= 5 and weekday < 5:
        # "Jumat depan" on a weekend: the coming Friday (as "Jumat ini" is), or the one after it?
        readings = (Understood(day, None, None), Understood(day + timedelta(weeks=1), None, None))
        return j + used - i, _AmbiguousPart(WEEKDAY_DEPAN, readings)
    return j + used - i, _DatePart(day)


WEEKDAY_NUMBER = "weekday_number"
WEEKDAY_DEPAN = "weekday_depan"
# Hours an audience may plausibly start at, as typed without "jam" (1-5 are read as 13-17).
_OFFICE_HOURS = frozenset({*range(1, 6), *range(7, 18)})


def _weekday_number(tokens: list[str], i: int, weekday: int, today: date) -> _Part | None:
    """ "Selasa 15": the date, an hour, or both (see the module docstring); None leaves the number to the time
    matchers (an hour)."""
    word = _at(tokens, i)
    if not _DAY_NUMBER.fullmatch(word) or _period_at(tokens, i + 1)[1] is not None:
        return None
    number = int(word)
    day = _day_on_weekday(number, weekday, today)
    if day is None:
        if number > 23:
            raise _Invalid("weekday_mismatch")
        return None
    hour_day = _next_weekday_after(today, weekday)
    if i + 1 < len(tokens) or number not in _OFFICE_HOURS or hour_day == day:
        return _DatePart(day)
    clock, _period = _resolve_time(_TimePart(number, 0, None))
    return _AmbiguousPart(WEEKDAY_NUMBER, (Understood(day, None, None), Understood(hour_day, clock, None)))


def _day_on_weekday(number: int, weekday: int, today: date) -> date | None:
    """The N-th of this month (if not past) or of next month, whichever comes first on that weekday."""
    for months in (0, 1):
        first = _months_later(today.replace(day=1), months)
        if number <= _days_in_month(first.year, first.month):
            day = first.replace(day=number)
            if day >= today and day.weekday() == weekday:
                return day
    return None


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
    if word in _DATE_WORDS:  # "tanggal 7 Juli", "tgl 7/7", or a day of the month alone: "tgl 5"
        inner = _match_calendar_date(tokens, i + 1, today)
        if inner is not None:
            return inner[0] + 1, inner[1]
        number = _at(tokens, i + 1)
        return (2, _next_day_of_month(int(number), today)) if _DAY_NUMBER.fullmatch(number) else None
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
        if _SHORT_YEAR.fullmatch(year_word) and (int(year_word) >= 24 or int(year_word) == today.year % 100):
            return 3, _make_date(int(word), month, _full_year(year_word))
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


RECENT_PAST = timedelta(days=92)


def _next_occurrence(day: int, month: int, today: date) -> date:
    """The nearest date with this day and month: the last past one (up to three months back) or the next one.

    Ties and today go to the next one; 29 Feb may be up to 8 years away either way.
    """
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(2000, month):  # 2000 is a leap year
        raise _Invalid("invalid_date")
    found = [date(y, month, day) for y in range(today.year - 8, today.year + 9) if day <= _days_in_month(y, month)]
    later = [d for d in found if d >= today]
    earlier = [d for d in found if d < today]
    if not later:
        raise _Invalid("invalid_date")  # only past the year 9990
    # A date that passed lately was meant as that date (and is refused as past, by name); one that passed
    # months ago was meant for next year: people ask for audiences ahead, rarely for last spring.
    if earlier and today - earlier[-1] <= RECENT_PAST and today - earlier[-1] < later[0] - today:
        return earlier[-1]
    return later[0]


def _next_day_of_month(day: int, today: date) -> date:
    """ "tanggal 5": the next 5th, this month if it is today or later, else the next month that has it."""
    if not 1 <= day <= 31:
        raise _Invalid("invalid_date")
    for months in range(13):
        first = _months_later(today.replace(day=1), months)
        if day <= _days_in_month(first.year, first.month) and first.replace(day=day) >= today:
            return first.replace(day=day)
    raise _Invalid("invalid_date")  # pragma: no cover - every day 1..31 occurs within a year


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
    _match_span_ahead,
    _match_next_week,
    _match_next_month,
    _match_weekday,
)


# --- times


def _match_time(tokens: list[str], i: int, bare_hour: bool = False) -> _Match | None:
    """ "jam 10", "pukul 14.00", "14:30", "10 pagi", "setengah 10", "jam sebelas", each with an optional part
    of the day; or "sore". ``bare_hour``: a number alone ("10") is an hour too."""
    period_used, period = _period_at(tokens, i)
    if period is not None:
        return period_used, _TimePart(None, 0, period)
    marked = tokens[i] in _TIME_MARKERS
    start = i + 1 if marked else i
    clock = _spoken_clock(tokens, start, loose=marked)  # after "jam", "10.5" is a bad time, not another thing
    if clock is None:
        return None
    used, hour, minute, padded, kind = clock
    after_used, period = _period_at(tokens, start + used)
    # Without "jam"/"pukul", a bare number is an hour only with a part of the day ("10 pagi"), right after a
    # date or when a time was asked for; "9.30", "setengah 10" and number words read as times anyway.
    if not marked and kind != "clock" and period is None and not bare_hour:
        return None
    return start - i + used + after_used, _TimePart(hour, minute, period, padded)


def _period_at(tokens: list[str], i: int) -> tuple[int, DayPeriod | None]:
    word = _at(tokens, i)
    if word in _PERIODS:
        return 1, _PERIODS[word]
    if word == "dini" and _at(tokens, i + 1) == "hari":  # small hours: "jam 2 dini hari" = 02.00
        return 2, DayPeriod.PAGI
    return 0, None


def _spoken_clock(tokens: list[str], i: int, loose: bool) -> tuple[int, int, int, bool, str] | None:
    """(tokens used, hour, minute, zero-padded, kind) for "10", "10.30", "sepuluh", "dua belas", "setengah 10".

    kind is "clock" (with minutes or "setengah"), "number" (digits only) or "word" (a number word).
    """
    word = _at(tokens, i)
    if word == _HALF:  # "setengah sepuluh" = half past nine
        inner = _spoken_clock(tokens, i + 1, loose=False)
        if inner is None or inner[4] == "clock":
            return None
        hour = inner[1]
        return inner[0] + 1, (hour - 1 if hour > 1 else 12), 30, False, "clock"
    if (word, _at(tokens, i + 1)) == _DOZEN:
        return 2, 12, 0, False, "word"
    if word in _NUMBER_WORDS:
        return 1, _NUMBER_WORDS[word], 0, False, "word"
    strict = _CLOCK_WITH_MINUTES.fullmatch(word)
    if strict:
        return 1, int(strict[1]), int(strict[2]), strict[1].startswith("0"), "clock"
    if not loose:
        return (1, int(word), 0, False, "number") if _DAY_NUMBER.fullmatch(word) else None
    match = _CLOCK_LOOSE.fullmatch(word)
    if match is None:
        return None
    if match[2] is not None and len(match[2]) != 2:
        raise _Invalid("invalid_time")
    kind = "number" if match[2] is None else "clock"
    return 1, int(match[1]), int(match[2] or 0), match[1].startswith("0") and len(match[1]) > 1, kind


def _merge_times(parts: list[_TimePart]) -> _TimePart | None:
    """One time part, or a clock time plus a separate part of the day ("besok pagi jam 9")."""
    if len(parts) <= 1:
        return parts[0] if parts else None
    if len(parts) == 2:
        clock, period = sorted(parts, key=lambda part: part.hour is None)
        if clock.hour is not None and clock.period is None and period.hour is None:
            return _TimePart(clock.hour, clock.minute, period.period, clock.padded)
    raise _Invalid("unknown")


def _resolve_time(part: _TimePart) -> tuple[time | None, DayPeriod | None]:
    if part.hour is None:
        return None, part.period
    if not 0 <= part.minute <= 59:
        raise _Invalid("invalid_time")
    if part.period is None:
        hour: int | None = part.hour if 0 <= part.hour <= 23 else None
        if hour is not None and 1 <= hour <= 5 and not part.padded:
            hour += 12  # "jam 2" is 14.00: no office receives anyone at night (the echo lets people correct it)
    else:
        hour = _PERIOD_HOURS[part.period].get(part.hour)
    if hour is None:
        raise _Invalid("invalid_time")
    return time(hour, part.minute), None
