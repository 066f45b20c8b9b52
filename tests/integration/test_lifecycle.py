"""After the request: other times proposed and accepted or declined, cancelling, moving, disposisi, outcomes.

Dialogs on memory, SQLite and PostgreSQL storage; each asserts what the people involved read.
"""

from __future__ import annotations

from datetime import datetime

from handlers.domain.model import Action, Address, RequestStatus
from handlers.messages import Choice, PressIn
from tests.harness import MAKASSAR, PROTOKOL, Harness
from tests.integration.test_request_dialog import HAPPY, REP
from tests.integration.test_staff_decisions import KESBANGPOL, notices_text, submitted

WED_25_0900 = datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR)
MON_7_1000 = datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR)


async def approve(h: Harness, request_id: int, time_choice: str = "1", staff: Address = PROTOKOL) -> str:
    """Staff approve with one of the offered times and the official's room."""
    await h.say(staff, PressIn(f"g:approve:{request_id}"), staff=True)
    await h.say(staff, time_choice, staff=True)
    await h.say(staff, "1", staff=True)  # the room
    return await h.say(staff, "1", staff=True)  # Setujui


async def approved(h: Harness) -> int:
    request_id = await submitted(h)
    assert "Keputusan tersimpan" in await approve(h, request_id)  # Rabu, 25 November 2026 pukul 09.00 WITA
    return request_id


async def last_choice_to(h: Harness, who: Address) -> Choice:
    notices = await h.notifications(who)
    choices = [m for n in notices for m in n.messages if isinstance(m, Choice)]
    assert choices, f"no choice was sent to {who}"
    return choices[-1]


async def propose_two_times(h: Harness, request_id: int) -> str:
    reply = await h.say(PROTOKOL, PressIn(f"g:propose:{request_id}"), staff=True)
    assert "Usulkan waktu lain untuk AUD-2026-000001" in reply
    assert "Rabu, 25 November 2026 pukul 08.30 WITA" in reply  # near what was asked for, and free
    assert "Dicatat" in await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    reply = await h.say(PROTOKOL, "Selesai", staff=True)
    assert "Pesan untuk perwakilan yang menyertai usulan ini" in reply
    await h.say(PROTOKOL, "Pada waktu yang diminta Wakil Wali Kota ada agenda lain.", staff=True)
    return await h.say(PROTOKOL, "Kirim usulan", staff=True)


# ---- Usulkan Waktu Lain -----------------------------------------------------------------------------------


async def test_a_counter_offer_accepted_by_a_tap_approves_the_audience(h: Harness) -> None:
    request_id = await submitted(h)
    done = await propose_two_times(h, request_id)
    assert "Keputusan tersimpan" in done and "Diusulkan waktu lain" in done
    offer = await last_choice_to(h, REP)
    assert "Petugas mengusulkan waktu lain untuk permohonan audiensi AUD-2026-000001" in offer.body
    assert "Pada waktu yang diminta Wakil Wali Kota ada agenda lain." in offer.body
    labels = [o.label for o in offer.options]
    assert labels[0] == "Rabu, 25 November 2026 pukul 08.00 WITA" and labels[-1] == "Tolak usulan"

    reply = await h.say(REP, PressIn(offer.options[0].key))
    assert "telah disetujui" in reply and "Rabu, 25 November 2026 pukul 08.00 WITA" in reply
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED
    assert request.scheduled_at == datetime(2026, 11, 25, 8, 0, tzinfo=MAKASSAR)
    assert request.place == "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota"
    async with h.uow() as uow:
        booking = await uow.bookings.for_request(request_id)
        events = [e.action for e in await uow.audit.for_request(request_id)]
    assert booking is not None and booking.starts_at == request.scheduled_at
    assert events == [Action.SUBMIT, Action.PROPOSE_TIME, Action.ACCEPT_PROPOSAL]
    assert "Perwakilan menerima waktu yang diusulkan untuk AUD-2026-000001" in await notices_text(h, PROTOKOL)
    # A second tap (the same update twice, or an impatient finger) changes nothing and says so.
    assert "statusnya “Disetujui”" in await h.say(REP, PressIn(offer.options[1].key))
    assert (await h.request("AUD-2026-000001")).scheduled_at == request.scheduled_at


async def test_a_counter_offer_declined_goes_back_to_staff_with_the_message(h: Harness) -> None:
    request_id = await submitted(h)
    await propose_two_times(h, request_id)
    offer = await last_choice_to(h, REP)
    reply = await h.say(REP, PressIn(offer.options[-1].key))  # Tolak usulan
    assert "Bapak/Ibu menolak waktu yang diusulkan untuk AUD-2026-000001" in reply
    reply = await h.say(REP, "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi.")
    assert "Petugas telah diberi tahu" in reply
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.SUBMITTED and request.proposed_times == ()
    told = await notices_text(h, PROTOKOL)
    assert "Perwakilan menolak waktu yang diusulkan untuk AUD-2026-000001" in told
    assert "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi." in told
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Pesan dari perwakilan: Hari Rabu kami ada kegiatan" in card and "Setujui" in card
    # The old buttons no longer accept anything.
    assert "tidak dapat lagi diubah" in await h.say(REP, PressIn(offer.options[0].key))


async def test_a_declined_proposal_may_come_without_a_message(h: Harness) -> None:
    request_id = await submitted(h)
    await propose_two_times(h, request_id)
    await h.say(REP, PressIn((await last_choice_to(h, REP)).options[-1].key))  # Tolak usulan
    assert "Petugas telah diberi tahu" in await h.say(REP, "lewati")
    assert "(tanpa pesan)" in await notices_text(h, PROTOKOL)


async def test_an_offered_time_taken_meanwhile_is_refused_and_the_others_remain(h: Harness) -> None:
    request_id = await submitted(h)
    await propose_two_times(h, request_id)
    offer = await last_choice_to(h, REP)
    # Meanwhile another request for the same official is approved at the first offered time.
    other = Address("console", "warga-2")
    await h.dialog(other, [*HAPPY[:-1], ("Kirim", "AUD-2026-000002")])
    [second] = await h.requests_of(other)
    await h.say(PROTOKOL, PressIn(f"g:approve:{second.id}"), staff=True)
    await h.say(PROTOKOL, "Rabu, 25 November 2026 jam 8", staff=True)
    await h.say(PROTOKOL, "Ya", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "1", staff=True)
    reply = await h.say(REP, PressIn(offer.options[0].key))
    assert "sudah terisi" in reply
    assert "Rabu, 25 November 2026 pukul 08.00 WITA" not in reply.split("sudah terisi")[1]
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COUNTER_OFFERED


# ---- buttons of an earlier offer -------------------------------------------------------------------------


async def propose_again(h: Harness, request_id: int, *typed: str) -> str:
    """Staff propose the times typed (after the representative declined the first proposal)."""
    await h.say(PROTOKOL, PressIn(f"g:propose:{request_id}"), staff=True)
    for when in typed:
        reply = await h.say(PROTOKOL, when, staff=True)
        assert "benar?" in reply, reply
        assert "Dicatat" in await h.say(PROTOKOL, "Ya", staff=True)
    await h.say(PROTOKOL, "Selesai", staff=True)
    await h.say(PROTOKOL, "lewati", staff=True)
    return await h.say(PROTOKOL, "Kirim usulan", staff=True)


async def test_a_time_button_of_an_earlier_offer_never_books_the_time_offered_now(h: Harness) -> None:
    request_id = await submitted(h)
    await propose_two_times(h, request_id)  # 08.00 and 08.30
    first = await last_choice_to(h, REP)
    # The representative declines from a newer copy of the offer (/status), not from the first message.
    await h.say(REP, PressIn(f"g:offer:{request_id}"))
    newer = [o for m in h.last if isinstance(m, Choice) for o in m.options]
    await h.say(REP, PressIn(newer[-1].key))  # Tolak usulan
    assert "Petugas telah diberi tahu" in await h.say(REP, "Mohon jam setengah sepuluh saja.")
    assert "Keputusan tersimpan" in await propose_again(h, request_id, "Rabu, 25 November 2026 jam 9.30")
    second = await last_choice_to(h, REP)
    assert [o.label for o in second.options] == ["Rabu, 25 November 2026 pukul 09.30 WITA", "Tolak usulan"]

    # The old "Rabu … 08.00" button: refused politely, the current offer shown, nothing booked.
    old = first.options[0]
    assert old.label == "Rabu, 25 November 2026 pukul 08.00 WITA"
    reply = await h.say(REP, PressIn(old.key))
    assert "Waktu yang ditawarkan untuk AUD-2026-000001 telah berubah" in reply
    assert "1. Rabu, 25 November 2026 pukul 09.30 WITA" in reply and "telah disetujui" not in reply
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.COUNTER_OFFERED and request.scheduled_at is None
    async with h.uow() as uow:
        assert await uow.bookings.for_request(request_id) is None
    # The old "Tolak usulan" does not decline the new proposal either.
    reply = await h.say(REP, PressIn(first.options[-1].key))
    assert "telah berubah" in reply and "menolak waktu" not in reply
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COUNTER_OFFERED
    # The current offer's button books the time it shows.
    reply = await h.say(REP, PressIn(second.options[0].key))
    assert "telah disetujui" in reply and "Rabu, 25 November 2026 pukul 09.30 WITA" in reply
    assert (await h.request("AUD-2026-000001")).scheduled_at == datetime(2026, 11, 25, 9, 30, tzinfo=MAKASSAR)


async def test_an_old_button_whose_time_is_offered_again_books_that_time(h: Harness) -> None:
    request_id = await submitted(h)
    await propose_two_times(h, request_id)  # 08.00 and 08.30
    first = await last_choice_to(h, REP)
    await h.say(REP, PressIn(first.options[-1].key))
    await h.say(REP, "lewati")
    await propose_again(h, request_id, "Rabu, 25 November 2026 jam 10.30", "Rabu, 25 November 2026 jam 8.30")
    assert first.options[1].label == "Rabu, 25 November 2026 pukul 08.30 WITA"
    reply = await h.say(REP, PressIn(first.options[1].key))  # still among the times offered now
    assert "telah disetujui" in reply and "Rabu, 25 November 2026 pukul 08.30 WITA" in reply
    assert (await h.request("AUD-2026-000001")).scheduled_at == datetime(2026, 11, 25, 8, 30, tzinfo=MAKASSAR)


async def test_a_button_that_names_no_time_changes_nothing(h: Harness) -> None:
    """Buttons sent before times were named on them carried a list position: they are refused, not guessed."""
    request_id = await submitted(h)
    await propose_two_times(h, request_id)
    reply = await h.say(REP, PressIn(f"g:accept:{request_id}:0"))
    assert "telah berubah" in reply and "1. Rabu, 25 November 2026 pukul 08.00 WITA" in reply
    assert "telah berubah" in await h.say(REP, PressIn(f"g:decline:{request_id}"))
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COUNTER_OFFERED


# ---- cancelling -------------------------------------------------------------------------------------------


async def test_an_approved_audience_is_cancelled_from_status_and_its_time_is_free_again(h: Harness) -> None:
    request_id = await approved(h)
    status = await h.say(REP, "/status")
    assert "Batalkan AUD-2026-000001" in status and "Ubah jadwal AUD-2026-000001" in status
    reply = await h.say(REP, "Batalkan AUD-2026-000001")
    assert "mohon tuliskan alasannya" in reply
    assert "terlalu singkat" in await h.say(REP, "tak")
    summary = await h.say(REP, "Ketua organisasi berhalangan karena tugas ke luar kota.")
    assert "Batalkan permohonan audiensi ini?" in summary
    assert "telah dibatalkan" in await h.say(REP, "Ya, batalkan permohonan")
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.CANCELLED
    assert request.representative_note == "Ketua organisasi berhalangan karena tugas ke luar kota."
    async with h.uow() as uow:
        assert await uow.bookings.for_request(request_id) is None
    assert "Perwakilan membatalkan AUD-2026-000001" in await notices_text(h, KESBANGPOL)
    # The freed time can be approved for someone else.
    other = Address("console", "warga-2")
    await h.dialog(other, [*HAPPY[:-1], ("Kirim", "AUD-2026-000002")])
    [second] = await h.requests_of(other)
    assert "Keputusan tersimpan" in await approve(h, second.id or 0)
    assert (await h.request("AUD-2026-000002")).scheduled_at == WED_25_0900
    # A second cancellation is refused politely.
    assert "tidak dapat lagi diubah" in await h.say(REP, PressIn(f"g:cancel:{request_id}"))


async def test_a_pending_request_can_be_cancelled_and_leaves_the_queue(h: Harness) -> None:
    await submitted(h)
    await h.say(REP, "/status")
    await h.say(REP, "Batalkan AUD-2026-000001")
    await h.say(REP, "Kami sudah bertemu pejabat pada acara lain.")
    await h.say(REP, "1")
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.CANCELLED
    assert "Tidak ada permohonan yang menunggu keputusan" in await h.say(PROTOKOL, "/antrian", staff=True)


async def test_the_cancel_question_reads_plainly_and_no_keeps_the_request(h: Harness) -> None:
    await submitted(h)
    await h.say(REP, "/status")
    await h.say(REP, "Batalkan AUD-2026-000001")
    summary = await h.say(REP, "Kami sudah bertemu pejabat pada acara lain.")
    assert "1. Ya, batalkan permohonan\n2. Ubah alasan\n3. Tidak jadi membatalkan" in summary
    assert "mohon tuliskan alasannya" in await h.say(REP, "2")  # straight to the one question
    summary = await h.say(REP, "Ketua kami sudah bertemu pejabat pada acara lain.")
    assert "Ketua kami sudah bertemu" in summary
    kept = await h.say(REP, "3")  # "no": nothing to confirm, the request stays
    assert "tidak jadi dibatalkan dan tetap berlaku" in kept and "Ajukan Audiensi" in kept
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.SUBMITTED
    await h.say(REP, "/status")
    await h.say(REP, "Batalkan AUD-2026-000001")
    await h.say(REP, "Kami sudah bertemu pejabat pada acara lain.")
    assert "tidak jadi dibatalkan" in await h.say(REP, "tidak")  # typed, too
    await h.say(REP, "/status")
    await h.say(REP, "Batalkan AUD-2026-000001")
    await h.say(REP, "Kami sudah bertemu pejabat pada acara lain.")
    assert "telah dibatalkan" in await h.say(REP, "ya")
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.CANCELLED


async def test_nobody_else_can_cancel_a_request(h: Harness) -> None:
    request_id = await submitted(h)
    assert "tidak berwenang" in await h.say(Address("console", "warga-9"), PressIn(f"g:cancel:{request_id}"))


# ---- moving an audience -----------------------------------------------------------------------------------


async def request_a_move(h: Harness) -> None:
    await h.say(REP, "/status")
    reply = await h.say(REP, "Ubah jadwal AUD-2026-000001")
    assert "tetap dipesan sampai petugas menyetujui" in reply and "Rabu, 25 November 2026 pukul 09.00 WITA" in reply
    await h.say(REP, "Kamis, 3 Desember 2026 jam 13.00")
    assert "Dicatat: Kamis, 3 Desember 2026 pukul 13.00 WITA." in await h.say(REP, "Ya")
    await h.say(REP, "Selesai")
    await h.say(REP, "Ketua organisasi bertugas ke luar kota pada tanggal tersebut.")
    reply = await h.say(REP, "Kirim")
    assert "telah diteruskan kepada petugas" in reply and "tetap pada Rabu, 25 November 2026" in reply


async def test_a_move_keeps_the_old_time_booked_until_staff_approve_the_new_one(h: Harness) -> None:
    request_id = await approved(h)
    await request_a_move(h)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.RESCHEDULE_REQUESTED and request.scheduled_at == WED_25_0900
    async with h.uow() as uow:
        booking = await uow.bookings.for_request(request_id)
    assert booking is not None and booking.starts_at == WED_25_0900
    notice = await notices_text(h, PROTOKOL)
    assert "Perwakilan meminta perubahan jadwal AUD-2026-000001" in notice
    # While the move waits, the old time is still not offered to anyone else.
    other = Address("console", "warga-2")
    await h.dialog(other, HAPPY[:12])
    assert "09.00" not in await h.say(other, "1")  # the times on Wednesday 25 November

    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Kamis, 3 Desember 2026 pukul 13.00 WITA" in card and "1. Setujui" in card
    assert "2. Tetap waktu semula" in card and "3. Ditunda" in card
    assert "Keputusan tersimpan" in await approve(h, request_id)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED
    assert request.scheduled_at == datetime(2026, 12, 3, 13, 0, tzinfo=MAKASSAR)
    async with h.uow() as uow:
        booking = await uow.bookings.for_request(request_id)
        events = [e.action for e in await uow.audit.for_request(request_id)]
    assert booking is not None and booking.starts_at == request.scheduled_at
    assert events == [Action.SUBMIT, Action.APPROVE, Action.REQUEST_RESCHEDULE, Action.APPROVE]
    assert "telah diubah ke waktu baru" in await notices_text(h, REP)
    # Wednesday 09.00 is free again.
    assert "09.00" in await h.say(other, "/kembali") + await h.say(other, "1")


async def test_staff_may_keep_the_current_time_with_a_reason(h: Harness) -> None:
    request_id = await approved(h)
    await request_a_move(h)
    reply = await h.say(PROTOKOL, PressIn(f"g:keep:{request_id}"), staff=True)
    assert "AUD-2026-000001 tetap pada Rabu, 25 November 2026 pukul 09.00 WITA" in reply
    await h.say(PROTOKOL, "Pejabat bertugas ke luar kota sepanjang Desember.", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "1", staff=True)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED and request.scheduled_at == WED_25_0900
    told = await notices_text(h, REP)
    assert "tidak dapat dipenuhi" in told and "tetap dilaksanakan pada Rabu, 25 November 2026" in told


# ---- disposisi --------------------------------------------------------------------------------------------


async def test_disposisi_hands_the_request_to_another_official_and_keeps_its_history(h: Harness) -> None:
    request_id = await submitted(h)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Disposisi" in card
    reply = await h.say(PROTOKOL, "Disposisi", staff=True)
    assert "Disposisi AUD-2026-000001" in reply and "Wakil Wali Kota Makassar" not in reply
    await h.say(PROTOKOL, "Kepala Badan Kesatuan Bangsa dan Politik", staff=True)
    await h.say(PROTOKOL, "Kepala Kesbangpol yang membidangi organisasi kepemudaan.", staff=True)
    done = await h.say(PROTOKOL, "Disposisikan", staff=True)
    assert "Keputusan tersimpan" in done and "Disposisi: dialihkan dari Wakil Wali Kota Makassar" in done
    request = await h.request("AUD-2026-000001")
    assert (request.official_key, request.handed_over_from) == ("kesbangpol", "wakil-walikota")
    assert request.status is RequestStatus.SUBMITTED
    told = await notices_text(h, REP)
    assert "telah didisposisikan dari Wakil Wali Kota Makassar (Nama Wakil Wali Kota) kepada Kepala Badan" in told
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.action for e in events] == [Action.SUBMIT, Action.HAND_OVER]
    assert events[1].note == "wakil-walikota -> kesbangpol"

    # Kesbangpol staff approve it for their head; once held, the outcome says another official received them.
    assert "Keputusan tersimpan" in await approve(h, request_id, staff=KESBANGPOL)
    h.clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=MAKASSAR))
    reply = await h.say(KESBANGPOL, PressIn(f"g:held:{request_id}"), staff=True)
    assert "Terlaksana — diterima oleh pejabat lain" in reply
    assert "Terlaksana — diterima oleh pejabat lain" in await h.say(REP, "/status")


async def test_an_approved_audience_handed_to_another_official_keeps_its_time(h: Harness) -> None:
    request_id = await approved(h)  # Wakil Wali Kota, Rabu 25 November 2026 09.00
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Disposisi" in card and "Terlaksana" in card
    await h.say(PROTOKOL, "Disposisi", staff=True)
    reply = await h.say(PROTOKOL, "Sekretaris Daerah Kota Makassar", staff=True)
    assert "tetap pada Rabu, 25 November 2026 pukul 09.00 WITA" in reply and "Ruang Rapat Sekretariat Daerah" in reply
    await h.say(PROTOKOL, "1", staff=True)  # the Sekda's room
    await h.say(PROTOKOL, "lewati", staff=True)
    done = await h.say(PROTOKOL, "Disposisikan", staff=True)
    assert "Keputusan tersimpan" in done
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED and request.scheduled_at == WED_25_0900
    assert (request.official_key, request.handed_over_from) == ("sekda", "wakil-walikota")
    assert request.place == "Ruang Rapat Sekretariat Daerah, Lantai 3"
    async with h.uow() as uow:
        booking = await uow.bookings.for_request(request_id)
    assert booking is not None and booking.official_key == "sekda"  # the Sekda's time is taken, not the Wakil's
    told = await notices_text(h, REP)
    assert "akan diterima oleh Sekretaris Daerah Kota Makassar" in told and "Ruang Rapat Sekretariat Daerah" in told
    h.clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=MAKASSAR))
    assert "Terlaksana — diterima oleh pejabat lain" in await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"),
                                                                     staff=True)  # fmt: skip


async def test_an_approved_audience_is_not_handed_to_an_official_whose_time_is_taken(h: Harness) -> None:
    first = await approved(h)
    other = Address("console", "warga-2")
    script = [(s.replace("Karang Taruna Kelurahan Maccini", "LSM Peduli Pesisir"), e) for s, e in HAPPY]
    script[8] = ("3", script[8][1])  # the Sekda
    await h.dialog(other, [*script[:-1], ("Kirim", "AUD-2026-000002")])
    second = (await h.request("AUD-2026-000002")).id
    assert second is not None
    assert "Keputusan tersimpan" in await approve(h, second)  # the Sekda, Rabu 25 November 09.00
    await h.say(PROTOKOL, PressIn(f"g:handover:{first}"), staff=True)
    await h.say(PROTOKOL, "Sekretaris Daerah Kota Makassar", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "lewati", staff=True)
    refused = await h.say(PROTOKOL, "Disposisikan", staff=True)
    assert "sudah terisi" in refused
    request = await h.request("AUD-2026-000001")
    assert request.official_key == "wakil-walikota" and request.status is RequestStatus.APPROVED


# ---- held, not attended, postponed ------------------------------------------------------------------------


async def test_an_audience_is_marked_held_only_after_its_time_and_only_once(h: Harness) -> None:
    request_id = await approved(h)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "1. Terlaksana" in card and "2. Tidak hadir" in card and "3. Ditunda" in card
    reply = await h.say(PROTOKOL, "Terlaksana", staff=True)
    assert "baru dapat ditandai setelah waktu tersebut" in reply
    h.clock.set(datetime(2026, 11, 25, 10, 30, tzinfo=MAKASSAR))
    assert "Terlaksana" in await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED
    assert "sudah ditangani" in await h.say(KESBANGPOL, PressIn(f"g:noshow:{request_id}"), staff=True)


async def test_not_attended_is_recorded(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(datetime(2026, 11, 25, 10, 30, tzinfo=MAKASSAR))
    assert "Tidak hadir" in await h.say(PROTOKOL, PressIn(f"g:noshow:{request_id}"), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.NO_SHOW


async def test_a_postponed_audience_frees_its_time_and_the_representative_picks_a_new_one(h: Harness) -> None:
    request_id = await approved(h)
    reply = await h.say(PROTOKOL, PressIn(f"g:postpone:{request_id}"), staff=True)
    assert "Tunda AUD-2026-000001 (Rabu, 25 November 2026 pukul 09.00 WITA)" in reply
    reply = await h.say(PROTOKOL, "Wakil Wali Kota mendadak bertugas ke Jakarta.", staff=True)
    assert "Waktu baru mana yang dapat ditawarkan untuk AUD-2026-000001" in reply
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" not in reply.split("?", 1)[1]  # not the same time again
    await offer_one_new_time_and_postpone(h, request_id)
    offer = await last_choice_to(h, REP)
    assert "ditunda oleh pejabat" in offer.body and "Wakil Wali Kota mendadak bertugas ke Jakarta." in offer.body
    assert [o.label for o in offer.options][-2:] == ["Waktu lain", "Batalkan permohonan"]
    assert "telah disetujui" in await h.say(REP, PressIn(offer.options[0].key))
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED and request.scheduled_at == offer_time(offer)


async def test_an_audience_whose_move_waits_can_be_postponed_from_its_card(h: Harness) -> None:
    request_id = await approved(h)
    await request_a_move(h)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "3. Ditunda" in card
    reply = await h.say(PROTOKOL, "Ditunda", staff=True)
    assert "Tunda AUD-2026-000001 (Rabu, 25 November 2026 pukul 09.00 WITA)" in reply
    await h.say(PROTOKOL, "Wakil Wali Kota bertugas ke luar kota sepanjang pekan itu.", staff=True)
    await offer_one_new_time_and_postpone(h, request_id)
    offer = await last_choice_to(h, REP)
    assert "ditunda oleh pejabat" in offer.body


async def offer_one_new_time_and_postpone(h: Harness, request_id: int) -> None:
    """At the postponement's time picker: the first time offered, Selesai, Tunda; the audience's time is freed."""
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "Selesai", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "Tunda", staff=True)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.POSTPONED and len(request.proposed_times) == 1
    async with h.uow() as uow:
        assert await uow.bookings.for_request(request_id) is None


def offer_time(offer: Choice) -> datetime:
    label = offer.options[0].label  # e.g. "Rabu, 25 November 2026 pukul 08.00 WITA"
    day, month, year, clock = label.split(", ")[1].replace(" pukul ", " ").replace(" WITA", "").split(" ")
    months = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
              "November", "Desember"]  # fmt: skip
    hour, minute = clock.split(".")
    return datetime(int(year), months.index(month) + 1, int(day), int(hour), int(minute), tzinfo=MAKASSAR)


async def test_after_a_postponement_the_representative_may_suggest_another_time(h: Harness) -> None:
    request_id = await approved(h)
    await h.say(PROTOKOL, PressIn(f"g:postpone:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Wakil Wali Kota mendadak bertugas ke Jakarta.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "Selesai", staff=True)
    await h.say(PROTOKOL, "Tunda", staff=True)
    reply = await h.say(REP, PressIn(f"g:reschedule:{request_id}"))
    assert "Ubah jadwal AUD-2026-000001" in reply
    await h.say(REP, "1")  # the first free date
    await h.say(REP, "1")  # its first free time
    await h.say(REP, "Selesai")
    await h.say(REP, "lewati")
    assert "telah diteruskan kepada petugas" in await h.say(REP, "Kirim")
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.SUBMITTED
    assert "memilih waktu baru yang diusulkan untuk audiensi AUD-2026-000001" in await notices_text(h, PROTOKOL)


# ---- possible clashes on the card ---------------------------------------------------------------------------


async def test_pending_requests_for_the_same_time_are_shown_as_possible_clashes_not_blocked(h: Harness) -> None:
    first = await submitted(h)  # prefers Wednesday 25 November 09.00 and Monday 7 December 10.00
    other = Address("console", "warga-2")
    await h.dialog(other, [*HAPPY[:-1], ("Kirim", "AUD-2026-000002")])  # the very same times: not refused
    [second] = await h.requests_of(other)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{first}"), staff=True)
    assert "Kemungkinan bentrok:" in card
    assert (
        "Rabu, 25 November 2026 pukul 09.00 WITA: AUD-2026-000002 (Menunggu keputusan) meminta waktu yang sama." in card
    )
    assert "Keputusan tersimpan" in await approve(h, second.id or 0)  # 25 November 09.00 for the second
    card = await h.say(PROTOKOL, PressIn(f"g:open:{first}"), staff=True)
    assert "Rabu, 25 November 2026 pukul 09.00 WITA sudah terisi." in card
    reply = await h.say(PROTOKOL, PressIn(f"g:approve:{first}"), staff=True)
    assert "Senin, 7 Desember 2026 pukul 10.00 WITA" in reply  # only the preferred time still free is offered
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" not in reply.split("\n", 1)[1]
