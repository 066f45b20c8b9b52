"""After the request, on Telegram: counter-offers, cancelling, moving, disposisi, postponing and days off.

The real bot client against the fake Bot API server on loopback. Staff decide in the staff group, the
representative answers in their private chat; each step asserts what the person sees in their chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.channels.telegram_rate import SlidingWindowLimiter, TelegramRateLimiter
from handlers.domain.model import RequestStatus
from tests.conftest import BACKENDS, START
from tests.e2e.telegram_world import (
    FORM_TO_ATTENDEES,
    KESBANGPOL_ID,
    PROTOKOL_ID,
    STAFF_GROUP,
    World,
    running_bot,
)
from tests.e2e.test_telegram import REP, approve_first_preferred_time, card_of, labels, request_audience
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.harness import MAKASSAR, empty_database_url

GROUP = STAFF_GROUP
WED_0800 = "Rabu, 25 November 2026 pukul 08.00 WITA"
WED_0900 = "Rabu, 25 November 2026 pukul 09.00 WITA"
WAKIL_ROOM = "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=BACKENDS[2].marks)])
async def world(request: pytest.FixtureRequest, telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    """The bot on SQLite and on PostgreSQL (where the exclusion constraint guards the bookings)."""
    url = await empty_database_url(request.param)
    async with running_bot(telegram_api, tmp_path, FakeClock(START), database_url=url) as running:
        yield running


# ---- helpers: one person's move, and what their chat shows next ---------------------------------------------


async def step(w: World, chat: int, action: Callable[[], Any], expect: str, *, asks: bool = False) -> SentMessage:
    """Do something, then wait for a new (or newly edited) message in `chat` showing `expect`; with `asks`, one
    that also offers buttons (the next question, not the closed keyboard of the one just answered)."""
    before = {m.message_id: (m.text, m.reply_markup) for m in w.api.messages_to(chat)}
    action()

    def arrived() -> SentMessage | None:
        for message in w.api.messages_to(chat, include_deleted=False):
            if (
                message.text is not None
                and expect in message.text
                and before.get(message.message_id) != (message.text, message.reply_markup)
                and (labels(message) or not asks)
            ):
                return message
        return None

    return await w.api.wait_for(arrived, timeout=8, description=f"{expect!r} in chat {chat}")


async def tap(w: World, user: int, label: str, expect: str, chat: int | None = None, *, asks: bool = False
              ) -> SentMessage:  # fmt: skip
    """`user` taps the newest button labelled `label` in `chat` (their private chat by default)."""
    where = user if chat is None else chat
    return await step(w, where, lambda: w.api.user_press_button(user, label, where), expect, asks=asks)


async def type_(w: World, user: int, text: str, expect: str, chat: int | None = None, *, asks: bool = False
                ) -> SentMessage:  # fmt: skip
    where = user if chat is None else chat
    return await step(w, where, lambda: w.api.user_text(user, text, chat), expect, asks=asks)


async def answer(w: World, user: int, question: SentMessage, text: str, expect: str) -> SentMessage:
    """A staff member answers the bot's question in the group by replying to it ("balas pesan ini")."""
    return await w.step(GROUP, lambda: w.api.user_reply(user, GROUP, question.message_id, text), expect)


async def press_on(w: World, user: int, message: SentMessage, label: str, expect: str) -> SentMessage:
    """`user` presses the button `label` on one particular message in the group."""
    data = message.button_data(label)
    return await w.step(GROUP, lambda: w.api.user_press(user, message.message_id, data, GROUP), expect)


async def card_showing(w: World, card: SentMessage, text: str) -> SentMessage:
    """The request's card in the group, once it has been edited to show `text`."""
    return await w.api.wait_for(
        lambda: next((m for m in w.api.messages_to(GROUP) if m.message_id == card.message_id and text in m.text), None),
        description=f"the card showing {text!r}",
    )


async def status_of(w: World, reference: str) -> RequestStatus:
    async with w.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None
    return request.status


async def propose_two_times(w: World, card: SentMessage) -> SentMessage:
    """Staff press "Usulkan Waktu Lain" on the card, pick two free times with buttons and send them."""
    offered = await press_on(w, PROTOKOL_ID, card, "Usulkan Waktu Lain", "Usulkan waktu lain untuk AUD-2026-000001")
    assert WED_0800 in labels(offered)
    second = await tap(w, PROTOKOL_ID, WED_0800, "Sudah dipilih", GROUP, asks=True)
    assert WED_0800 not in labels(second)  # a time already picked is not offered again
    await tap(w, PROTOKOL_ID, labels(second)[0], "Sudah dipilih", GROUP, asks=True)
    message = await tap(w, PROTOKOL_ID, "Selesai", "Pesan untuk perwakilan", GROUP)
    await answer(w, PROTOKOL_ID, message, "Pada waktu yang diminta Wakil Wali Kota ada agenda lain.", "Kirim usulan")
    return await tap(w, PROTOKOL_ID, "Kirim usulan", "Keputusan tersimpan", GROUP)


# ---- Usulkan Waktu Lain -------------------------------------------------------------------------------------


async def test_staff_propose_times_in_the_group_and_the_representative_taps_one(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await propose_two_times(world, card)
    await card_showing(world, card, "Diusulkan waktu lain")
    offer = await api.wait_for_message(REP, "Petugas mengusulkan waktu lain")
    assert "Pada waktu yang diminta Wakil Wali Kota ada agenda lain." in offer.text
    assert labels(offer)[0] == WED_0800 and labels(offer)[-1] == "Tolak usulan"

    told = await world.step(REP, lambda: api.user_press(REP, offer.message_id, offer.button_data(WED_0800)),
                            "telah disetujui")  # fmt: skip
    assert WED_0800 in told.text and WAKIL_ROOM in told.text
    edited = await card_showing(world, card, "Disetujui")
    assert labels(edited) == ["Terlaksana", "Tidak hadir", "Ditunda", "Disposisi", "Lihat Surat"]
    assert await status_of(world, reference) is RequestStatus.APPROVED
    # The representative's answer is a reply to the card, not a second card.
    note = await api.wait_for_message(GROUP, "Perwakilan menerima waktu yang diusulkan untuk AUD-2026-000001")
    assert note.message_id != card.message_id and not labels(note)


async def test_the_representative_declines_the_proposal_and_staff_read_the_message_on_the_card(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await propose_two_times(world, card)
    await api.wait_for_message(REP, "Petugas mengusulkan waktu lain")
    await tap(world, REP, "Tolak usulan", "menolak waktu yang diusulkan untuk AUD-2026-000001")
    await type_(world, REP, "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi.", "Petugas telah diberi tahu")
    edited = await card_showing(
        world, card, "Pesan dari perwakilan: Hari Rabu kami ada kegiatan; mohon hari Kamis pagi."
    )
    assert "Status: Menunggu keputusan" in edited.text
    assert labels(edited) == ["Setujui", "Tolak", "Minta Info", "Usulkan Waktu Lain", "Disposisi", "Lihat Surat"]
    await api.wait_for_message(GROUP, "Perwakilan menolak waktu yang diusulkan untuk AUD-2026-000001")
    assert await status_of(world, reference) is RequestStatus.SUBMITTED


def a_minute_passes_in_the_group(w: World) -> None:
    """Two proposals in a row send the group more than Telegram's 20 messages a minute, which the bot's rate
    limiter keeps (real time); a test that is not about that limit lets its window pass instead of waiting."""
    limiter = w.channel.bot.rate_limiter
    assert isinstance(limiter, TelegramRateLimiter)
    window = limiter._get_group_limiter(GROUP)
    assert isinstance(window, SlidingWindowLimiter)
    window._granted.clear()


async def test_a_button_of_an_earlier_offer_never_books_the_time_offered_now(world: World) -> None:
    """Staff propose 08.00 and 08.30; the representative declines from a newer copy of the offer; staff propose
    other times; the first message's buttons (still open in the chat) book and decline nothing."""
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await propose_two_times(world, card)
    first = await api.wait_for_message(REP, "Petugas mengusulkan waktu lain")
    first_offer = labels(first)
    await type_(world, REP, "/status", "status: Diusulkan waktu lain")
    await tap(world, REP, "Pilih waktu yang ditawarkan untuk AUD-2026-000001", "Petugas mengusulkan", asks=True)
    await tap(world, REP, "Tolak usulan", "menolak waktu yang diusulkan untuk AUD-2026-000001")
    await type_(world, REP, "lewati", "Petugas telah diberi tahu")
    await card_showing(world, card, "Status: Menunggu keputusan")
    a_minute_passes_in_the_group(world)

    offered = await press_on(world, PROTOKOL_ID, card, "Usulkan Waktu Lain", "Usulkan waktu lain untuk AUD-2026-000001")
    other = next(label for label in labels(offered) if "pukul" in label and label not in first_offer)
    await tap(world, PROTOKOL_ID, other, "Sudah dipilih", GROUP, asks=True)
    message = await tap(world, PROTOKOL_ID, "Selesai", "Pesan untuk perwakilan", GROUP)
    await answer(world, PROTOKOL_ID, message, "Hanya waktu ini yang masih kosong.", "Kirim usulan")
    await tap(world, PROTOKOL_ID, "Kirim usulan", "Keputusan tersimpan", GROUP)
    second = await api.wait_for_message(REP, "Hanya waktu ini yang masih kosong.")

    def alerts() -> list[str]:
        return [a["text"] for a in api.callback_answers() if a.get("show_alert")]

    # The first message's "Rabu … 08.00" and "Tolak usulan": an alert, the current offer again, nothing changed.
    # (The first press closes that keyboard; an old client may still show it for the second.)
    for label in (WED_0800, "Tolak usulan"):
        count = len(alerts())
        press = first.button_data(label)
        current = await world.step(REP, lambda press=press: api.user_press(REP, first.message_id, press,
                                                                           check_button=False),
                                   "Hanya waktu ini yang masih kosong.")  # fmt: skip
        await api.wait_for(lambda count=count: len(alerts()) > count, description="an alert on the old button")
        assert "Waktu yang ditawarkan untuk AUD-2026-000001 telah berubah" in alerts()[-1]
        assert labels(current) == [other, "Tolak usulan"]
        assert await status_of(world, reference) is RequestStatus.COUNTER_OFFERED
    assert not any("telah disetujui" in m.text or "menolak waktu" in m.text
                   for m in api.messages_to(REP) if m.message_id > second.message_id)  # fmt: skip
    # The current offer's button books the time it shows.
    told = await tap(world, REP, other, "telah disetujui")
    assert other in told.text
    assert await status_of(world, reference) is RequestStatus.APPROVED


# ---- cancelling -------------------------------------------------------------------------------------------


async def approved(w: World) -> tuple[str, SentMessage]:
    """A request approved in the group for Rabu 25 November 09.00 in the Wakil Wali Kota's room; its card."""
    reference = await request_audience(w)
    card = await card_of(w, reference)
    await approve_first_preferred_time(w, card)
    told = await w.api.wait_for_message(REP, "telah disetujui")
    assert WED_0900 in told.text
    return reference, await card_showing(w, card, "Status: Disetujui")


async def test_the_representative_cancels_from_status_and_the_time_can_be_booked_again(world: World) -> None:
    api = world.api
    reference, card = await approved(world)
    status = await type_(world, REP, "/status", "AUD-2026-000001", asks=True)
    assert "Batalkan AUD-2026-000001" in labels(status) and "Ubah jadwal AUD-2026-000001" in labels(status)
    await tap(world, REP, "Batalkan AUD-2026-000001", "mohon tuliskan alasannya")
    await type_(world, REP, "tak", "terlalu singkat")
    await type_(
        world, REP, "Ketua organisasi berhalangan karena tugas ke luar kota.", "Batalkan permohonan audiensi ini?"
    )
    await tap(world, REP, "Ya, batalkan permohonan", "telah dibatalkan")
    edited = await card_showing(world, card, "Status: Dibatalkan")
    assert labels(edited) == ["Lihat Surat"]  # nothing left to decide; the letter can still be read
    await api.wait_for_message(GROUP, "Perwakilan membatalkan AUD-2026-000001")
    assert await status_of(world, reference) is RequestStatus.CANCELLED
    # Another organization now finds Rabu 09.00 free (request_audience taps "09.00"), and staff can approve it.
    second = await request_audience(world, user=5002, org="LSM Peduli Pesisir")
    await approve_first_preferred_time(world, await card_of(world, second))
    assert WED_0900 in (await api.wait_for_message(5002, "telah disetujui")).text


# ---- moving an audience -------------------------------------------------------------------------------------


async def ask_to_move(w: World) -> None:
    await type_(w, REP, "/status", "AUD-2026-000001", asks=True)
    moving = await tap(w, REP, "Ubah jadwal AUD-2026-000001", "tetap dipesan sampai petugas menyetujui")
    assert WED_0900 in moving.text
    await type_(w, REP, "Kamis, 3 Desember 2026 jam 13.00", "Kamis, 3 Desember 2026 pukul 13.00 WITA — benar?")
    await tap(w, REP, "Ya, benar", "Sudah dipilih", asks=True)
    await tap(w, REP, "Selesai", "Mengapa")
    await type_(w, REP, "Ketua organisasi bertugas ke luar kota pada tanggal tersebut.", "Kirim", asks=True)
    told = await tap(w, REP, "Kirim", "telah diteruskan kepada petugas")
    assert "tetap pada Rabu, 25 November 2026" in told.text


async def test_a_move_asked_in_private_is_approved_by_staff_on_the_card(world: World) -> None:
    api = world.api
    reference, card = await approved(world)
    await ask_to_move(world)
    moved = await card_showing(world, card, "Kamis, 3 Desember 2026 pukul 13.00 WITA")
    assert labels(moved) == ["Setujui", "Tetap waktu semula", "Ditunda", "Lihat Surat"]
    await api.wait_for_message(GROUP, "Perwakilan meminta perubahan jadwal AUD-2026-000001")
    times = await press_on(world, PROTOKOL_ID, moved, "Setujui", "pilih salah satu waktu")
    assert labels(times)[0] == "Kamis, 3 Desember 2026 pukul 13.00 WITA"  # the time asked for, first
    await tap(world, PROTOKOL_ID, labels(times)[0], "Di mana", GROUP)
    await tap(world, PROTOKOL_ID, WAKIL_ROOM, "Setujui audiensi ini?", GROUP)
    await tap(world, PROTOKOL_ID, "Setujui", "Keputusan tersimpan", GROUP)
    told = await api.wait_for_message(REP, "telah diubah ke waktu baru")
    assert "Kamis, 3 Desember 2026 pukul 13.00 WITA" in told.text
    await card_showing(world, card, "Status: Disetujui")
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.status is RequestStatus.APPROVED
    assert request.scheduled_at == datetime(2026, 12, 3, 13, 0, tzinfo=MAKASSAR)


async def test_staff_keep_the_old_time_and_the_representative_is_told(world: World) -> None:
    api = world.api
    reference, card = await approved(world)
    await ask_to_move(world)
    moved = await card_showing(world, card, "Kamis, 3 Desember 2026 pukul 13.00 WITA")
    question = await press_on(world, PROTOKOL_ID, moved, "Tetap waktu semula", f"AUD-2026-000001 tetap pada {WED_0900}")
    summary = await answer(world, PROTOKOL_ID, question, "Pejabat bertugas ke luar kota sepanjang Desember.", "?")
    await press_on(world, PROTOKOL_ID, summary, labels(summary)[0], "Keputusan tersimpan")
    told = await api.wait_for_message(REP, "tidak dapat dipenuhi")
    assert f"tetap dilaksanakan pada {WED_0900}" in told.text
    assert "Pejabat bertugas ke luar kota sepanjang Desember." in told.text
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.status is RequestStatus.APPROVED
    assert request.scheduled_at == datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR)


# ---- disposisi ----------------------------------------------------------------------------------------------


async def test_disposisi_from_the_card_tells_the_representative_who_will_receive_them(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    officials = await press_on(world, PROTOKOL_ID, card, "Disposisi", "Disposisi AUD-2026-000001")
    assert "Wakil Wali Kota Makassar" not in " ".join(labels(officials))  # not to the official it is for already
    kesbangpol = next(label for label in labels(officials) if "Kesatuan Bangsa" in label)
    question = await tap(world, PROTOKOL_ID, kesbangpol, "balas pesan ini", GROUP)
    summary = await answer(world, PROTOKOL_ID, question, "Kepala Kesbangpol yang membidangi organisasi kepemudaan.",
                           "Disposisikan")  # fmt: skip
    await press_on(world, PROTOKOL_ID, summary, "Disposisikan", "Keputusan tersimpan")
    told = await api.wait_for_message(REP, "telah didisposisikan")
    assert "dari Wakil Wali Kota Makassar (Nama Wakil Wali Kota) kepada Kepala Badan" in told.text
    edited = await card_showing(world, card, "Disposisi: dialihkan dari Wakil Wali Kota Makassar")
    assert "Pejabat: Kepala Badan Kesatuan Bangsa dan Politik" in edited.text and "Setujui" in labels(edited)
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and (request.official_key, request.status) == ("kesbangpol", RequestStatus.SUBMITTED)


async def test_an_approved_audience_handed_over_keeps_its_time_with_the_receiving_official(world: World) -> None:
    api = world.api
    reference, card = await approved(world)
    officials = await press_on(world, PROTOKOL_ID, card, "Disposisi", "Disposisi AUD-2026-000001")
    sekda = next(label for label in labels(officials) if "Sekretaris Daerah" in label)
    rooms = await tap(world, PROTOKOL_ID, sekda, f"tetap pada {WED_0900}", GROUP, asks=True)
    room = next(label for label in labels(rooms) if "Ruang Rapat Sekretariat Daerah" in label)
    await tap(world, PROTOKOL_ID, room, "Lewati", GROUP, asks=True)
    await tap(world, PROTOKOL_ID, "Lewati", "Disposisikan", GROUP, asks=True)
    await tap(world, PROTOKOL_ID, "Disposisikan", "Keputusan tersimpan", GROUP)
    told = await api.wait_for_message(REP, "akan diterima oleh Sekretaris Daerah Kota Makassar")
    assert WED_0900 in told.text and "Ruang Rapat Sekretariat Daerah" in told.text
    edited = await card_showing(world, card, "Sekretaris Daerah")
    assert "Status: Disetujui" in edited.text
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
        assert request is not None and request.id is not None
        booking = await uow.bookings.for_request(request.id)
    assert (request.official_key, request.status) == ("sekda", RequestStatus.APPROVED)
    assert booking is not None and booking.official_key == "sekda"


# ---- postponed by the official ------------------------------------------------------------------------------


async def test_a_postponed_audience_is_offered_again_and_the_representative_taps_a_new_time(world: World) -> None:
    api = world.api
    reference, card = await approved(world)
    question = await press_on(world, PROTOKOL_ID, card, "Ditunda", f"Tunda AUD-2026-000001 ({WED_0900})")
    times = await answer(world, PROTOKOL_ID, question, "Wakil Wali Kota mendadak bertugas ke Jakarta.",
                         "Waktu baru mana yang dapat ditawarkan")  # fmt: skip
    assert WED_0900 not in labels(times)  # not the same time again
    offered = labels(times)[0]
    await tap(world, PROTOKOL_ID, offered, "Sudah dipilih", GROUP, asks=True)
    await tap(world, PROTOKOL_ID, "Selesai", "Tunda", GROUP, asks=True)
    await tap(world, PROTOKOL_ID, "Tunda", "Keputusan tersimpan", GROUP)
    await card_showing(world, card, "Status: Ditunda")
    offer = await api.wait_for_message(REP, "ditunda oleh pejabat")
    assert "Wakil Wali Kota mendadak bertugas ke Jakarta." in offer.text
    assert labels(offer) == [offered, "Waktu lain", "Batalkan permohonan"]
    told = await tap(world, REP, offered, "telah disetujui")
    assert offered in told.text
    assert await status_of(world, reference) is RequestStatus.APPROVED
    await card_showing(world, card, "Status: Disetujui")


# ---- days off -------------------------------------------------------------------------------------------


async def test_a_day_off_added_with_libur_in_the_group_is_no_longer_offered(world: World) -> None:
    listing = await type_(world, PROTOKOL_ID, "/libur", "Belum ada hari libur yang ditambahkan petugas.", GROUP)
    assert "Hari Raya Natal" in listing.text and "Tambah hari libur" in labels(listing)
    await tap(world, PROTOKOL_ID, "Tambah hari libur", "Untuk pejabat mana", GROUP, asks=True)
    question = await tap(world, PROTOKOL_ID, "Semua pejabat", "balas pesan ini", GROUP)
    question = await answer(world, PROTOKOL_ID, question, "27 November 2026", "Tanggal: Jumat, 27 November 2026.")
    summary = await answer(world, PROTOKOL_ID, question, "Hari jadi Kota Makassar", "Simpan")
    saved = await press_on(world, PROTOKOL_ID, summary, "Simpan", "Tersimpan")
    assert "Jumat, 27 November 2026 ditutup untuk Semua pejabat" in saved.text

    dates = await at_the_dates(world)
    assert "Kamis, 26 November 2026" in labels(dates) and "Jumat, 27 November 2026" not in labels(dates)
    refused = await type_(world, REP, "27 November jam 9", "Jumat, 27 November 2026")
    assert "Pejabat tidak menerima audiensi pada Jumat, 27 November 2026: Hari jadi Kota Makassar." in refused.text


async def at_the_dates(w: World, user: int = REP) -> SentMessage:
    """A representative's request typed up to the free dates of the Wakil Wali Kota."""
    await type_(w, user, "/ajukan", "Apa nama organisasi")
    for said, expected in FORM_TO_ATTENDEES:
        await type_(w, user, said, expected)
    return await type_(w, user, "5", "paling banyak tiga waktu", asks=True)


# ---- typing in the group ------------------------------------------------------------------------------------


async def test_staff_type_a_time_as_a_reply_to_the_question_and_it_is_read_back(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    times = await press_on(world, PROTOKOL_ID, card, "Setujui", "pilih salah satu waktu")
    assert "balas pesan ini" in times.text
    echoed = await answer(world, PROTOKOL_ID, times, "Kamis, 3 Desember 2026 jam 10",
                          "Kamis, 3 Desember 2026 pukul 10.00 WITA — benar?")  # fmt: skip
    await press_on(world, PROTOKOL_ID, echoed, "Ya, benar", "Di mana")
    await tap(world, PROTOKOL_ID, WAKIL_ROOM, "Setujui audiensi ini?", GROUP)
    await tap(world, PROTOKOL_ID, "Setujui", "Keputusan tersimpan", GROUP)
    told = await api.wait_for_message(REP, "telah disetujui")
    assert "Kamis, 3 Desember 2026 pukul 10.00 WITA" in told.text


async def test_a_typed_hour_at_a_dates_free_times_means_that_hour(world: World) -> None:
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await press_on(world, PROTOKOL_ID, card, "Usulkan Waktu Lain", "Usulkan waktu lain")
    dates = await tap(world, PROTOKOL_ID, "Tanggal lain", "Tanggal yang masih memiliki waktu kosong", GROUP, asks=True)
    assert "Kamis, 26 November 2026" in labels(dates)
    times = await tap(world, PROTOKOL_ID, "Kamis, 26 November 2026", "Waktu yang masih kosong", GROUP, asks=True)
    assert "09.00" in labels(times) and not any(label[0].isdigit() and "." not in label for label in labels(times))
    # The buttons carry no numbers, so "9" is not the ninth button: it is 09.00 on that date, read back.
    echoed = await answer(world, PROTOKOL_ID, times, "9", "Kamis, 26 November 2026 pukul 09.00 WITA — benar?")
    await press_on(world, PROTOKOL_ID, echoed, "Ya, benar", "Dicatat: Kamis, 26 November 2026 pukul 09.00 WITA.")


# ---- old and other people's buttons -------------------------------------------------------------------------


async def test_a_press_on_another_staff_members_keyboard_or_an_old_one_changes_nothing(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    # Protokol is approving; Kesbangpol, at the same card, is asking for information: two decisions in the group.
    times = await press_on(world, PROTOKOL_ID, card, "Setujui", "pilih salah satu waktu")
    await press_on(world, PROTOKOL_ID, times, WED_0900, "Di mana")
    place = api.last_message_to(GROUP)
    assert place is not None and WAKIL_ROOM in labels(place)
    approving = await press_on(world, PROTOKOL_ID, place, WAKIL_ROOM, "Setujui audiensi ini?")
    question = await press_on(world, KESBANGPOL_ID, card, "Minta Info", "Informasi apa")
    asking = await answer(world, KESBANGPOL_ID, question, "Mohon kirim SK kepengurusan yang berlaku.",
                          "Kirim pertanyaan ini kepada perwakilan")  # fmt: skip

    def alerts() -> list[str]:
        return [a["text"] for a in api.callback_answers() if a.get("show_alert")]

    # Kesbangpol presses Protokol's "Setujui", Protokol presses Kesbangpol's "Kirim pertanyaan".
    for user, message, label in ((KESBANGPOL_ID, approving, "Setujui"), (PROTOKOL_ID, asking, "Kirim pertanyaan")):
        count = len(alerts())
        api.user_press(user, message.message_id, message.button_data(label), GROUP)
        await api.wait_for(lambda count=count: len(alerts()) > count, description="an alert on the button")
        assert "milik pertanyaan sebelumnya atau milik orang lain, sehingga tidak ada yang diubah" in alerts()[-1]
    # And Protokol presses the time keyboard they already answered (closed since; an old client still shows it).
    count = len(alerts())
    api.user_press(PROTOKOL_ID, times.message_id, times.button_data(WED_0900), GROUP, check_button=False)
    await api.wait_for(lambda: len(alerts()) > count, description="an alert on the old button")
    assert "tidak ada yang diubah" in alerts()[-1]
    assert await status_of(world, reference) is RequestStatus.SUBMITTED
    assert not any("Keputusan tersimpan" in m.text for m in api.messages_to(GROUP))
    assert not any("Mohon kirim SK" in m.text for m in api.messages_to(REP))

    # Each one's own keyboard still works: Kesbangpol's question goes out, and then Protokol's approval is
    # answered as coming after that decision.
    await press_on(world, KESBANGPOL_ID, asking, "Kirim pertanyaan", "Keputusan tersimpan")
    await api.wait_for_message(REP, "Mohon kirim SK kepengurusan yang berlaku.")
    count = len(alerts())
    api.user_press(PROTOKOL_ID, approving.message_id, approving.button_data("Setujui"), GROUP)
    await api.wait_for(lambda: len(alerts()) > count, description="an alert on the approval")
    assert "sudah ditangani" in alerts()[-1] and "Petugas Kesbangpol" in alerts()[-1]
    assert await status_of(world, reference) is RequestStatus.INFO_REQUESTED
