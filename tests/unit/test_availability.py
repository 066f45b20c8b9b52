"""Availability calculator: worked examples on the 2026 calendar, then properties over random calendars."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.availability import (
    DEFAULT_WEEKLY_HOURS,
    WIB,
    WIT,
    WITA,
    Busy,
    CalendarRules,
    DayOff,
    HolidayCalendar,
    RefusalReason,
    SlotCheck,
    SlotFree,
    SlotRefused,
    WorkingWindow,
    check_slot,
    free_days,
    free_slots,
    nearest_free,
    overlaps_with_buffer,
)

# Monday 10 August 2026, 09.00 WIB: Hari Kemerdekaan (Monday 17 August) is a week away, inside the horizon.
NOW = datetime(2026, 8, 10, 9, 0, tzinfo=WIB)
RULES = CalendarRules.default(WIB)
ID_HOLIDAYS = HolidayCalendar.indonesia()
NO_HOLIDAYS = HolidayCalendar.from_mapping({})


def wib(day: int, hour: int, minute: int = 0, month: int = 8) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def busy(start: datetime, minutes: int = 60) -> Busy:
    return Busy(start, start + timedelta(minutes=minutes))


def times(slots: Iterable[datetime]) -> list[str]:
    return [s.strftime("%a %d %H:%M") for s in slots]


def refused(reason: RefusalReason, detail: str | None = None) -> SlotRefused:
    return SlotRefused(reason, detail)


def check(
    start: datetime,
    taken: Sequence[Busy] = (),
    off: Sequence[DayOff] = (),
    *,
    rules: CalendarRules = RULES,
    now: datetime = NOW,
) -> SlotCheck:
    """check_slot on the real Indonesian calendar, with the fixed now and default WIB rules unless told."""
    return check_slot(rules, taken, off, ID_HOLIDAYS, now, start)


OUTSIDE_HOURS = refused(RefusalReason.OUTSIDE_HOURS)
TAKEN = refused(RefusalReason.TAKEN)


# ------------------------------------------------------------------------------------------ holidays


def test_holiday_calendar_gives_indonesian_names_for_public_holidays_and_cuti_bersama() -> None:
    assert ID_HOLIDAYS.name(date(2026, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"
    assert ID_HOLIDAYS.name(date(2026, 12, 24)) == "Cuti Bersama Hari Raya Natal"  # GOVERNMENT category
    assert ID_HOLIDAYS.name(date(2026, 8, 18)) is None


def test_holiday_calendar_loads_any_year_on_demand() -> None:
    calendar = HolidayCalendar.indonesia()
    assert calendar.name(date(2031, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"
    assert calendar.name(date(2025, 1, 1)) == "Tahun Baru Masehi"


def test_holiday_calendar_from_a_mapping_knows_only_those_days() -> None:
    calendar = HolidayCalendar.from_mapping({date(2026, 8, 12): "Hari Jadi Kota"})
    assert calendar.name(date(2026, 8, 12)) == "Hari Jadi Kota"
    assert calendar.name(date(2026, 8, 17)) is None


# ------------------------------------------------------------------------------------- working hours


def test_friday_prayer_gap_is_never_offered() -> None:
    friday = free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=20, start_day=date(2026, 8, 14))
    assert times(s for s in friday if s.date() == date(2026, 8, 14)) == [
        "Fri 14 08:00", "Fri 14 08:30", "Fri 14 09:00", "Fri 14 09:30", "Fri 14 10:00",
        "Fri 14 13:30", "Fri 14 14:00", "Fri 14 14:30", "Fri 14 15:00",
    ]  # fmt: skip
    assert check(wib(14, 11, 30)) == OUTSIDE_HOURS


def test_monday_to_thursday_run_from_eight_to_four() -> None:
    wednesday = free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=15)
    assert times(wednesday) == [f"Wed 12 {h:02d}:{m:02d}" for h in range(8, 16) for m in (0, 30)][:15]
    assert wednesday[-1] == wib(12, 15, 0)  # the last one ends exactly at 16.00


def test_a_slot_straddling_the_end_of_a_window_is_refused() -> None:
    assert check(wib(13, 15, 30)) == OUTSIDE_HOURS
    assert check(wib(14, 10, 30)) == OUTSIDE_HOURS
    assert check(wib(13, 7, 30)) == OUTSIDE_HOURS
    assert check(wib(13, 15, 0)) == SlotFree()


def test_off_grid_start_inside_hours_is_accepted() -> None:
    assert check(wib(13, 10, 15)) == SlotFree()


def test_weekends_are_never_offered() -> None:
    days = free_days(RULES, [], [], ID_HOLIDAYS, NOW, limit=10)
    assert all(d.weekday() < 5 for d in days)
    assert days[:4] == [date(2026, 8, 12), date(2026, 8, 13), date(2026, 8, 14), date(2026, 8, 18)]
    assert check(wib(15, 9)) == refused(RefusalReason.WEEKEND)


# --------------------------------------------------------------------------------- holidays, days off


def test_independence_day_is_refused_with_its_indonesian_name() -> None:
    result = check(wib(17, 9))
    assert result == refused(RefusalReason.HOLIDAY, "Hari Kemerdekaan Republik Indonesia")
    assert all(s.date() != date(2026, 8, 17) for s in free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=60))


def test_cuti_bersama_is_refused() -> None:
    december = datetime(2026, 12, 1, 9, tzinfo=WIB)
    result = check(wib(24, 9, month=12), now=december)
    assert result == refused(RefusalReason.HOLIDAY, "Cuti Bersama Hari Raya Natal")


def test_staff_day_off_is_refused_with_its_reason() -> None:
    off = [DayOff(date(2026, 8, 13), "Wali Kota dinas luar kota")]
    assert check(wib(13, 9), [], off) == refused(RefusalReason.DAY_OFF, "Wali Kota dinas luar kota")
    assert date(2026, 8, 13) not in free_days(RULES, [], off, ID_HOLIDAYS, NOW, limit=5)


def test_staff_can_open_a_holiday_of_the_package_as_a_working_day() -> None:
    december = datetime(2026, 12, 1, 9, tzinfo=WIB)
    opened = [DayOff(date(2026, 12, 24), "SKB: cuti bersama dipindahkan", opens=True)]
    assert check(wib(24, 9, month=12), [], opened, now=december) == SlotFree()
    assert date(2026, 12, 24) in free_days(RULES, [], opened, ID_HOLIDAYS, december, limit=20)
    assert free_slots(RULES, [], opened, ID_HOLIDAYS, december, limit=1, start_day=date(2026, 12, 24)) == [
        wib(24, 8, month=12)
    ]
    # The day it opens counts for the minimum notice like any working day.
    wednesday = datetime(2026, 12, 23, 9, tzinfo=WIB)  # Thu 24 (opened) and Mon 28 are the two working days
    assert free_slots(RULES, [], opened, ID_HOLIDAYS, wednesday, limit=1) == [wib(28, 8, month=12)]
    # Christmas itself stays closed, and an opening never adds hours to a weekend nor undoes a staff day off.
    assert check(wib(25, 9, month=12), [], opened, now=december) == refused(RefusalReason.HOLIDAY, "Hari Raya Natal")
    weekend = [DayOff(date(2026, 12, 26), "Salah input", opens=True)]
    assert check(wib(26, 9, month=12), [], weekend, now=december) == refused(RefusalReason.WEEKEND)
    both = [*opened, DayOff(date(2026, 12, 24), "Wali Kota dinas luar kota")]
    assert check(wib(24, 9, month=12), [], both, now=december) == refused(RefusalReason.DAY_OFF,
                                                                          "Wali Kota dinas luar kota")  # fmt: skip


def test_holiday_is_reported_before_outside_hours() -> None:
    assert check(wib(17, 20)) == refused(RefusalReason.HOLIDAY, "Hari Kemerdekaan Republik Indonesia")


# ------------------------------------------------------------------------------- notice and horizon


def test_minimum_notice_is_two_working_days() -> None:
    assert free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=1) == [wib(12, 8)]
    assert check(wib(11, 9)) == refused(RefusalReason.TOO_SOON, "2026-08-12")


def test_minimum_notice_skips_the_weekend_and_a_holiday() -> None:
    thursday = wib(13, 9)  # Friday 14 counts; Sat, Sun and Monday 17 August do not; Tuesday 18 is the second
    assert free_slots(RULES, [], [], ID_HOLIDAYS, thursday, limit=1) == [wib(18, 8)]
    assert check(wib(14, 9), now=thursday) == refused(RefusalReason.TOO_SOON, "2026-08-18")


@pytest.mark.parametrize(
    ("asked", "first"),
    [
        (wib(13, 9), wib(18, 8)),  # Thursday 13: Friday 14 is the first working day after it, Tuesday 18 the second
        (wib(14, 9), wib(19, 8)),  # Friday 14 (a working day, received that day): Tuesday 18, then Wednesday 19
        (wib(14, 20), wib(19, 8)),  # the same after office hours: a working day counts whatever the hour
        (wib(15, 9), wib(20, 8)),  # Saturday 15: received on Tuesday 18 (Monday 17 is Independence Day)
        (wib(16, 9), wib(20, 8)),  # Sunday 16: likewise
        (wib(17, 9), wib(20, 8)),  # Monday 17, a holiday: likewise
        (wib(18, 9), wib(20, 8)),  # Tuesday 18: Wednesday 19, Thursday 20
        (wib(9, 9), wib(12, 8)),  # Sunday 9: received on Monday 10, so Wednesday 12 (not Tuesday 11)
        (wib(6, 9, month=12), wib(9, 8, month=12)),  # Sunday 6 December: Wednesday 9 (not Tuesday 8)
        (wib(24, 9, month=12), wib(30, 8, month=12)),  # Thu 24 (cuti bersama), Fri 25 (Christmas): Mon 28 is received
    ],
)
def test_a_request_made_on_a_day_off_counts_its_notice_from_the_next_working_day(
    asked: datetime, first: datetime
) -> None:
    assert free_slots(RULES, [], [], ID_HOLIDAYS, asked, limit=1) == [first]
    day_before = first - timedelta(days=1)
    if day_before.weekday() < 5:
        assert check(day_before, now=asked) == refused(RefusalReason.TOO_SOON, first.date().isoformat())


def test_minimum_notice_skips_staff_days_off() -> None:
    off = [DayOff(date(2026, 8, 11), "Rapat paripurna DPRD")]
    assert free_slots(RULES, [], off, ID_HOLIDAYS, NOW, limit=1) == [wib(13, 8)]


def test_without_notice_the_rest_of_today_is_offered_but_not_the_past() -> None:
    rules = CalendarRules(tz=WIB, min_notice_working_days=0)
    now = wib(10, 9, 10)
    assert free_slots(rules, [], [], ID_HOLIDAYS, now, limit=1) == [wib(10, 9, 30)]
    assert check(now, rules=rules, now=now) == SlotFree()
    assert check(now - timedelta(microseconds=1), rules=rules, now=now) == refused(RefusalReason.PAST)


def test_refusals_name_the_reason_that_rules_out_the_most_alternatives_first() -> None:
    full_wednesday = [busy(wib(12, h, m)) for h, m in ((8, 0), (9, 30), (11, 0), (12, 30))]
    assert check(wib(8, 9)) == refused(RefusalReason.PAST)  # a Saturday, but in the past
    assert check(wib(11, 20)) == refused(RefusalReason.TOO_SOON, "2026-08-12")  # before outside hours
    assert check(wib(15, 9), now=wib(13, 9)) == refused(RefusalReason.TOO_SOON, "2026-08-18")  # before weekend
    assert check(wib(12, 20), full_wednesday) == refused(RefusalReason.DAY_FULL)  # before outside hours
    assert check(wib(12, 8), full_wednesday) == refused(RefusalReason.DAY_FULL)  # before taken


def test_horizon_is_today_plus_sixty_local_days() -> None:
    last_day = date(2026, 10, 9)  # 10 August + 60 days, a Friday
    all_slots = free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=10_000)
    assert all_slots[-1] == datetime(2026, 10, 9, 15, 0, tzinfo=WIB)
    assert check(wib(9, 15, month=10)) == SlotFree()
    assert check(wib(12, 8, month=10)) == refused(RefusalReason.BEYOND_HORIZON, last_day.isoformat())


def test_start_day_moves_the_search_forward_but_never_before_the_notice() -> None:
    assert free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=1, start_day=date(2026, 8, 20)) == [wib(20, 8)]
    assert free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=1, start_day=date(2026, 8, 1)) == [wib(12, 8)]


def test_limit_zero_gives_nothing() -> None:
    assert free_slots(RULES, [], [], ID_HOLIDAYS, NOW, limit=0) == []
    assert free_days(RULES, [], [], ID_HOLIDAYS, NOW, limit=0) == []


# ---------------------------------------------------------------------------------- buffers, limits


def test_buffer_applies_on_both_sides_of_an_audience() -> None:
    taken = [busy(wib(12, 10))]  # 10.00–11.00, buffer 30 minutes
    assert times(free_slots(RULES, taken, [], ID_HOLIDAYS, NOW, limit=4)) == [
        "Wed 12 08:00", "Wed 12 08:30", "Wed 12 11:30", "Wed 12 12:00",
    ]  # fmt: skip
    # Clear of the audience itself but inside its buffer: too close, not taken.
    assert check(wib(12, 9), taken) == refused(RefusalReason.TOO_CLOSE)
    assert check(wib(12, 11), taken) == refused(RefusalReason.TOO_CLOSE)
    assert check(wib(12, 9, 30), taken) == TAKEN  # 09.30–10.30 overlaps it
    assert check(wib(12, 11, 30), taken) == SlotFree()


def test_zero_buffer_allows_back_to_back_audiences() -> None:
    rules = CalendarRules(tz=WIB, buffer_minutes=0)
    taken = [busy(wib(12, 10))]
    assert check(wib(12, 9), taken, rules=rules) == SlotFree()
    assert check(wib(12, 11), taken, rules=rules) == SlotFree()
    assert check(wib(12, 10, 30), taken, rules=rules) == TAKEN


def test_a_short_audience_inside_a_long_one_does_not_hide_the_long_one() -> None:
    taken = [busy(wib(12, 8), minutes=6 * 60), busy(wib(12, 9), minutes=30)]  # 08.00–14.00 and 09.00–09.30
    assert check(wib(12, 10), taken) == TAKEN
    assert free_slots(RULES, taken, [], ID_HOLIDAYS, NOW, limit=1) == [wib(12, 14, 30)]


def test_busy_intervals_in_another_zone_are_compared_as_instants() -> None:
    taken = [Busy(datetime(2026, 8, 12, 3, tzinfo=UTC), datetime(2026, 8, 12, 4, tzinfo=UTC))]  # 10–11 WIB
    assert check(wib(12, 10), taken) == TAKEN


def test_a_day_with_max_per_day_audiences_is_full() -> None:
    taken = [busy(wib(12, h, m)) for h, m in ((8, 0), (9, 30), (11, 0), (12, 30))]
    assert check(wib(12, 14), taken) == refused(RefusalReason.DAY_FULL)
    assert free_days(RULES, taken, [], ID_HOLIDAYS, NOW, limit=1) == [date(2026, 8, 13)]
    unlimited = CalendarRules(tz=WIB, max_per_day=None)
    assert free_slots(unlimited, taken, [], ID_HOLIDAYS, NOW, limit=1) == [wib(12, 14)]


def test_a_day_full_of_back_to_back_bookings_has_no_slot() -> None:
    unlimited = CalendarRules(tz=WIB, max_per_day=None)
    taken = [busy(wib(12, h, m)) for h, m in ((8, 0), (9, 30), (11, 0), (12, 30), (14, 0))]
    assert free_days(unlimited, taken, [], ID_HOLIDAYS, NOW, limit=1) == [date(2026, 8, 13)]


def test_overlaps_with_buffer() -> None:
    gap = timedelta(minutes=30)
    a = (wib(12, 8), wib(12, 9))
    assert not overlaps_with_buffer(*a, wib(12, 9, 30), wib(12, 10), gap)
    assert overlaps_with_buffer(*a, wib(12, 9, 29), wib(12, 10), gap)
    assert overlaps_with_buffer(wib(12, 9, 29), wib(12, 10), *a, gap)  # symmetric
    assert not overlaps_with_buffer(*a, wib(12, 9), wib(12, 10), timedelta(0))


# ------------------------------------------------------------------------------------ time zones


def test_wita_and_wit_slots_are_local_office_hours() -> None:
    for tz in (WITA, WIT):
        first = free_slots(CalendarRules.default(tz), [], [], ID_HOLIDAYS, NOW, limit=1)[0]
        assert first.tzinfo == tz
        assert (first.date(), first.time()) == (date(2026, 8, 12), time(8, 0))
    wit_first = free_slots(CalendarRules.default(WIT), [], [], ID_HOLIDAYS, NOW, limit=1)[0]
    assert wit_first == wib(12, 6)  # 08.00 WIT is 06.00 WIB


def test_same_instant_falls_on_different_local_days() -> None:
    late = busy(wib(19, 23))  # Wednesday 23.00 WIB = Thursday 00.00 WITA = Thursday 01.00 WIT
    for tz, full_day in ((WIB, date(2026, 8, 19)), (WITA, date(2026, 8, 20)), (WIT, date(2026, 8, 20))):
        rules = CalendarRules(tz=tz, max_per_day=1)
        days = free_days(rules, [late], [], ID_HOLIDAYS, NOW, limit=10)
        assert full_day not in days
        assert {date(2026, 8, 19), date(2026, 8, 20)} - {full_day} <= set(days)


def test_today_is_the_officials_local_day() -> None:
    monday_night = wib(10, 23)  # already Tuesday 01.00 in Jayapura
    assert free_slots(CalendarRules.default(WIB), [], [], ID_HOLIDAYS, monday_night, limit=1)[0].day == 12
    assert free_slots(CalendarRules.default(WIT), [], [], ID_HOLIDAYS, monday_night, limit=1)[0].day == 13


def test_a_wib_time_is_checked_against_wit_office_hours() -> None:
    seven_wib = wib(12, 7)  # 09.00 WIT
    assert check(seven_wib, rules=CalendarRules.default(WIT)) == SlotFree()
    assert check(seven_wib) == OUTSIDE_HOURS


# ----------------------------------------------------------------------------------- nearest_free


def test_nearest_free_offers_the_same_day_closest_first_then_later_days() -> None:
    taken = [busy(wib(12, h)) for h in (9, 11, 13)]
    rules = CalendarRules(tz=WIB, max_per_day=None)
    assert times(nearest_free(rules, taken, [], ID_HOLIDAYS, NOW, wib(12, 11), limit=4)) == [
        "Wed 12 14:30", "Wed 12 15:00", "Thu 13 08:00", "Thu 13 08:30",
    ]  # fmt: skip
    one_taken = [busy(wib(12, 11))]
    assert times(nearest_free(rules, one_taken, [], ID_HOLIDAYS, NOW, wib(12, 11), limit=3)) == [
        "Wed 12 09:30", "Wed 12 12:30", "Wed 12 09:00",
    ]  # fmt: skip


def test_nearest_free_on_a_holiday_offers_the_next_days() -> None:
    assert nearest_free(RULES, [], [], ID_HOLIDAYS, NOW, wib(17, 10), limit=2) == [wib(18, 8), wib(18, 8, 30)]


# ------------------------------------------------------------------------------------ validation


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        Busy(datetime(2026, 8, 12, 10), datetime(2026, 8, 12, 11))
    with pytest.raises(ValueError):
        Busy(wib(12, 11), wib(12, 10))
    with pytest.raises(ValueError):
        WorkingWindow(time(16), time(8))
    overlapping = (WorkingWindow(time(8), time(12)), WorkingWindow(time(11), time(14)))
    with pytest.raises(ValueError):
        CalendarRules(tz=WIB, weekly_hours={0: overlapping})
    with pytest.raises(ValueError):
        free_slots(RULES, [], [], ID_HOLIDAYS, datetime(2026, 8, 10, 9))


def test_default_rules() -> None:
    rules = CalendarRules.default(WITA)
    assert rules.weekly_hours == DEFAULT_WEEKLY_HOURS
    assert (rules.slot_minutes, rules.buffer_minutes, rules.max_per_day) == (60, 30, 4)
    assert (rules.min_notice_working_days, rules.horizon_days, rules.slot_step_minutes) == (2, 60, 30)


# ------------------------------------------------------------------------------------- properties

ZONES = (WIB, WITA, WIT)


@dataclass(frozen=True)
class Scenario:
    rules: CalendarRules
    busy: list[Busy]
    days_off: list[DayOff]
    holiday_names: dict[date, str]
    now: datetime
    limit: int

    @property
    def holidays(self) -> HolidayCalendar:
        return HolidayCalendar.from_mapping(self.holiday_names)

    def args(self) -> tuple[CalendarRules, list[Busy], list[DayOff], HolidayCalendar, datetime]:
        return self.rules, self.busy, self.days_off, self.holidays, self.now


@st.composite
def windows(draw: st.DrawFn) -> tuple[WorkingWindow, ...]:
    count = draw(st.integers(0, 2))
    # Quarter-hour boundaries between 06.00 and 20.00; distinct and sorted, so windows never overlap.
    points = sorted(draw(st.sets(st.integers(24, 80), min_size=2 * count, max_size=2 * count)))
    as_time = [time(p // 4, 15 * (p % 4)) for p in points]
    return tuple(WorkingWindow(as_time[i], as_time[i + 1]) for i in range(0, len(as_time), 2))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    tz = draw(st.sampled_from(ZONES))
    random_week = st.fixed_dictionaries({d: windows() for d in range(7)})
    weekly = draw(st.one_of(st.just(DEFAULT_WEEKLY_HOURS), random_week))
    rules = CalendarRules(
        tz=tz,
        weekly_hours=weekly,
        slot_minutes=draw(st.integers(15, 120)),
        buffer_minutes=draw(st.integers(0, 60)),
        max_per_day=draw(st.none() | st.integers(1, 8)),
        min_notice_working_days=draw(st.integers(0, 3)),
        horizon_days=draw(st.integers(0, 21)),
        slot_step_minutes=draw(st.sampled_from((10, 15, 30, 45, 60))),
    )
    zones = st.sampled_from(ZONES)
    now = draw(st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2026, 9, 30), timezones=zones))
    span_minutes = (rules.horizon_days + 3) * 24 * 60
    busy = [
        Busy(start, start + timedelta(minutes=length))
        for offset, length, zone in draw(
            st.lists(
                st.tuples(st.integers(-2 * 24 * 60, span_minutes), st.integers(1, 600), zones),
                max_size=30,
            )
        )
        for start in [(now + timedelta(minutes=offset)).astimezone(zone)]
    ]
    today = now.astimezone(tz).date()
    nearby = st.integers(-1, rules.horizon_days + 1).map(lambda n: today + timedelta(days=n))
    days_off = [DayOff(d, f"off {d}") for d in draw(st.lists(nearby, max_size=5))]
    holiday_names = {d: f"holiday {d}" for d in draw(st.sets(nearby, max_size=4))}
    return Scenario(rules, busy, days_off, holiday_names, now, draw(st.integers(1, 15)))


def notice_day(s: Scenario) -> date:
    """The minimum-notice rule, written out again independently of the implementation: the N-th working day
    after the receipt day (today, or the first working day after it when today is none)."""
    offs = {d.day for d in s.days_off}

    def working(day: date) -> bool:
        return bool(s.rules.weekly_hours.get(day.weekday())) and day not in s.holiday_names and day not in offs

    day = today = s.now.astimezone(s.rules.tz).date()
    last = today + timedelta(days=s.rules.horizon_days)
    if s.rules.min_notice_working_days == 0:
        return today
    while not working(day) and day <= last:
        day += timedelta(days=1)
    found = 0
    while found < s.rules.min_notice_working_days and day <= last:
        day += timedelta(days=1)
        found += working(day)
    return day


def clear_of(start: datetime, end: datetime, others: Sequence[Busy], buffer: timedelta) -> bool:
    return all(start >= b.end + buffer or end + buffer <= b.start for b in others)


def starting_on(day: date, intervals: Iterable[Busy], tz: ZoneInfo) -> int:
    return sum(1 for b in intervals if b.start.astimezone(tz).date() == day)


def grid(s: Scenario) -> Iterable[datetime]:
    """Every grid start the rules could ever offer, from today to the horizon."""
    rules = s.rules
    today = s.now.astimezone(rules.tz).date()
    for n in range(rules.horizon_days + 1):
        day = today + timedelta(days=n)
        for w in rules.weekly_hours.get(day.weekday(), ()):
            start = datetime.combine(day, w.start, tzinfo=rules.tz)
            while start + rules.slot <= datetime.combine(day, w.end, tzinfo=rules.tz):
                yield start
                start += rules.step


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_offered_slot_obeys_every_rule(s: Scenario) -> None:
    rules = s.rules
    slots = free_slots(*s.args(), limit=s.limit)
    today = s.now.astimezone(rules.tz).date()
    offs = {d.day for d in s.days_off}
    assert len(slots) <= s.limit
    assert all(a < b for a, b in itertools.pairwise(slots))
    for slot in slots:
        local = slot.astimezone(rules.tz)
        day = local.date()
        assert slot.tzinfo == rules.tz
        assert check_slot(*s.args(), slot) == SlotFree()
        naive = local.replace(tzinfo=None)
        assert any(
            w.start <= naive.time() and naive + rules.slot <= datetime.combine(day, w.end)
            for w in rules.weekly_hours.get(day.weekday(), ())
        )
        assert day not in s.holiday_names and day not in offs
        assert clear_of(slot, slot + rules.slot, s.busy, rules.buffer)
        assert rules.max_per_day is None or starting_on(day, s.busy, rules.tz) < rules.max_per_day
        assert slot >= s.now and day >= notice_day(s)
        assert day <= today + timedelta(days=rules.horizon_days)


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_grid_start_before_the_notice_day_is_refused_as_too_soon(s: Scenario) -> None:
    # The notice is exact: nothing after now but before the notice day is bookable, and it says so.
    first = notice_day(s)
    for start in grid(s):
        if start >= s.now and start.date() < first:
            result = check_slot(*s.args(), start)
            assert isinstance(result, SlotRefused) and result.reason is RefusalReason.TOO_SOON, (start, result)


@PROPERTY_SETTINGS
@given(scenarios())
def test_free_slots_are_exactly_the_first_free_grid_starts(s: Scenario) -> None:
    # Nothing free is skipped: free_slots agrees with check_slot on every grid point up to its last slot.
    expected = [c for c in grid(s) if check_slot(*s.args(), c) == SlotFree()][: s.limit]
    assert free_slots(*s.args(), limit=s.limit) == expected


@PROPERTY_SETTINGS
@given(scenarios())
def test_free_days_are_the_days_of_the_free_slots(s: Scenario) -> None:
    all_slots = free_slots(*s.args(), limit=10_000)
    expected = list(dict.fromkeys(slot.date() for slot in all_slots))[: s.limit]
    assert free_days(*s.args(), limit=s.limit) == expected


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(0, 21 * 24 * 60))
def test_nearest_free_offers_only_free_slots(s: Scenario, minutes_ahead: int) -> None:
    around = s.now + timedelta(minutes=minutes_ahead)
    offered = nearest_free(*s.args(), around, limit=s.limit)
    assert len(set(offered)) == len(offered) <= s.limit
    assert all(check_slot(*s.args(), slot) == SlotFree() for slot in offered)
    wanted_day = around.astimezone(s.rules.tz).date()
    days = [slot.date() for slot in offered]
    assert all(d >= wanted_day for d in days)
    assert days == sorted(days)


@PROPERTY_SETTINGS
@given(scenarios())
def test_booking_offered_slots_one_after_another_never_double_books(s: Scenario) -> None:
    rules = s.rules
    booked: list[Busy] = []
    for _ in range(8):
        offered = free_slots(rules, s.busy + booked, s.days_off, s.holidays, s.now, limit=1)
        if not offered:
            break
        new = Busy(offered[0], offered[0] + rules.slot)
        assert clear_of(new.start, new.end, s.busy + booked, rules.buffer)
        booked.append(new)
    for i, a in enumerate(booked):
        for b in booked[i + 1 :]:
            assert not overlaps_with_buffer(a.start, a.end, b.start, b.end, rules.buffer)
    if rules.max_per_day is not None:
        for day in {b.start.date() for b in booked}:
            already = starting_on(day, s.busy, rules.tz)
            assert starting_on(day, booked, rules.tz) + already <= rules.max_per_day


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(timezones=st.sampled_from(ZONES)),
    st.integers(1, 600),
    st.integers(-600, 600),
    st.integers(1, 600),
    st.integers(0, 120),
)
def test_overlaps_with_buffer_matches_the_definition(
    a_start: datetime, a_len: int, b_offset: int, b_len: int, buffer_minutes: int
) -> None:
    a_end = a_start + timedelta(minutes=a_len)
    b_start = a_start + timedelta(minutes=b_offset)
    b_end = b_start + timedelta(minutes=b_len)
    buffer = timedelta(minutes=buffer_minutes)
    clear = a_start >= b_end + buffer or a_end + buffer <= b_start
    assert overlaps_with_buffer(a_start, a_end, b_start, b_end, buffer) is not clear
    assert overlaps_with_buffer(b_start, b_end, a_start, a_end, buffer) is not clear
