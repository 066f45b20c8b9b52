"""The booking guarantee and staff days off: storage behaves alike on memory, SQLite and PostgreSQL, and two
approvals can never book overlapping times for one official — even when they run at the same instant.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from handlers.domain.model import Address, Booking, DayOffEntry, SlotTaken
from handlers.messages import PressIn
from storage.tables import BookingRow
from tests.harness import AJUDAN, MAKASSAR, PROTOKOL, Harness
from tests.integration.test_staff_decisions import KESBANGPOL
from tests.integration.test_time_step import submit_any

NINE = datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR)


def booking(request_id: int, start: datetime, official: str = "wakil-walikota") -> Booking:
    end = start + timedelta(hours=1)
    return Booking(request_id, official, start, end, end + timedelta(minutes=30))


async def two_requests(h: Harness) -> tuple[int, int]:
    first = await submit_any(h, Address("console", "warga-1"))
    second = await submit_any(h, Address("console", "warga-2"))
    return first, second


async def test_overlapping_bookings_of_one_official_are_refused_others_are_fine(h: Harness) -> None:
    first, second = await two_requests(h)
    async with h.uow() as uow:
        await uow.bookings.book(booking(first, NINE))
        with pytest.raises(SlotTaken):
            await uow.bookings.book(booking(second, NINE + timedelta(minutes=90) - timedelta(minutes=1)))
        with pytest.raises(SlotTaken):
            await uow.bookings.book(booking(second, NINE - timedelta(minutes=90) + timedelta(minutes=1)))
        # Exactly the buffer apart, before and after, and the same time for another official: all allowed.
        await uow.bookings.book(booking(second, NINE + timedelta(minutes=90)))
        await uow.bookings.book(booking(second, NINE - timedelta(minutes=90)))  # moves the second booking
        await uow.commit()
    async with h.uow() as uow:
        found = await uow.bookings.for_official("wakil-walikota", NINE - timedelta(days=1), NINE + timedelta(days=1))
        assert [(b.request_id, b.starts_at) for b in found] == [(second, NINE - timedelta(minutes=90)), (first, NINE)]
        assert await uow.bookings.release(first) is True
        assert await uow.bookings.release(first) is False
        await uow.bookings.book(booking(second, NINE))  # the freed time can be taken
        await uow.commit()
    async with h.uow() as uow:
        moved = await uow.bookings.for_request(second)
        assert moved is not None and moved.starts_at == NINE


async def test_a_refused_booking_leaves_the_transaction_usable(h: Harness) -> None:
    first, second = await two_requests(h)
    async with h.uow() as uow:
        await uow.bookings.book(booking(first, NINE))
        await uow.commit()
    async with h.uow() as uow:
        with pytest.raises(SlotTaken):
            await uow.bookings.book(booking(second, NINE))
        await uow.bookings.book(booking(second, NINE + timedelta(hours=2)))
        await uow.commit()
    async with h.uow() as uow:
        assert (await uow.bookings.for_request(second)) is not None


async def test_two_transactions_booking_overlapping_times_at_once_exactly_one_commits(sql_h: Harness) -> None:
    """The database guarantee itself, without the per-official lock the use case takes first.

    The first transaction books and waits; the second books an overlapping time for another request and is
    held by the database (PostgreSQL: the exclusion constraint; SQLite: the write lock) until the first
    commits, and is then refused.
    """
    h = sql_h
    first, second = await two_requests(h)
    booked = asyncio.Event()
    release = asyncio.Event()

    async def one() -> str:
        async with h.uow() as uow:
            await uow.bookings.book(booking(first, NINE))
            booked.set()
            await release.wait()
            await uow.commit()
        return "committed"

    async def two() -> str:
        await booked.wait()
        try:
            async with h.uow() as uow:
                await uow.bookings.book(booking(second, NINE + timedelta(minutes=30)))
                await uow.commit()
        except SlotTaken:
            return "refused"
        return "committed"

    task_one, task_two = asyncio.create_task(one()), asyncio.create_task(two())
    await booked.wait()
    if h.backend == "postgres":
        await until_a_transaction_waits_for_a_lock(h)  # the second insert is held by the constraint's index
    release.set()
    assert sorted(await asyncio.gather(task_one, task_two)) == ["committed", "refused"]
    async with h.uow() as uow:
        found = await uow.bookings.for_official("wakil-walikota", NINE - timedelta(days=1), NINE + timedelta(days=1))
    assert [b.request_id for b in found] == [first]


async def until_a_transaction_waits_for_a_lock(h: Harness) -> None:
    assert h.engine is not None
    for _ in range(500):
        async with h.engine.connect() as connection:
            waiting = (await connection.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


async def test_postgres_refuses_an_overlap_that_bypasses_every_check(sql_h: Harness) -> None:
    """The exclusion constraint itself: rows written straight into the table, no repository check."""
    if sql_h.backend != "postgres":
        pytest.skip("the exclusion constraint exists on PostgreSQL; SQLite serializes writers instead")
    first, second = await two_requests(sql_h)
    with pytest.raises(SlotTaken):
        async with sql_h.uow() as uow:
            for request_id, start in ((first, NINE), (second, NINE + timedelta(minutes=89))):
                b = booking(request_id, start)
                await uow.session.execute(  # type: ignore[attr-defined]
                    insert(BookingRow).values(request_id=b.request_id, official_key=b.official_key,
                                              starts_at=b.starts_at, ends_at=b.ends_at, blocked_until=b.blocked_until)
                )  # fmt: skip
            await uow.commit()


async def test_two_staff_approving_different_requests_for_the_same_time_exactly_one_wins(h: Harness) -> None:
    first, second = await two_requests(h)
    for staff, request_id in ((PROTOKOL, first), (KESBANGPOL, second)):
        await h.say(staff, PressIn(f"g:approve:{request_id}"), staff=True)
        await h.say(staff, "Rabu, 25 November 2026 jam 9", staff=True)
        await h.say(staff, "Ya", staff=True)
        await h.say(staff, "1", staff=True)  # the room; the summary now waits for "Setujui"
    replies = await asyncio.gather(h.say(PROTOKOL, "1", staff=True), h.say(KESBANGPOL, "1", staff=True))
    won = [r for r in replies if "Keputusan tersimpan" in r]
    lost = [r for r in replies if "sudah terisi" in r]
    assert len(won) == 1 and len(lost) == 1, replies
    # The loser is asked again, with free times only, and nothing of theirs was stored.
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" not in lost[0].split("sudah terisi", 1)[1]
    statuses = sorted([(await h.request(f"AUD-2026-00000{n}")).status.value for n in (1, 2)])
    assert statuses == ["approved", "submitted"]
    async with h.uow() as uow:
        found = await uow.bookings.for_official("wakil-walikota", NINE - timedelta(days=1), NINE + timedelta(days=1))
    assert len(found) == 1 and found[0].starts_at == NINE


async def test_days_off_are_added_updated_listed_and_removed(h: Harness) -> None:
    day = date(2026, 12, 4)
    async with h.uow() as uow:
        everyone = await uow.days_off.add(DayOffEntry(None, day, "Hari jadi kota", "Petugas Protokol"))
        mine = await uow.days_off.add(DayOffEntry("walikota", day, "Kunjungan kerja", "Petugas Protokol"))
        again = await uow.days_off.add(DayOffEntry("walikota", day, "Kunjungan kerja ke Jakarta", "Petugas Kesbangpol"))
        await uow.days_off.add(DayOffEntry("sekda", date(2026, 12, 5), "Rapat", "Petugas Protokol"))
        await uow.commit()
    assert again.id == mine.id
    async with h.uow() as uow:
        for_mayor = await uow.days_off.between(date(2026, 12, 1), date(2026, 12, 31), "walikota")
        everything = await uow.days_off.between(date(2026, 12, 1), date(2026, 12, 31))
        assert [(e.official_key, e.reason) for e in for_mayor] == [
            (None, "Hari jadi kota"), ("walikota", "Kunjungan kerja ke Jakarta")]  # fmt: skip
        assert len(everything) == 3
        assert (await uow.days_off.remove(everyone.id or 0)) is not None
        assert (await uow.days_off.remove(everyone.id or 0)) is None
        await uow.commit()
    async with h.uow() as uow:
        assert len(await uow.days_off.between(date(2026, 12, 1), date(2026, 12, 31))) == 2


async def test_staff_block_and_open_a_day_from_the_chat(h: Harness) -> None:
    reply = await h.say(PROTOKOL, "/libur", staff=True)
    assert "Belum ada hari libur yang ditambahkan petugas." in reply
    assert "Hari Raya Natal" in reply  # the national holidays ahead, for reference
    reply = await h.say(PROTOKOL, "Tambah hari libur", staff=True)
    assert "Untuk pejabat mana" in reply and "1. Semua pejabat" in reply
    await h.say(PROTOKOL, "Semua pejabat", staff=True)
    assert "Tanggal tersebut sudah lewat" in await h.say(PROTOKOL, "01/11/2026", staff=True)
    reply = await h.say(PROTOKOL, "27 November 2026", staff=True)
    assert "Tanggal: Jumat, 27 November 2026." in reply
    await h.say(PROTOKOL, "Hari jadi Kota Makassar", staff=True)
    assert "Tersimpan: Jumat, 27 November 2026 ditutup untuk Semua pejabat" in await h.say(
        PROTOKOL, "Simpan", staff=True
    )

    rep = Address("console", "warga-5")
    await submit_any(h, rep)  # (takes Wednesday 25 November; pending requests block nothing)
    from tests.integration.test_time_step import at_time_step, options

    await at_time_step(h, rep)
    assert "Jumat, 27 November 2026" not in options(h)
    reply = await h.say(rep, "27 November jam 9")
    assert "Pejabat tidak menerima audiensi pada Jumat, 27 November 2026: Hari jadi Kota Makassar." in reply

    listing = await h.say(PROTOKOL, "/libur", staff=True)
    assert "Jumat, 27 November 2026 — Semua pejabat: Hari jadi Kota Makassar (Petugas Protokol)" in listing
    reply = await h.say(PROTOKOL, "Hapus 27 November 2026 (Semua pejabat)", staff=True)
    assert "Dihapus: Jumat, 27 November 2026 kembali dibuka" in reply
    assert "sudah dihapus" in await h.say(PROTOKOL, PressIn("g:dayoff_del:999999"), staff=True)


async def test_an_ajudan_blocks_days_only_for_their_official(h: Harness) -> None:
    await h.say(AJUDAN, "/libur", staff=True)
    reply = await h.say(AJUDAN, "Tambah hari libur", staff=True)
    assert "Semua pejabat" not in reply and "Wakil Wali Kota Makassar" in reply and "Sekretaris" not in reply


async def test_blocking_a_day_with_approved_audiences_names_them(h: Harness) -> None:
    request_id = await submit_any(h, Address("console", "warga-1"))  # prefers Wednesday 25 November 08.00
    await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, "Tambah hari libur", staff=True)
    await h.say(PROTOKOL, "Wakil Wali Kota Makassar", staff=True)
    await h.say(PROTOKOL, "Rabu, 25 November 2026", staff=True)
    await h.say(PROTOKOL, "Kunjungan kerja ke Jakarta", staff=True)
    reply = await h.say(PROTOKOL, "Simpan", staff=True)
    assert "Audiensi yang sudah disetujui pada hari tersebut: AUD-2026-000001" in reply
