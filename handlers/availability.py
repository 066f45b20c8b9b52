"""When an official can receive an audience: a pure calculator over working hours, holidays and bookings.

Everything here is a function of its arguments (rules, approved audiences, staff days off, a holiday
calendar and the current instant): no database, no clock, no I/O, so the same answer comes out in a test,
in a chat flow and in the storage layer's double-booking guard.

Rules, as implemented (the docstrings below refer back to these):

* Local day. Every "day" is a calendar day in ``rules.tz`` (WIB, WITA or WIT). Busy intervals and ``now``
  may be in any zone; they are compared as instants and placed on the official's local calendar.
* Working day. A day whose weekday has working windows and which is neither a holiday (national holiday or
  cuti bersama) nor a staff day off. A staff opening (``DayOff(opens=True)``) makes a holiday of the package a
  working day again (a changed decree, a wrong estimate); it never adds hours to a weekend and never undoes a
  staff day off (staff remove that instead).
* Minimum notice ("paling lambat N hari kerja sebelumnya"). With ``N = min_notice_working_days``, a request
  is received on its *receipt day*: today (local) when today is a working day, whatever the hour, else the
  next working day (a request made on a Saturday, a Sunday or a holiday is read on the next working day).
  We count the working days strictly after the receipt day; the earliest start is the beginning (local
  midnight) of the N-th of them — so the receipt day and the N - 1 working days after it lie between the
  request and the audience. Asked on Thursday with N = 2: Friday is the first, Monday the second (Tuesday if
  Monday is a holiday). Asked on Friday: Tuesday. Asked on Saturday or Sunday: received on Monday, so
  Wednesday — a day later than a Friday request, as the weekend gives no notice. With N = 0 the earliest start
  is ``now`` itself. Whatever N is, nothing before ``now`` is ever offered.
* Horizon. A slot's local day must be at most ``today + horizon_days`` (calendar days); any time of that last
  day is still allowed.
* Buffer. A slot ``[s, s + slot)`` is clear of a busy interval ``b`` when ``s >= b.end + buffer`` or
  ``s + slot + buffer <= b.start``.
* Daily limit. A day is full when at least ``max_per_day`` busy intervals *start* on that local day.
* Grid. Offered start times are ``window.start + k * slot_step_minutes`` with the slot ending inside the same
  window. :func:`check_slot` does not require grid alignment: staff may propose 10.15, and it is judged on the
  same rules otherwise.

Indonesian zones have no daylight saving time, so a step along a working window is the same in wall-clock
and in elapsed time; the grid is walked in UTC, where comparisons are cheapest.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from holidays.constants import GOVERNMENT, PUBLIC

__all__ = [
    "DEFAULT_WEEKLY_HOURS",
    "WIB",
    "WIT",
    "WITA",
    "Busy",
    "CalendarRules",
    "DayOff",
    "HolidayCalendar",
    "HolidayLookup",
    "RefusalReason",
    "SlotCheck",
    "SlotFree",
    "SlotRefused",
    "WorkingWindow",
    "check_slot",
    "free_days",
    "free_slots",
    "nearest_free",
    "overlaps_with_buffer",
]

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")


# --------------------------------------------------------------------------------------------- domain


@dataclass(frozen=True, slots=True)
class WorkingWindow:
    """A stretch of working time within one day, ``[start, end)`` in the official's local time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        # Windows crossing midnight do not occur in a government office; refusing them keeps day maths simple.
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working window times are local wall-clock times and must be naive")
        if not self.start < self.end:
            raise ValueError(f"working window must end after it starts: {self.start}–{self.end}")


def _window(start: str, end: str) -> WorkingWindow:
    return WorkingWindow(time.fromisoformat(start), time.fromisoformat(end))


_MON_THU = (_window("08:00", "16:00"),)
# Friday breaks for Friday prayer (salat Jumat) between 11.00 and 13.30.
_FRIDAY = (_window("08:00", "11:00"), _window("13:30", "16:00"))

DEFAULT_WEEKLY_HOURS: Mapping[int, tuple[WorkingWindow, ...]] = MappingProxyType(
    {0: _MON_THU, 1: _MON_THU, 2: _MON_THU, 3: _MON_THU, 4: _FRIDAY, 5: (), 6: ()}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarRules:
    """How one official's calendar may be booked. See the module docstring for the exact rules."""

    tz: ZoneInfo
    weekly_hours: Mapping[int, tuple[WorkingWindow, ...]] = field(default_factory=lambda: DEFAULT_WEEKLY_HOURS)
    slot_minutes: int = 60
    buffer_minutes: int = 30
    max_per_day: int | None = 4
    min_notice_working_days: int = 2
    horizon_days: int = 60
    slot_step_minutes: int = 30

    def __post_init__(self) -> None:
        _require(self.slot_minutes > 0, "slot_minutes must be positive")
        _require(self.slot_step_minutes > 0, "slot_step_minutes must be positive")
        _require(self.buffer_minutes >= 0, "buffer_minutes must not be negative")
        _require(self.max_per_day is None or self.max_per_day >= 1, "max_per_day must be at least 1 or None")
        _require(self.min_notice_working_days >= 0, "min_notice_working_days must not be negative")
        _require(self.horizon_days >= 0, "horizon_days must not be negative")
        # A read-only copy: validated once, so a caller mutating its own dict later cannot undo the checks.
        object.__setattr__(self, "weekly_hours", MappingProxyType(dict(self.weekly_hours)))
        for weekday, windows in self.weekly_hours.items():
            _require(0 <= weekday <= 6, f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
            # Sorted, non-overlapping windows guarantee that offered slots come out strictly increasing.
            for earlier, later in itertools.pairwise(windows):
                _require(earlier.end <= later.start, f"windows of weekday {weekday} overlap or are unsorted")

    @classmethod
    def default(cls, tz: ZoneInfo) -> CalendarRules:
        """Standard government office hours and booking rules in the given zone."""
        return cls(tz=tz)

    def windows_on(self, day: date) -> tuple[WorkingWindow, ...]:
        return self.weekly_hours.get(day.weekday(), ())

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.slot_step_minutes)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class Busy:
    """An approved audience occupying ``[start, end)``; aware datetimes in any zone."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("busy intervals need timezone-aware datetimes")
        if not self.start < self.end:
            raise ValueError("a busy interval must end after it starts")


@dataclass(frozen=True, slots=True)
class DayOff:
    """A local day staff blocked (regional holiday, official out of town); ``reason`` is shown to people.

    ``opens``: the opposite, a holiday of the `holidays` package that is a working day after all.
    """

    day: date
    reason: str
    opens: bool = False


class RefusalReason(enum.Enum):
    PAST = "past"
    TOO_SOON = "too_soon"
    BEYOND_HORIZON = "beyond_horizon"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    DAY_OFF = "day_off"
    OUTSIDE_HOURS = "outside_hours"
    TAKEN = "taken"
    TOO_CLOSE = "too_close"  # clear of every audience, but inside the buffer kept before or after one
    DAY_FULL = "day_full"


@dataclass(frozen=True, slots=True)
class SlotFree:
    pass


@dataclass(frozen=True, slots=True)
class SlotRefused:
    """Why a start time cannot be booked.

    ``detail`` is the holiday's name (HOLIDAY), the staff's reason (DAY_OFF), the earliest allowed local day
    as an ISO date (TOO_SOON) or the last allowed local day as an ISO date (BEYOND_HORIZON); otherwise None.
    """

    reason: RefusalReason
    detail: str | None = None


SlotCheck = SlotFree | SlotRefused


# ------------------------------------------------------------------------------------------- holidays


class HolidayLookup(Protocol):
    def name(self, day: date) -> str | None: ...


class HolidayCalendar:
    """Indonesian national holidays and cuti bersama, by name, loaded one year at a time on first lookup.

    Backed by the ``holidays`` package, country ID, categories PUBLIC (hari libur nasional) and GOVERNMENT
    (cuti bersama), in Indonesian. A calendar built with :meth:`from_mapping` knows only the given days.
    """

    def __init__(self, *, language: str = "id", fixed: Mapping[date, str] | None = None) -> None:
        self._language = language
        self._fixed = dict(fixed) if fixed is not None else None
        self._years: dict[int, dict[date, str]] = {}

    @classmethod
    def indonesia(cls, language: str = "id") -> HolidayCalendar:
        return cls(language=language)

    @classmethod
    def from_mapping(cls, names: Mapping[date, str]) -> HolidayCalendar:
        return cls(fixed=names)

    def name(self, day: date) -> str | None:
        if self._fixed is not None:
            return self._fixed.get(day)
        return self._year(day.year).get(day)

    def _year(self, year: int) -> dict[date, str]:
        # A plain dict per year: lookups in the availability loop stay cheap, and the package's own lazy
        # expansion (which mutates the object on a read) never happens behind our back.
        if year not in self._years:
            loaded = holidays_lib.country_holidays(
                "ID", years=year, categories=(PUBLIC, GOVERNMENT), language=self._language
            )
            # Two holidays on one day come back as one name joined with "; " — fine to show as is.
            self._years[year] = {day: str(name) for day, name in loaded.items()}
        return self._years[year]


# ------------------------------------------------------------------------------------------ buffers


def overlaps_with_buffer(
    a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime, buffer: timedelta
) -> bool:
    """True when ``[a_start, a_end)`` and ``[b_start, b_end)`` are closer than ``buffer`` (or overlap).

    Symmetric. They are clear of each other when ``a_start >= b_end + buffer`` or
    ``a_end + buffer <= b_start``.
    """
    return a_start < b_end + buffer and b_start < a_end + buffer


class _BusyIndex:
    """Approved audiences, merged and sorted, so a conflict check is one bisect instead of a scan.

    Merging overlapping or touching intervals keeps the answer exact: a slot is within the buffer of the
    union iff it is within the buffer of one of its members, and after merging starts and ends both strictly
    increase.
    """

    def __init__(self, busy: Iterable[Busy], tz: ZoneInfo) -> None:
        intervals = sorted((b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in busy)
        starts: list[datetime] = []
        ends: list[datetime] = []
        for start, end in intervals:
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        self._starts = starts
        self._ends = ends
        self.per_day: Counter[date] = Counter(start.astimezone(tz).date() for start, _ in intervals)

    def conflict_end(self, start: datetime, end: datetime, buffer: timedelta) -> datetime | None:
        """End of the merged busy interval too close to ``[start, end)``, or None when clear.

        ``start`` and ``end`` must be in UTC: datetimes sharing one tzinfo compare without offset lookups,
        which is what keeps the bisect cheap.
        """
        # The first merged interval that ends after start - buffer is the only one that can be too close
        # without an earlier one being so too.
        i = bisect.bisect_right(self._ends, start - buffer)
        if i < len(self._starts) and self._starts[i] < end + buffer:
            return self._ends[i]
        return None


# ------------------------------------------------------------------------------------------ context


@dataclass(frozen=True, slots=True)
class _Context:
    """Everything one question needs, computed once: indexed bookings and the notice and horizon bounds."""

    rules: CalendarRules
    index: _BusyIndex
    days_off: Mapping[date, str]
    opened: frozenset[date]  # package holidays staff opened again
    holidays: HolidayLookup
    now: datetime  # in UTC, like every instant the index compares
    first_day: date  # earliest local day allowed by the minimum notice
    last_day: date  # last local day inside the horizon
    slot: timedelta
    step: timedelta
    buffer: timedelta


def _context(
    rules: CalendarRules,
    busy: Iterable[Busy],
    days_off: Iterable[DayOff],
    holidays: HolidayLookup,
    now: datetime,
) -> _Context:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    offs: dict[date, str] = {}
    opened: set[date] = set()
    for off in days_off:
        if off.opens:
            opened.add(off.day)
        else:
            offs.setdefault(off.day, off.reason)  # the first reason staff gave for a day wins
    today = now.astimezone(rules.tz).date()
    last_day = today + timedelta(days=rules.horizon_days)
    ctx = _Context(
        rules=rules,
        index=_BusyIndex(busy, rules.tz),
        days_off=offs,
        opened=frozenset(opened),
        holidays=holidays,
        now=now.astimezone(UTC),
        first_day=today,
        last_day=last_day,
        slot=rules.slot,
        step=rules.step,
        buffer=rules.buffer,
    )
    # The notice bound needs the day closures (holidays, days off), hence the two steps.
    return replace(ctx, first_day=_nth_working_day_after(ctx, today, rules.min_notice_working_days))


def _day_closure(ctx: _Context, day: date) -> SlotRefused | None:
    """Why nothing at all can be booked on ``day`` (weekday, holiday, staff day off), or None."""
    if not ctx.rules.windows_on(day):
        return SlotRefused(RefusalReason.WEEKEND)
    holiday = ctx.holidays.name(day) if day not in ctx.opened else None
    if holiday is not None:
        return SlotRefused(RefusalReason.HOLIDAY, holiday)
    if day in ctx.days_off:
        return SlotRefused(RefusalReason.DAY_OFF, ctx.days_off[day])
    return None


def _is_full(ctx: _Context, day: date) -> bool:
    limit = ctx.rules.max_per_day
    return limit is not None and ctx.index.per_day[day] >= limit


def _nth_working_day_after(ctx: _Context, today: date, n: int) -> date:
    """The N-th working day after the receipt day (today, or the next working day when today is not one)."""
    day, found = today, 0
    if n > 0:
        while _day_closure(ctx, day) is not None:  # asked on a weekend or holiday: received on the next working day
            day += timedelta(days=1)
            if day > ctx.last_day:
                return ctx.last_day + timedelta(days=1)
    while found < n:
        day += timedelta(days=1)
        if day > ctx.last_day:
            # No n-th working day inside the horizon: the day after it is as good as "never".
            return ctx.last_day + timedelta(days=1)
        if _day_closure(ctx, day) is None:
            found += 1
    return day


# --------------------------------------------------------------------------------------- candidates


def _grid_index_at_or_after(origin: datetime, moment: datetime, step: timedelta) -> int:
    """The smallest k >= 0 with origin + k * step >= moment (ceiling division, exact on timedeltas)."""
    return max(0, -((origin - moment) // step))


def _free_in_window(ctx: _Context, day: date, window: WorkingWindow) -> Iterator[datetime]:
    """Free grid starts inside one window of an open day, in order (the day itself is already checked)."""
    tz, slot, step, buffer = ctx.rules.tz, ctx.slot, ctx.step, ctx.buffer
    # Walk the grid in UTC: within one working window a wall-clock step and an elapsed step are the same.
    origin = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
    last_start = datetime.combine(day, window.end, tzinfo=tz).astimezone(UTC) - slot
    k = _grid_index_at_or_after(origin, ctx.now, step)
    while (start := origin + k * step) <= last_start:
        blocked_until = ctx.index.conflict_end(start, start + slot, buffer)
        if blocked_until is None:
            yield start.astimezone(tz)
            k += 1
        else:
            # Jump straight past the conflicting booking and its buffer instead of trying every grid point.
            k = max(k + 1, _grid_index_at_or_after(origin, blocked_until + buffer, step))


def _free_on_day(ctx: _Context, day: date) -> Iterator[datetime]:
    if day < ctx.first_day or day > ctx.last_day:
        return
    if _day_closure(ctx, day) is not None or _is_full(ctx, day):
        return
    for window in ctx.rules.windows_on(day):
        yield from _free_in_window(ctx, day, window)


def _days_from(ctx: _Context, start_day: date | None) -> Iterator[date]:
    day = ctx.first_day if start_day is None else max(ctx.first_day, start_day)
    while day <= ctx.last_day:
        yield day
        day += timedelta(days=1)


# ------------------------------------------------------------------------------------------ queries


def free_slots(
    rules: CalendarRules,
    busy: Iterable[Busy],
    days_off: Iterable[DayOff],
    holidays: HolidayLookup,
    now: datetime,
    *,
    limit: int = 10,
    start_day: date | None = None,
) -> list[datetime]:
    """The first ``limit`` free start times (aware, in ``rules.tz``), in chronological order.

    Starts at the later of the minimum notice and ``start_day`` (a local day) and stops at the horizon.
    """
    ctx = _context(rules, busy, days_off, holidays, now)
    slots = itertools.chain.from_iterable(_free_on_day(ctx, day) for day in _days_from(ctx, start_day))
    return list(itertools.islice(slots, max(limit, 0)))


def free_days(
    rules: CalendarRules,
    busy: Iterable[Busy],
    days_off: Iterable[DayOff],
    holidays: HolidayLookup,
    now: datetime,
    *,
    limit: int = 5,
    start_day: date | None = None,
) -> list[date]:
    """The next ``limit`` local days with at least one free slot."""
    ctx = _context(rules, busy, days_off, holidays, now)
    open_days = (day for day in _days_from(ctx, start_day) if next(_free_on_day(ctx, day), None) is not None)
    return list(itertools.islice(open_days, max(limit, 0)))


def check_slot(
    rules: CalendarRules,
    busy: Iterable[Busy],
    days_off: Iterable[DayOff],
    holidays: HolidayLookup,
    now: datetime,
    start: datetime,
) -> SlotCheck:
    """Whether ``start`` can be booked, and if not, the most useful reason to give a person.

    Reasons that rule out the most nearby alternatives come first, so the person's next try is not refused
    for a reason we already knew: PAST, TOO_SOON, BEYOND_HORIZON (the bookable period), then WEEKEND, HOLIDAY,
    DAY_OFF, DAY_FULL (the whole day), then OUTSIDE_HOURS, TAKEN (overlapping an audience) or TOO_CLOSE (only
    inside the buffer kept around one) — this time only.
    """
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    ctx = _context(rules, busy, days_off, holidays, now)
    local = start.astimezone(rules.tz)
    day = local.date()
    refusal = _period_refusal(ctx, local) or _day_closure(ctx, day)
    if refusal is not None:
        return refusal
    if _is_full(ctx, day):
        return SlotRefused(RefusalReason.DAY_FULL)
    if not _inside_a_window(rules, local):
        return SlotRefused(RefusalReason.OUTSIDE_HOURS)
    as_utc = local.astimezone(UTC)
    if ctx.index.conflict_end(as_utc, as_utc + ctx.slot, ctx.buffer) is not None:
        overlaps = ctx.index.conflict_end(as_utc, as_utc + ctx.slot, timedelta(0)) is not None
        return SlotRefused(RefusalReason.TAKEN if overlaps else RefusalReason.TOO_CLOSE)
    return SlotFree()


def _period_refusal(ctx: _Context, local: datetime) -> SlotRefused | None:
    if local < ctx.now:
        return SlotRefused(RefusalReason.PAST)
    if local.date() < ctx.first_day:
        return SlotRefused(RefusalReason.TOO_SOON, ctx.first_day.isoformat())
    if local.date() > ctx.last_day:
        return SlotRefused(RefusalReason.BEYOND_HORIZON, ctx.last_day.isoformat())
    return None


def _inside_a_window(rules: CalendarRules, local: datetime) -> bool:
    naive = local.replace(tzinfo=None)
    day = naive.date()
    return any(
        datetime.combine(day, w.start) <= naive and naive + rules.slot <= datetime.combine(day, w.end)
        for w in rules.windows_on(day)
    )


def nearest_free(
    rules: CalendarRules,
    busy: Iterable[Busy],
    days_off: Iterable[DayOff],
    holidays: HolidayLookup,
    now: datetime,
    around: datetime,
    *,
    limit: int = 3,
) -> list[datetime]:
    """Free slots to offer instead of ``around``: that local day's closest first, then the following days."""
    if around.utcoffset() is None:
        raise ValueError("around must be timezone-aware")
    ctx = _context(rules, busy, days_off, holidays, now)
    day = around.astimezone(rules.tz).date()
    # Closest first; on a tie the earlier time, which is how people read a list of options.
    same_day = sorted(_free_on_day(ctx, day), key=lambda s: (abs(s - around), s))
    later = itertools.chain.from_iterable(_free_on_day(ctx, d) for d in _days_from(ctx, day + timedelta(days=1)))
    return list(itertools.islice(itertools.chain(same_day, later), max(limit, 0)))
