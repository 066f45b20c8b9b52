"""Indonesian date/time parsing: exact results for a fixed "now", boundaries, zones and hostile input."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.datetext import (
    Ambiguous,
    DayPeriod,
    NotUnderstood,
    TimeOnly,
    Understood,
    WhenResult,
    parse_when,
)

UTC = ZoneInfo("UTC")
WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")

# Wednesday 1 July 2026, 10:00 WIB. This week runs Mon 29 Jun - Sun 5 Jul; next week Mon 6 - Sun 12 Jul.
NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)

MONTH_NAMES = [
    "",
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]


def on(month: int, day: int, year: int = 2026, at: time | None = None, period: DayPeriod | None = None) -> Understood:
    return Understood(date(year, month, day), at, period)


def week_of(month: int, day: int, year: int = 2026, at: time | None = None) -> Understood:
    return Understood(date(year, month, day), at, None, whole_week=True)


def month_from(month: int, day: int, year: int = 2026, at: time | None = None) -> Understood:
    return Understood(date(year, month, day), at, None, whole_month=True)


def depan(coming: Understood, week_after: Understood) -> Ambiguous:
    return Ambiguous("weekday_depan", (coming, week_after))


def clock_at(hour: int, minute: int = 0) -> TimeOnly:
    return TimeOnly(time(hour, minute), None)


def part(period: DayPeriod) -> TimeOnly:
    return TimeOnly(None, period)


def fails(reason: str) -> NotUnderstood:
    return NotUnderstood(reason)


RELATIVE: list[tuple[str, WhenResult]] = [
    ("hari ini", on(7, 1)),
    ("Hari Ini", on(7, 1)),
    ("sekarang", on(7, 1)),
    ("besok", on(7, 2)),
    ("  Besok!! ", on(7, 2)),
    ("esok", on(7, 2)),
    ("lusa", on(7, 3)),
    ("3 hari lagi", on(7, 4)),
    ("tiga hari lagi", on(7, 4)),
    ("1 hari lagi", on(7, 2)),
    ("10 hari ke depan", on(7, 11)),
    ("sepuluh hari kedepan", on(7, 11)),
    ("90 hari lagi", on(9, 29)),
    ("91 hari lagi", fails("unknown")),
    ("0 hari lagi", fails("unknown")),
    ("minggu depan", week_of(7, 6)),
    ("Minggu depan", week_of(7, 6)),
    ("pekan depan", week_of(7, 6)),
    ("minggu depan jam 10", week_of(7, 6, at=time(10))),
    ("bulan depan", month_from(8, 1)),
    ("bulan depan jam 10", month_from(8, 1, at=time(10))),
]

WEEKDAYS: list[tuple[str, WhenResult]] = [
    ("Senin", on(7, 6)),
    ("Selasa", on(7, 7)),
    ("Rabu", on(7, 8)),  # today is Wednesday: today is excluded
    ("Kamis", on(7, 2)),
    ("Jumat", on(7, 3)),
    ("Jum'at", on(7, 3)),
    ("jum’at", on(7, 3)),
    ("Sabtu", on(7, 4)),
    ("hari Minggu", on(7, 5)),
    ("Ahad", on(7, 5)),
    ("hari Senin", on(7, 6)),
    ("Senin depan", on(7, 6)),
    ("Rabu depan", on(7, 8)),
    ("Jumat depan", on(7, 10)),
    ("Jumat ini", on(7, 3)),
    ("Senin ini", on(6, 29)),  # already passed this week: still returned, the caller says it is past
    ("Kamis minggu depan", on(7, 9)),
    ("Kamis pekan depan", on(7, 9)),
    ("Kamis minggu ini", on(7, 2)),
    ("hari Minggu depan", on(7, 12)),
    ("Ahad depan", on(7, 12)),
    ("Minggu minggu depan", on(7, 12)),
    ("minggu", Ambiguous("minggu")),
    ("Minggu", Ambiguous("minggu")),
    ("Minggu ini", Ambiguous("minggu")),
    ("minggu jam 10", Ambiguous("minggu")),
]

ABSOLUTE: list[tuple[str, WhenResult]] = [
    ("7 Juli", on(7, 7)),
    ("7 Juli 2026", on(7, 7)),
    ("7 Jul 2026", on(7, 7)),
    ("7 jul.", on(7, 7)),
    ("tanggal 7 Juli", on(7, 7)),
    ("Selasa, 7 Juli 2026", on(7, 7)),
    ("Selasa 7 Juli", on(7, 7)),
    ("Senin 6 Juli", on(7, 6)),
    ("Minggu, 5 Juli 2026", on(7, 5)),
    ("Senin, 7 Juli 2026", fails("weekday_mismatch")),  # 7 July 2026 is a Tuesday
    ("7/7", on(7, 7)),
    ("07/07", on(7, 7)),
    ("7-7", on(7, 7)),
    ("07-07-2026", on(7, 7)),
    ("7/7/2026", on(7, 7)),
    ("7/7/26", on(7, 7)),
    ("2026-07-07", on(7, 7)),
    ("7.7.2026", on(7, 7)),
    ("1 Juli", on(7, 1)),  # today: this year
    ("30 Juni", on(6, 30)),  # yesterday: the nearest occurrence (the caller refuses it as past)
    ("30/6", on(6, 30)),
    ("1 Januari", on(1, 1, 2027)),  # 181 days back is nearer, but half a year ago means next year
    ("1 April", on(4, 1)),  # three months back: that date (refused as past)
    ("3 Januari", on(1, 3, 2027)),
    ("15 Desember", on(12, 15)),
    ("14 Feb 2027", on(2, 14, 2027)),
    ("3 Peb 2027", on(2, 3, 2027)),
    ("5 Mar 2027", on(3, 5, 2027)),
    ("6 Apr 2027", on(4, 6, 2027)),
    ("20 Mei", on(5, 20)),
    ("17 Agustus", on(8, 17)),
    ("1 Agt 2026", on(8, 1)),
    ("1 Ags 2026", on(8, 1)),
    ("1 Aug 2026", on(8, 1)),
    ("2 Sept 2026", on(9, 2)),
    ("2 Okt 2026", on(10, 2)),
    ("3 Nop 2026", on(11, 3)),
    ("4 Des 2026", on(12, 4)),
    ("31/2", fails("invalid_date")),
    ("32 Juli", fails("invalid_date")),
    ("0 Juli", fails("invalid_date")),
    ("31 Juni", fails("invalid_date")),
    ("13/13/2026", fails("invalid_date")),
    ("29/2/2027", fails("invalid_date")),
]

TIMES: list[tuple[str, WhenResult]] = [
    ("jam 10", clock_at(10)),
    ("pukul 10", clock_at(10)),
    ("pkl 10", clock_at(10)),
    ("pukul 14.00", clock_at(14)),
    ("14:30", clock_at(14, 30)),
    ("14.30", clock_at(14, 30)),
    ("jam 9 pagi", clock_at(9)),
    ("jam 2 siang", clock_at(14)),
    ("jam 11 siang", clock_at(11)),
    ("jam 12 siang", clock_at(12)),
    ("jam 4 sore", clock_at(16)),
    ("jam 7 malam", clock_at(19)),
    ("jam 10 malam", clock_at(22)),
    ("jam 19.00 malam", clock_at(19)),
    ("jam 10.30", clock_at(10, 30)),
    ("10 pagi", clock_at(10)),
    ("pukul 08.00 WIB", clock_at(8)),
    ("jam10", clock_at(10)),
    ("pagi", part(DayPeriod.PAGI)),
    ("siang", part(DayPeriod.SIANG)),
    ("sore", part(DayPeriod.SORE)),
    ("Malam", part(DayPeriod.MALAM)),
    ("nanti sore", part(DayPeriod.SORE)),
    ("jam 25", fails("invalid_time")),
    ("25:00", fails("invalid_time")),
    ("jam 10.75", fails("invalid_time")),
    ("jam 10.5", fails("invalid_time")),
    ("jam 14 pagi", fails("invalid_time")),
    ("jam 12 malam", fails("invalid_time")),
]

DATE_AND_TIME: list[tuple[str, WhenResult]] = [
    ("besok jam 10", on(7, 2, at=time(10))),
    ("besok jam 10 pagi", on(7, 2, at=time(10))),
    ("besok, pukul 14:00 WITA", Understood(date(2026, 7, 2), time(13), None, zone="Asia/Makassar")),
    ("BESOK   JAM 10!!!", on(7, 2, at=time(10))),
    ("Senin depan, jam 10.", on(7, 6, at=time(10))),
    ("Senin depan pukul 14.00", on(7, 6, at=time(14))),
    ("7 Juli jam 9 pagi", on(7, 7, at=time(9))),
    ("jam 10 besok", on(7, 2, at=time(10))),
    ("7/7/2026 10:00", on(7, 7, at=time(10))),
    ("07/07/2026 14.30", on(7, 7, at=time(14, 30))),
    ("lusa sore", on(7, 3, period=DayPeriod.SORE)),
    ("besok pagi jam 9", on(7, 2, at=time(9))),
    ("besok sore jam 4", on(7, 2, at=time(16))),
    ("Jumat, 3 Juli 2026 pukul 13.30 WIB", on(7, 3, at=time(13, 30))),
    ("3 hari lagi jam 2 siang", on(7, 4, at=time(14))),
    ("besok jam 25", fails("invalid_time")),
]

# Phrasings people use that an audit found missing, still at Wednesday 1 July 2026, 10:00 WIB.
MORE: list[tuple[str, WhenResult]] = [
    ("jam 2", clock_at(14)),  # no office receives anyone at 02.00
    ("pukul 3", clock_at(15)),
    ("jam 5", clock_at(17)),
    ("jam 6", clock_at(6)),
    ("jam 12", clock_at(12)),
    ("02.00", clock_at(2)),  # a leading zero is a 24-hour time
    ("jam 2 pagi", clock_at(2)),
    ("jam 2 dini hari", clock_at(2)),
    ("2:30", clock_at(14, 30)),
    ("jam sepuluh", clock_at(10)),
    ("pukul sepuluh", clock_at(10)),
    ("jam sebelas siang", clock_at(11)),
    ("jam dua belas", clock_at(12)),
    ("jam dua siang", clock_at(14)),
    ("setengah sepuluh", clock_at(9, 30)),
    ("jam setengah 10", clock_at(9, 30)),
    ("setengah 10", clock_at(9, 30)),
    ("setengah tiga", clock_at(14, 30)),
    ("setengah", fails("unknown")),
    ("besok 10", on(7, 2, at=time(10))),
    ("besok 2", on(7, 2, at=time(14))),
    ("Senin depan 9.30", on(7, 6, at=time(9, 30))),
    ("tgl 5", on(7, 5)),
    ("tanggal 30", on(7, 30)),
    ("tgl 1", on(7, 1)),  # today
    ("tgl 5 jam 10", on(7, 5, at=time(10))),
    ("tanggal 7 jam 2 siang", on(7, 7, at=time(14))),
    ("Selasa tgl 7", on(7, 7)),
    ("Senin tgl 7", fails("weekday_mismatch")),
    ("tanggal 32", fails("invalid_date")),
    ("tanggal", fails("unknown")),
    ("seminggu lagi", on(7, 8)),
    ("sepekan lagi", on(7, 8)),
    ("2 minggu lagi", on(7, 15)),
    ("dua pekan lagi", on(7, 15)),
    ("3 minggu ke depan", on(7, 22)),
    ("sebulan lagi", month_from(8, 1)),
    ("2 bulan lagi", month_from(9, 1)),
    ("13 minggu lagi", fails("unknown")),
    ("7 juli 26", on(7, 7)),
    ("7 Juli 27", on(7, 7, 2027)),
    ("7 Juli 10", on(7, 7, at=time(10))),  # 10 after a month name is an hour, not 2010
    ("Kamis, 2 Juli 2026 pukul 10.00 WIT", Understood(date(2026, 7, 2), time(8), None, zone="Asia/Jayapura")),
    ("pukul 10.00 WITA", TimeOnly(time(9), None, "Asia/Makassar")),
    ("pukul 10.00 WIB", clock_at(10)),  # the office's own zone
    ("jam 10 WIB WITA", fails("unknown")),
]

UNHAPPY: list[tuple[str, WhenResult]] = [
    ("", fails("empty")),
    ("   ", fails("empty")),
    ("😀", fails("unknown")),
    ("abc", fails("unknown")),
    ("...", fails("unknown")),
    ("10", fails("unknown")),
    ("jam", fails("unknown")),
    ("besok lusa", fails("unknown")),
    ("jam 10 jam 11", fails("unknown")),
    ("pagi sore", fails("unknown")),
    ("besok kapan-kapan", fails("unknown")),
    ("7.7", fails("unknown")),
]


@pytest.mark.parametrize(("text", "expected"), RELATIVE + WEEKDAYS + ABSOLUTE + TIMES + DATE_AND_TIME + MORE + UNHAPPY)
def test_parse_when(text: str, expected: WhenResult) -> None:
    assert parse_when(text, NOW, WIB) == expected


# Friday 30 January 2026, 10:00 WIB.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("besok", on(1, 31)),
        ("lusa", on(2, 1)),
        ("3 hari lagi", on(2, 2)),
        ("bulan depan", month_from(2, 1)),  # the free dates of February
        ("sebulan lagi", month_from(2, 28)),  # clamped to the end of February
    ],
)
def test_month_boundary(text: str, expected: WhenResult) -> None:
    assert parse_when(text, datetime(2026, 1, 30, 3, 0, tzinfo=UTC), WIB) == expected


# Thursday 31 December 2026, 10:00 WIB.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 Januari", on(1, 7, 2027)),
        ("7/1", on(1, 7, 2027)),
        ("31 Desember", on(12, 31, 2026)),
        ("30 Desember", on(12, 30, 2026)),  # yesterday, not a year ahead
        ("besok", on(1, 1, 2027)),
        ("Senin depan", on(1, 4, 2027)),
        ("minggu depan", week_of(1, 4, 2027)),
        ("bulan depan", month_from(1, 1, 2027)),
    ],
)
def test_year_boundary(text: str, expected: WhenResult) -> None:
    assert parse_when(text, datetime(2026, 12, 31, 3, 0, tzinfo=UTC), WIB) == expected


def in_zone(tz: ZoneInfo, month: int, day: int, year: int = 2026, at: time | None = None,
            zone: ZoneInfo | None = None) -> Understood:  # fmt: skip
    return Understood(date(year, month, day), at, None, zone=zone.key if zone else None)


# Tuesday 24 November 2026, 10:00 WITA (a Makassar office).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23 November jam 10", on(11, 23, at=time(10))),  # yesterday: refused as past, not beyond the horizon
        ("23/11", on(11, 23)),
        ("24 November", on(11, 24)),
        ("1 Desember", on(12, 1)),
        ("besok", on(11, 25)),
        ("tgl 5", on(12, 5)),
        ("tanggal 30", on(11, 30)),
        ("tgl 24", on(11, 24)),
        ("seminggu lagi", on(12, 1)),
        ("2 minggu lagi", on(12, 8)),
        ("sebulan lagi", month_from(12, 24)),
        ("Kamis, 26 November 2026 pukul 10.00 WIT", in_zone(WITA, 11, 26, at=time(9), zone=WIT)),
        ("Kamis pukul 10.00 WIB", in_zone(WITA, 11, 26, at=time(11), zone=WIB)),
        ("Kamis jam 10 WITA", on(11, 26, at=time(10))),
        ("jam 2", clock_at(14)),
        ("setengah 10", clock_at(9, 30)),
        ("Senin ini", on(11, 23)),  # a weekday: the caller says it has passed
        ("Jumat ini", on(11, 27)),
    ],
)
def test_in_wita(text: str, expected: WhenResult) -> None:
    assert parse_when(text, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), WITA) == expected


# Monday 28 December 2026, 10:00 WIT (a Jayapura office): across the year boundary.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 Januari", on(1, 5, 2027)),
        ("5/1", on(1, 5, 2027)),
        ("27 Desember", on(12, 27)),  # yesterday
        ("tgl 5", on(1, 5, 2027)),
        ("tanggal 31", on(12, 31)),
        ("tanggal 28", on(12, 28)),
        ("2 minggu lagi", on(1, 11, 2027)),
        ("sebulan lagi", month_from(1, 28, 2027)),
        ("besok 10", on(12, 29, at=time(10))),
        ("Jumat ini", on(1, 1, 2027)),
        ("Senin depan jam 2", on(1, 4, 2027, at=time(14))),
        ("pukul 10.00 WITA", TimeOnly(time(11), None, "Asia/Makassar")),
        # 23.30 WIB on Thursday is already 01.30 on Friday, New Year's Day, in WIT.
        ("Kamis 31 Desember pukul 23.30 WIB", in_zone(WIT, 1, 1, 2027, at=time(1, 30), zone=WIB)),
        ("7 Januari 27", on(1, 7, 2027)),
    ],
)
def test_in_wit_across_the_year(text: str, expected: WhenResult) -> None:
    assert parse_when(text, datetime(2026, 12, 28, 1, 0, tzinfo=UTC), WIT) == expected


# Friday 30 January 2026, 10:00 WITA: across the month boundary.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tgl 5", on(2, 5)),
        ("tanggal 31", on(1, 31)),
        ("tanggal 29", on(3, 29)),  # February 2026 has no 29th
        ("tgl 30", on(1, 30)),
        ("seminggu lagi", on(2, 6)),
        ("sebulan lagi", month_from(2, 28)),
        ("Senin ini", on(1, 26)),  # a weekday: still this week's
        ("29 Januari", on(1, 29)),
        ("lusa jam setengah sepuluh", on(2, 1, at=time(9, 30))),
    ],
)
def test_in_wita_across_the_month(text: str, expected: WhenResult) -> None:
    assert parse_when(text, datetime(2026, 1, 30, 2, 0, tzinfo=UTC), WITA) == expected


# Saturday 4 and Sunday 5 July 2026, WIB: the week's working days are over, "<weekday> ini" is the coming one.
@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Senin ini", on(7, 6)),
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Jumat ini", on(7, 10)),
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Kamis minggu ini", on(7, 9)),
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Sabtu ini", on(7, 4)),
        (datetime(2026, 7, 5, 3, 0, tzinfo=UTC), "Senin ini", on(7, 6)),
        # "<weekday> depan" on a weekend: the coming one, or a week later? Asked.
        (datetime(2026, 7, 5, 3, 0, tzinfo=UTC), "Senin depan", depan(on(7, 6), on(7, 13))),
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Jumat depan", depan(on(7, 10), on(7, 17))),
        (
            datetime(2026, 7, 4, 3, 0, tzinfo=UTC),
            "Jumat minggu depan jam 10",
            depan(on(7, 10, at=time(10)), on(7, 17, at=time(10))),
        ),
        (
            datetime(2026, 7, 4, 3, 0, tzinfo=UTC),
            "Jumat depan jam 10 WITA",
            depan(
                Understood(date(2026, 7, 10), time(9), None, zone="Asia/Makassar"),
                Understood(date(2026, 7, 17), time(9), None, zone="Asia/Makassar"),
            ),
        ),
        (datetime(2026, 7, 4, 3, 0, tzinfo=UTC), "Sabtu depan", on(7, 11)),  # Saturday: not this one, today
        (datetime(2026, 7, 3, 3, 0, tzinfo=UTC), "Jumat depan", on(7, 10)),  # said on a Friday: next week's
    ],
)
def test_weekday_ini_on_a_weekend(now: datetime, text: str, expected: WhenResult) -> None:
    assert parse_when(text, now, WIB) == expected


# Sunday 6 December 2026, 10.00 WITA. Tuesdays ahead: 8, 15, 22, 29 December; Mondays: 7, 14, 21, 28.
SUNDAY_6_DECEMBER = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def both(day: date, hour_day: date, hour: int) -> Ambiguous:
    return Ambiguous("weekday_number", (Understood(day, None, None), Understood(hour_day, time(hour), None)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A number that is a date on that weekday and could be an office hour: asked about.
        ("selasa 15", both(date(2026, 12, 15), date(2026, 12, 8), 15)),
        ("Senin 14", both(date(2026, 12, 14), date(2026, 12, 7), 14)),
        ("Kamis 3", on(12, 10, at=time(15))),  # 3 December has passed: 3 o'clock is 15.00 on Thursday
        ("Kamis 17", both(date(2026, 12, 17), date(2026, 12, 10), 17)),
        # A date on that weekday and no office hour: the date.
        ("senin 21", on(12, 21)),
        ("kamis 31", on(12, 31)),
        ("Senin, 28", on(12, 28)),
        ("Sabtu 2", both(date(2027, 1, 2), date(2026, 12, 12), 14)),  # next month's 2nd is the Saturday
        # Its hour would fall on that same day: the date, whose free times are then shown.
        ("Selasa 8", on(12, 8)),
        # Something after the number: the number is the date.
        ("selasa 15 jam 10", on(12, 15, at=time(10))),
        ("Selasa 15 pukul 14.00", on(12, 15, at=time(14))),
        # No date on that weekday: an hour, as after any date.
        ("Senin 10", on(12, 7, at=time(10))),
        ("Selasa 9", on(12, 8, at=time(9))),
        ("Jumat 14", on(12, 11, at=time(14))),
        ("Rabu 16", both(date(2026, 12, 16), date(2026, 12, 9), 16)),
        ("Kamis 30", fails("weekday_mismatch")),  # 30 December is a Wednesday, and no hour is 30
        # A part of the day, minutes or a zone make it a time.
        ("Selasa 8 pagi", on(12, 8, at=time(8))),
        ("Selasa 15.00", on(12, 8, at=time(15))),
        ("Selasa 15 WITA", on(12, 8, at=time(15))),
        ("Selasa 15 WIB", Understood(date(2026, 12, 8), time(16), None, zone="Asia/Jakarta")),
        # With "depan"/"ini" the week is named: the number is an hour.
        ("Selasa depan 15", depan(on(12, 8, at=time(15)), on(12, 15, at=time(15)))),  # on a Sunday: asked
        # A month makes it a date, as before.
        ("Selasa 15 Desember", on(12, 15)),
        ("Selasa 16 Desember", fails("weekday_mismatch")),
    ],
)
def test_a_weekday_and_a_number_is_read_against_the_calendar(text: str, expected: WhenResult) -> None:
    assert parse_when(text, SUNDAY_6_DECEMBER, WITA) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9", clock_at(9)),
        ("10", clock_at(10)),
        ("2", clock_at(14)),
        ("9.30", clock_at(9, 30)),
        ("09:30", clock_at(9, 30)),
        ("sepuluh", clock_at(10)),
        ("10 WITA", TimeOnly(time(9), None, "Asia/Makassar")),
        ("99", fails("invalid_time")),
        ("besok", on(7, 2)),
    ],
)
def test_a_bare_number_is_an_hour_when_a_time_was_asked(text: str, expected: WhenResult) -> None:
    assert parse_when(text, NOW, WIB, time_expected=True) == expected


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (datetime(2027, 3, 1, 3, 0, tzinfo=UTC), "29 Februari", on(2, 29, 2028)),
        (datetime(2027, 3, 1, 3, 0, tzinfo=UTC), "29/2/2028", on(2, 29, 2028)),
        (datetime(2027, 3, 1, 3, 0, tzinfo=UTC), "29/2", on(2, 29, 2028)),
        (datetime(2028, 2, 28, 3, 0, tzinfo=UTC), "besok", on(2, 29, 2028)),
        (datetime(2028, 2, 28, 3, 0, tzinfo=UTC), "lusa", on(3, 1, 2028)),
        (datetime(2028, 1, 31, 3, 0, tzinfo=UTC), "sebulan lagi", month_from(2, 29, 2028)),
    ],
)
def test_leap_day(now: datetime, text: str, expected: WhenResult) -> None:
    assert parse_when(text, now, WIB) == expected


@pytest.mark.parametrize(
    ("now", "tz", "tomorrow"),
    [
        # 15:30 UTC: 22:30 WIB and 23:30 WITA on 31 Dec, but already 00:30 on 1 Jan in WIT.
        (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), WIB, date(2027, 1, 1)),
        (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), WITA, date(2027, 1, 1)),
        (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), WIT, date(2027, 1, 2)),
        # 16:30 UTC: 23:30 WIB on 31 Dec, but 00:30 WITA and 01:30 WIT on 1 Jan.
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), WIB, date(2027, 1, 1)),
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), WITA, date(2027, 1, 2)),
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), WIT, date(2027, 1, 2)),
    ],
)
def test_today_is_taken_in_the_office_zone(now: datetime, tz: ZoneInfo, tomorrow: date) -> None:
    assert parse_when("besok", now, tz) == Understood(tomorrow, None, None)


def test_a_zone_with_the_office_offset_is_the_office_zone() -> None:
    # Pontianak keeps WIB under another name: "jam 10 WIB" there is 10.00, not a conversion to itself.
    pontianak = ZoneInfo("Asia/Pontianak")
    assert parse_when("jam 10 WIB", NOW, pontianak) == clock_at(10)
    assert parse_when("besok jam 10 WIB", NOW, pontianak) == on(7, 2, at=time(10))
    assert parse_when("besok jam 10 WITA", NOW, pontianak) == Understood(date(2026, 7, 2), time(9), None,
                                                                         zone="Asia/Makassar")  # fmt: skip


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("besok", datetime(2026, 7, 1, 10, 0), WIB)


@pytest.mark.parametrize(
    "text",
    ["a" * 5000, "1" * 5000, "jam " * 1250, "1/" * 2500, "besok " + "1." * 2497, "7 " * 2500],
)
def test_long_input_is_refused_as_not_understood(text: str) -> None:
    # Bounded before any pattern runs, so a pasted essay cannot stall the conversation.
    assert parse_when(text, NOW, WIB) == NotUnderstood("unknown")


@pytest.mark.parametrize("text", ["1." * 99, "1/" * 99, "jam " * 49, "a1" * 99, "- " * 99])
def test_hostile_input_under_the_length_limit_is_not_understood(text: str) -> None:
    assert isinstance(parse_when(text, NOW, WIB), NotUnderstood)


@pytest.mark.parametrize("offset", range(7))
def test_bare_weekday_is_within_the_next_seven_days(offset: int) -> None:
    now = NOW + timedelta(days=offset)
    today = now.astimezone(WIB).date()
    for index, name in enumerate(["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Ahad"]):
        result = parse_when(name, now, WIB)
        assert isinstance(result, Understood)
        assert result.day.weekday() == index
        assert 1 <= (result.day - today).days <= 7


@given(st.integers(min_value=-400, max_value=400))
def test_absolute_dates_round_trip(offset: int) -> None:
    d = NOW.astimezone(WIB).date() + timedelta(days=offset)
    for text in (f"{d.day}/{d.month}/{d.year}", f"{d.day} {MONTH_NAMES[d.month]} {d.year}"):
        assert parse_when(text, NOW, WIB) == Understood(d, None, None)
