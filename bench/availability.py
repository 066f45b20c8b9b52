"""Benchmark: free_slots(limit=10) for an official with 1,000 approved audiences.

Run with ``.venv/bin/python bench/availability.py``.

The calendar is built so the search has to work: the first 200 working days after the minimum notice are
packed (four audiences a day, spaced so no further slot fits between them and their buffers), then 200 more
working days hold one audience each. The first free slots are therefore about 200 working days out, and every
grid point before them must be rejected. Two rule sets are timed: the default (at most 4 a day, so packed days
are rejected by their count) and no daily limit (every candidate is rejected by the buffer check against the
bookings index), with the horizon widened to 600 days so all bookings lie inside it.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time as clock
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import holidays as holidays_lib

from handlers.availability import (
    WIB,
    Busy,
    CalendarRules,
    HolidayCalendar,
    free_slots,
)

RUNS = 200
NOW = datetime(2026, 8, 10, 9, 0, tzinfo=WIB)  # a Monday
DENSE_DAYS = 200
SPARSE_DAYS = 200

# Four one-hour audiences a day with less than slot + 2 x buffer between them: nothing else fits that day.
PACKED = {
    "mon-thu": (time(8, 0), time(10, 0), time(12, 30), time(14, 30)),
    "fri": (time(8, 0), time(10, 0), time(13, 30), time(15, 0)),
}


def working_days(rules: CalendarRules, calendar: HolidayCalendar, first: date) -> Iterator[date]:
    day = first
    while True:
        if rules.windows_on(day) and calendar.name(day) is None:
            yield day
        day += timedelta(days=1)


def audiences(rules: CalendarRules, calendar: HolidayCalendar) -> list[Busy]:
    days = working_days(rules, calendar, NOW.date() + timedelta(days=1))
    booked: list[Busy] = []
    for _ in range(DENSE_DAYS):
        day = next(days)
        for start in PACKED["fri" if day.weekday() == 4 else "mon-thu"]:
            booked.append(one_hour(day, start))
    for _ in range(SPARSE_DAYS):
        booked.append(one_hour(next(days), time(10, 0)))
    return booked


def one_hour(day: date, start: time) -> Busy:
    begin = datetime.combine(day, start, tzinfo=WIB)
    return Busy(begin, begin + timedelta(hours=1))


def timings_ms(rules: CalendarRules, booked: list[Busy], calendar: HolidayCalendar) -> list[float]:
    free_slots(rules, booked, [], calendar, NOW, limit=10)  # warm-up: loads the holiday years once
    samples = []
    for _ in range(RUNS):
        started = clock.perf_counter()
        free_slots(rules, booked, [], calendar, NOW, limit=10)
        samples.append((clock.perf_counter() - started) * 1000)
    return samples


def report(label: str, rules: CalendarRules, booked: list[Busy], calendar: HolidayCalendar) -> None:
    slots = free_slots(rules, booked, [], calendar, NOW, limit=10)
    samples = timings_ms(rules, booked, calendar)
    p99 = statistics.quantiles(samples, n=100)[98]
    print(f"{label}: first free slot {slots[0]:%Y-%m-%d %H:%M %Z}, {len(slots)} slots returned")
    print(
        f"  free_slots(limit=10) over {RUNS} runs: mean {statistics.fmean(samples):.3f} ms, "
        f"p50 {statistics.median(samples):.3f} ms, p99 {p99:.3f} ms"
    )


def main() -> None:
    calendar = HolidayCalendar.indonesia()
    default = CalendarRules(tz=WIB, horizon_days=600)
    unlimited = CalendarRules(tz=WIB, horizon_days=600, max_per_day=None)
    booked = audiences(default, calendar)
    python = f"Python {platform.python_version()} ({platform.python_implementation()})"
    print(f"{python}, holidays {holidays_lib.__version__}")
    print(f"{len(booked)} approved audiences from {booked[0].start:%Y-%m-%d} to {booked[-1].start:%Y-%m-%d}")
    report("max_per_day=4 (default)", default, booked, calendar)
    report("max_per_day=None", unlimited, booked, calendar)


if __name__ == "__main__":
    main()
