"""Choosing a time: free dates then free times as buttons, Indonesian typing echoed and confirmed, refusals
that name the reason with the nearest free times as buttons. On memory, SQLite and PostgreSQL storage.

START is Monday 23 November 2026, 09.00 WITA; with two working days' notice the first free date is
Wednesday 25 November. Christmas (Friday 25 December) and its cuti bersama (Thursday 24 December) are inside
the 60-day horizon.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from handlers.domain.model import Address, DayOffEntry
from handlers.messages import Choice, PressIn
from tests.harness import MAKASSAR, PROTOKOL, Harness
from tests.integration.test_lifecycle import approve
from tests.integration.test_request_dialog import HAPPY, REP, until

AT_TIME_STEP = until("paling banyak tiga waktu")


async def at_time_step(h: Harness, who: Address = REP) -> None:
    await h.dialog(who, AT_TIME_STEP)


async def submit_any(h: Harness, who: Address) -> int:
    """A request with the first free time as its preference (the tests here then set times explicitly)."""
    await at_time_step(h, who)
    await h.dialog(who, [("1", "Waktu yang masih kosong"), ("1", "Dicatat"), *HAPPY[-3:-1], ("Kirim", "AUD-")])
    request = (await h.requests_of(who))[0]
    assert request.id is not None
    return request.id


def options(h: Harness) -> list[str]:
    return [o.label for m in h.last if isinstance(m, Choice) for o in m.options]


async def test_the_first_question_offers_the_next_free_dates_then_the_free_times_of_one(h: Harness) -> None:
    await at_time_step(h)
    assert options(h) == ["Rabu, 25 November 2026", "Kamis, 26 November 2026", "Jumat, 27 November 2026",
                          "Senin, 30 November 2026", "Selasa, 1 Desember 2026", "Tanggal lain"]  # fmt: skip
    reply = await h.say(REP, "Jumat, 27 November 2026")
    assert "Waktu yang masih kosong pada Jumat, 27 November 2026" in reply
    # Friday: 08.00–11.00 and 13.30–16.00 (salat Jumat between); an audience takes an hour.
    assert options(h) == ["08.00", "08.30", "09.00", "09.30", "10.00", "13.30", "14.00", "15.00", "Tanggal lain"]
    assert "Dicatat: Jumat, 27 November 2026 pukul 13.30 WITA." in await h.say(REP, "13.30")


async def test_other_dates_page_forward_and_back_goes_to_the_dates(h: Harness) -> None:
    await at_time_step(h)
    await h.say(REP, "Tanggal lain")
    assert options(h)[0] == "Rabu, 2 Desember 2026"
    await h.say(REP, "Tanggal lain")
    assert options(h)[0] == "Rabu, 9 Desember 2026"
    await h.say(REP, "1")
    assert "Waktu yang masih kosong pada Rabu, 9 Desember 2026" in h.last[0].body
    reply = await h.say(REP, "/kembali")  # from the times of a date back to the dates, not the previous question
    assert "paling banyak tiga waktu" in reply


async def test_holidays_and_cuti_bersama_are_never_offered_and_are_refused_by_name(h: Harness) -> None:
    await at_time_step(h)
    for _ in range(5):
        await h.say(REP, "Tanggal lain")
        assert not {"Kamis, 24 Desember 2026", "Jumat, 25 Desember 2026"} & set(options(h))
    await h.say(REP, "/kembali")
    reply = await h.say(REP, "25 Desember jam 10")
    assert "25 Desember 2026 adalah Hari Raya Natal; pada hari tersebut tidak ada audiensi." in reply
    assert "Berikut waktu kosong terdekat" in reply
    assert options(h) == ["Senin, 28 Desember 2026 pukul 08.00 WITA", "Senin, 28 Desember 2026 pukul 08.30 WITA",
                          "Senin, 28 Desember 2026 pukul 09.00 WITA", "Tanggal lain"]  # fmt: skip
    assert "Dicatat: Senin, 28 Desember 2026 pukul 08.30 WITA." in await h.say(REP, "2")
    reply = await h.say(REP, "24 Desember")
    assert "24 Desember 2026 adalah Cuti Bersama Hari Raya Natal" in reply


TYPED_REFUSALS = [
    (
        "besok pagi",
        "Audiensi perlu diajukan sekurang-kurangnya 2 hari kerja sebelumnya; tanggal paling awal yang "
        "dapat dipilih adalah Rabu, 25 November 2026.",
    ),
    ("01/01/2020 10:00", "Rabu, 1 Januari 2020 pukul 10.00 WITA sudah lewat."),
    ("Sabtu depan jam 10", "Sabtu, 5 Desember 2026 bukan hari kerja."),
    (
        "Rabu depan jam 7",
        "berada di luar jam kerja. Audiensi berlangsung 60 menit; pada Rabu, 2 Desember 2026 "
        "audiensi dapat dilaksanakan dalam rentang 08.00–16.00.",
    ),
    (
        "Jumat depan jam 11",
        "pada Jumat, 4 Desember 2026 audiensi dapat dilaksanakan dalam rentang 08.00–11.00 dan 13.30–16.00",
    ),
    ("15 Maret 2027 jam 10", "paling lama 60 hari ke depan, yaitu sampai Jumat, 22 Januari 2027"),
]


@pytest.mark.parametrize(("typed", "reason"), TYPED_REFUSALS, ids=[t for t, _ in TYPED_REFUSALS])
async def test_a_typed_time_that_cannot_be_booked_names_the_reason_and_offers_the_nearest(
    h: Harness, typed: str, reason: str
) -> None:
    await at_time_step(h)
    reply = await h.say(REP, typed)
    assert reason in reply
    offered = options(h)
    assert offered[-1] == "Tanggal lain" and 1 <= len(offered) <= 4
    assert "Dicatat" in await h.say(REP, "1")  # a nearest free time, taken with one press


async def test_a_typed_time_is_echoed_in_full_and_used_only_after_yes(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "senin depan jam 2 siang")
    assert "Senin, 30 November 2026 pukul 14.00 WITA — benar?" in reply
    assert options(h) == ["Ya, benar", "Bukan, pilih lagi"]
    reply = await h.say(REP, "Bukan, pilih lagi")
    assert "Tanggal yang masih memiliki waktu kosong" in reply
    await h.say(REP, "Kamis, 26 November 2026")
    reply = await h.say(REP, "jam 4 sore")  # a time alone, on the date just chosen: 16.00 is past office hours
    assert "berada di luar jam kerja" in reply
    await h.say(REP, "Tanggal lain")
    await h.say(REP, "Kamis, 26 November 2026")
    assert "Kamis, 26 November 2026 pukul 10.30 WITA — benar?" in await h.say(REP, "10.30")
    assert "Dicatat: Kamis, 26 November 2026 pukul 10.30 WITA." in await h.say(REP, "benar")


async def test_a_day_alone_shows_its_free_times_and_a_part_of_the_day_narrows_them(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "Kamis 26 November sore")
    assert "Waktu yang masih kosong pada Kamis, 26 November 2026" in reply
    assert options(h) == ["15.00", "Tanggal lain"]
    assert "Dicatat: Kamis, 26 November 2026 pukul 15.00 WITA." in await h.say(REP, "1")


async def test_minggu_alone_is_asked_about(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "minggu jam 10")
    assert "“Minggu” dapat berarti hari Minggu atau satu pekan" in reply
    reply = await h.say(REP, "Hari Minggu")
    assert "Minggu, 29 November 2026 bukan hari kerja." in reply
    await h.say(REP, "Tanggal lain")
    await h.say(REP, "minggu")
    reply = await h.say(REP, "2")  # a week: the dates of next week
    assert options(h)[0] == "Senin, 30 November 2026"


async def test_a_weekday_with_a_number_that_is_its_date_and_could_be_an_hour_is_asked_about(h: Harness) -> None:
    await at_time_step(h)  # Monday 23 November: 10 December is a Thursday, and so is 26 November
    reply = await h.say(REP, "Kamis 10")
    assert "Maksud Bapak/Ibu tanggal 10 atau pukul 10.00?" in reply
    assert options(h) == ["Kamis, 10 Desember 2026", "Kamis, 26 November 2026 pukul 10.00 WITA"]
    assert "Waktu yang masih kosong pada Kamis, 10 Desember 2026" in await h.say(REP, "1")
    assert "Dicatat: Kamis, 10 Desember 2026 pukul 09.00 WITA." in await h.say(REP, "09.00")
    await h.say(REP, "Kamis 10")
    reply = await h.say(REP, "Kamis, 26 November 2026 pukul 10.00 WITA")
    assert "Kamis, 26 November 2026 pukul 10.00 WITA — benar?" in reply
    # A date on that weekday that is no office hour is the date; one on no such weekday, an hour.
    assert "Waktu yang masih kosong pada Senin, 21 Desember 2026" in await h.say(REP, "Senin 21")
    await h.say(REP, "Tanggal lain")
    assert "Jumat, 27 November 2026 pukul 09.00 WITA — benar?" in await h.say(REP, "Jumat 9")


async def test_bulan_depan_and_sebulan_lagi_show_free_dates_from_there(h: Harness) -> None:
    await at_time_step(h)
    assert "Tanggal yang masih memiliki waktu kosong" in await h.say(REP, "bulan depan")
    assert options(h)[:2] == ["Selasa, 1 Desember 2026", "Rabu, 2 Desember 2026"]
    await h.say(REP, "sebulan lagi")  # from Wednesday 23 December (the 24th and 25th are closed)
    assert options(h)[:2] == ["Rabu, 23 Desember 2026", "Senin, 28 Desember 2026"]


async def test_a_weekday_depan_said_on_a_weekend_is_asked_about(h: Harness) -> None:
    await at_time_step(h)
    h.clock.set(datetime(2026, 11, 28, 10, 0, tzinfo=MAKASSAR))  # Saturday: "Jumat ini" is Friday 4 December
    reply = await h.say(REP, "Jumat depan jam 9")
    assert (
        "Maksud Bapak/Ibu Jumat, 4 Desember 2026 pukul 09.00 WITA atau Jumat, 11 Desember 2026 pukul 09.00 WITA?"
        in reply
    )
    assert "Jumat, 11 Desember 2026 pukul 09.00 WITA — benar?" in await h.say(REP, "2")
    await h.say(REP, "Tidak")
    await h.say(REP, "Jumat depan")
    assert options(h) == ["Jumat, 4 Desember 2026", "Jumat, 11 Desember 2026"]
    assert "Waktu yang masih kosong pada Jumat, 4 Desember 2026" in await h.say(REP, "1")


async def test_minggu_depan_shows_the_free_dates_of_next_week(h: Harness) -> None:
    await at_time_step(h)
    await h.say(REP, "minggu depan")
    assert options(h)[:2] == ["Senin, 30 November 2026", "Selasa, 1 Desember 2026"]


async def test_approved_audiences_with_their_buffers_and_full_days_are_not_offered(h: Harness) -> None:
    # Four audiences approved on Wednesday 25 November fill the day (at most four a day by default).
    for number, hour in enumerate((8, 10, 12, 14), start=1):
        request_id = await submit_any(h, Address("console", f"warga-{number + 10}"))
        await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
        await h.say(PROTOKOL, f"Rabu, 25 November 2026 jam {hour}", staff=True)
        await h.say(PROTOKOL, "Ya", staff=True)
        await h.say(PROTOKOL, "1", staff=True)
        assert "Keputusan tersimpan" in await h.say(PROTOKOL, "1", staff=True)
    await at_time_step(h)
    assert "Rabu, 25 November 2026" not in options(h)
    reply = await h.say(REP, "25 November jam 15")
    assert "Jadwal pada Rabu, 25 November 2026 sudah penuh." in reply


async def test_a_time_within_another_audience_is_taken_and_one_within_its_buffer_too_close(h: Harness) -> None:
    first = Address("console", "warga-11")
    await h.dialog(first, [*HAPPY[:-1], ("Kirim", "AUD-2026-000001")])
    [request] = await h.requests_of(first)
    assert "Keputusan tersimpan" in await approve(h, request.id or 0)  # Wednesday 25 November 09.00–10.00
    await at_time_step(h)
    await h.say(REP, "1")
    # 09.00 is taken, and with the 30-minute buffer so are 08.00 (it would end at 09.00) and 10.00.
    assert options(h)[:2] == ["10.30", "11.00"]
    reply = await h.say(REP, "25 November 2026 jam 10")
    assert ("Rabu, 25 November 2026 pukul 10.00 WITA terlalu dekat dengan audiensi lain: sebelum dan sesudah setiap "
            "audiensi disisihkan waktu 30 menit.") in reply  # fmt: skip
    assert options(h)[:2] == ["Rabu, 25 November 2026 pukul 10.30 WITA", "Rabu, 25 November 2026 pukul 11.00 WITA"]
    assert "terlalu dekat dengan audiensi lain" in await h.say(REP, "25 November 2026 jam 8")
    assert "Rabu, 25 November 2026 pukul 09.30 WITA sudah terisi." in await h.say(REP, "25 November 2026 jam 9.30")


async def test_an_estimated_holiday_is_named_as_such(h: Harness) -> None:
    await at_time_step(h)
    h.clock.set(datetime(2027, 2, 22, 9, 0, tzinfo=MAKASSAR))  # Idul Fitri 2027 is still an estimate: 10 March
    reply = await h.say(REP, "10 Maret jam 10")
    assert ("10 Maret 2027 adalah Hari Raya Idul Fitri (tanggalnya masih perkiraan dan dapat berubah); pada hari "
            "tersebut tidak ada audiensi.") in reply  # fmt: skip


async def test_after_a_refusal_a_time_typed_alone_is_on_the_refused_date(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "Jumat, 27 November 2026 jam 12")  # Friday prayers: outside office hours
    assert "berada di luar jam kerja" in reply
    assert "Jumat, 27 November 2026 pukul 09.45 WITA — benar?" in await h.say(REP, "jam 9.45")


async def test_a_staff_day_off_is_never_offered_and_is_refused_with_its_reason(h: Harness) -> None:
    async with h.uow() as uow:
        await uow.days_off.add(DayOffEntry("wakil-walikota", date(2026, 11, 26), "Kunjungan kerja ke Jakarta",
                                           "Petugas Protokol"))  # fmt: skip
        await uow.days_off.add(DayOffEntry(None, date(2026, 11, 27), "Hari jadi kota", "Petugas Protokol"))
        await uow.commit()
    await at_time_step(h)
    assert options(h)[:2] == ["Rabu, 25 November 2026", "Senin, 30 November 2026"]
    reply = await h.say(REP, "26 November jam 10")
    assert "Pejabat tidak menerima audiensi pada Kamis, 26 November 2026: Kunjungan kerja ke Jakarta." in reply


async def test_chosen_times_are_not_offered_again(h: Harness) -> None:
    await at_time_step(h)
    await h.say(REP, "1")
    await h.say(REP, "08.00")
    await h.say(REP, "1")
    assert "08.00" not in options(h)
    reply = await h.say(REP, "Rabu, 25 November 2026 jam 8")
    assert "Pilihan tersebut sudah dipilih" in reply


async def test_the_summary_reads_the_chosen_times_in_full(h: Harness) -> None:
    await at_time_step(h)
    await h.dialog(REP, [("1", "Rabu"), ("2", "Dicatat"), ("Selesai", "nomor surat"), ("lewati", "Mohon periksa")])
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" in h.last[0].body
    await h.say(REP, "Kirim")
    [request] = await h.requests_of(REP)
    assert request.preferred_times == (datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR),)


async def test_a_year_less_date_just_past_is_refused_as_past_naming_the_date(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=MAKASSAR))  # Tuesday
    await at_time_step(h)
    reply = await h.say(REP, "23 November jam 10")
    assert "Senin, 23 November 2026 pukul 10.00 WITA sudah lewat." in reply  # not "at most 60 days ahead"
    assert "Berikut waktu kosong terdekat" in reply and options(h)[-1] == "Tanggal lain"
    await h.say(REP, "Tanggal lain")
    assert "Senin, 23 November 2026 sudah lewat." in await h.say(REP, "23/11")


async def test_a_year_less_date_in_january_said_in_late_december_is_next_year(h: Harness) -> None:
    h.clock.set(datetime(2026, 12, 28, 9, 0, tzinfo=MAKASSAR))
    await at_time_step(h)
    assert "5 Januari 2027 adalah Isra Mikraj" in await h.say(REP, "5 Januari jam 10")  # 2027, not 2026 past
    assert "Rabu, 6 Januari 2027 pukul 10.00 WITA — benar?" in await h.say(REP, "6 Januari jam 10")


async def test_a_refusal_beyond_the_horizon_says_which_date_was_understood(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "15 Maret 2027 jam 10")
    assert "Senin, 15 Maret 2027 pukul 10.00 WITA terlalu jauh ke depan." in reply


async def test_jam_2_without_a_part_of_the_day_is_the_afternoon(h: Harness) -> None:
    await at_time_step(h)
    assert "Kamis, 26 November 2026 pukul 14.00 WITA — benar?" in await h.say(REP, "Kamis 26 November jam 2")


TIME_ONLY = [("10", "10.00"), ("9.30", "09.30"), ("09:30", "09.30"), ("jam 2", "14.00"),
             ("pukul 14.00", "14.00"), ("setengah 10", "09.30"), ("jam sepuluh", "10.00")]  # fmt: skip


@pytest.mark.parametrize(("typed", "clock"), TIME_ONLY, ids=[t for t, _ in TIME_ONLY])
async def test_a_time_alone_at_the_times_of_a_date_means_that_time_on_it(h: Harness, typed: str, clock: str) -> None:
    await at_time_step(h)
    await h.say(REP, "Kamis, 26 November 2026")
    assert f"Kamis, 26 November 2026 pukul {clock} WITA — benar?" in await h.say(REP, typed)
    assert f"Dicatat: Kamis, 26 November 2026 pukul {clock} WITA." in await h.say(REP, "Ya")


async def test_not_understood_at_the_times_of_a_date_asks_for_a_time(h: Harness) -> None:
    await at_time_step(h)
    await h.say(REP, "Kamis, 26 November 2026")
    reply = await h.say(REP, "kapan saja")
    assert "kami belum dapat memahami jam tersebut" in reply and "“10.30”" in reply
    assert "tanggal tersebut" not in reply


async def test_a_time_typed_in_another_zone_is_converted_and_echoed_in_the_office_zone(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "Kamis, 26 November 2026 pukul 10.00 WIT")
    assert "Kamis, 26 November 2026 pukul 09.00 WITA (10.00 WIT) — benar?" in reply
    assert "Dicatat: Kamis, 26 November 2026 pukul 09.00 WITA." in await h.say(REP, "Ya")


async def test_minggu_depan_with_a_time_keeps_the_time_for_the_date_chosen(h: Harness) -> None:
    await at_time_step(h)
    reply = await h.say(REP, "minggu depan jam 10")
    assert "Pada tanggal berapa untuk pukul 10.00?" in reply
    assert options(h)[:2] == ["Senin, 30 November 2026", "Selasa, 1 Desember 2026"]
    assert "Selasa, 1 Desember 2026 pukul 10.00 WITA — benar?" in await h.say(REP, "Selasa, 1 Desember 2026")


async def test_staff_open_a_cuti_bersama_as_a_working_day_from_the_chat_and_it_is_offered(h: Harness) -> None:
    reply = await h.say(PROTOKOL, "/libur", staff=True)
    assert "Buka libur nasional" in reply
    reply = await h.say(PROTOKOL, "Buka libur nasional", staff=True)
    assert "Untuk pejabat mana hari libur tersebut tetap menjadi hari kerja?" in reply
    reply = await h.say(PROTOKOL, "Semua pejabat", staff=True)
    assert "Hari libur nasional atau cuti bersama mana" in reply
    await h.say(PROTOKOL, "24 Desember 2026", staff=True)
    await h.say(PROTOKOL, "SKB 3 Menteri: cuti bersama dipindahkan", staff=True)
    reply = await h.say(PROTOKOL, "Simpan", staff=True)
    assert "Tersimpan: Kamis, 24 Desember 2026 (Cuti Bersama Hari Raya Natal) menjadi hari kerja" in reply
    listing = await h.say(PROTOKOL, "/libur", staff=True)
    assert "Kamis, 24 Desember 2026 — Semua pejabat: hari kerja, SKB 3 Menteri" in listing

    await at_time_step(h)
    assert "Kamis, 24 Desember 2026 pukul 10.00 WITA — benar?" in await h.say(REP, "24 Desember jam 10")
    assert "25 Desember 2026 adalah Hari Raya Natal" in await h.say(REP, "25 Desember jam 10")  # still closed


async def test_opening_a_day_that_is_no_holiday_changes_nothing(h: Harness) -> None:
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, "Buka libur nasional", staff=True)
    await h.say(PROTOKOL, "Semua pejabat", staff=True)
    await h.say(PROTOKOL, "Kamis, 26 November 2026", staff=True)
    await h.say(PROTOKOL, "Salah input", staff=True)
    assert "bukan hari libur nasional atau cuti bersama" in await h.say(PROTOKOL, "Simpan", staff=True)
    async with h.uow() as uow:
        assert await uow.days_off.between(date(2026, 11, 1), date(2026, 12, 31)) == []
