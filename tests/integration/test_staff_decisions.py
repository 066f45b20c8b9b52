"""Staff decide in the console: approve, reject, ask for information; one decision wins; rights are checked."""

from __future__ import annotations

import asyncio

from handlers.domain.model import Action, Address, RequestStatus
from handlers.messages import Choice, PressIn
from tests.harness import AJUDAN, PROTOKOL, VIEWER, Harness
from tests.integration.test_request_dialog import HAPPY, REP

KESBANGPOL = Address("console", "staf:kesbangpol")


async def submitted(h: Harness) -> int:
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    assert request.id is not None
    return request.id


async def notices_text(h: Harness, to: Address) -> str:
    return "\n".join(m.body for n in await h.notifications(to) for m in n.messages)


async def test_queue_lists_pending_requests_oldest_first_and_opens_a_card(h: Harness) -> None:
    assert "Tidak ada permohonan yang menunggu keputusan" in await h.say(PROTOKOL, "/antrian", staff=True)
    await submitted(h)
    h.clock.advance(minutes=5)
    other = Address("console", "warga-2")
    second = [(s.replace("Karang Taruna Kelurahan Maccini", "LSM Peduli Pesisir"), e) for s, e in HAPPY[:-1]]
    await h.dialog(other, [*second, ("Kirim", "AUD-2026-000002")])
    queue = await h.say(PROTOKOL, "/antrian", staff=True)
    assert queue.index("AUD-2026-000001") < queue.index("AUD-2026-000002")
    card = await h.say(PROTOKOL, "1", staff=True)
    for shown in ("Permohonan audiensi AUD-2026-000001", "Karang Taruna Kelurahan Maccini", "belum terdaftar",
                  "Andi Rahmat Hidayat", "0812-3456-7890", "Wakil Wali Kota Makassar", "5 orang",
                  "Rabu, 25 November 2026 pukul 09.00 WITA", "005/12/KT-MKS/XI/2026", "1. Setujui", "2. Tolak",
                  "3. Minta Info"):  # fmt: skip
        assert shown in card, shown


async def test_approval_with_a_preferred_time_and_the_room_tells_the_representative(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    reply = await h.say(PROTOKOL, "Setujui", staff=True)
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" in reply
    reply = await h.say(PROTOKOL, "2", staff=True)  # 7 December 10.00
    assert "Ruang Kerja Wakil Wali Kota" in reply
    summary = await h.say(PROTOKOL, "1", staff=True)
    assert "Senin, 7 Desember 2026 pukul 10.00 WITA" in summary
    done = await h.say(PROTOKOL, "1", staff=True)
    assert "Keputusan tersimpan" in done and "Disetujui" in done
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED
    assert request.place == "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota"
    assert request.decided_by == "Petugas Protokol"
    told = await notices_text(h, REP)
    assert "telah disetujui" in told and "Senin, 7 Desember 2026 pukul 10.00 WITA" in told
    assert (
        "Tempat: Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota (Balai Kota Makassar, Jl. Ahmad Yani No. 2)" in told
    )
    # Other staff see the outcome on their copy of the card.
    assert "Disetujui" in await notices_text(h, KESBANGPOL)
    assert "Disetujui" in await h.say(REP, "/status")


async def test_a_typed_time_and_place_can_replace_the_preferred_ones(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
    assert "Rabu, 9 Desember 2026 pukul 14.00 WITA — benar?" in await h.say(PROTOKOL, "09/12/2026 14:00", staff=True)
    assert "Ruang Kerja Wakil Wali Kota" in await h.say(PROTOKOL, "1", staff=True)
    await h.say(PROTOKOL, "Ruang Rapat Sipakatau, Lantai 1", staff=True)
    await h.say(PROTOKOL, "Setujui", staff=True)
    request = await h.request("AUD-2026-000001")
    assert request.place == "Ruang Rapat Sipakatau, Lantai 1"
    told = await notices_text(h, REP)
    assert "Rabu, 9 Desember 2026 pukul 14.00 WITA" in told
    assert "Tempat: Ruang Rapat Sipakatau, Lantai 1\n" in told  # a place staff typed reads as typed


async def test_rejection_needs_a_reason_and_the_representative_reads_it(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:reject:{request_id}"), staff=True)
    assert "terlalu singkat" in await h.say(PROTOKOL, "Tidak", staff=True)
    await h.say(PROTOKOL, "Jadwal Wakil Wali Kota penuh hingga akhir tahun.", staff=True)
    assert "Ditolak" in await h.say(PROTOKOL, "1", staff=True)
    told = await notices_text(h, REP)
    assert "tidak dapat dipenuhi" in told and "Jadwal Wakil Wali Kota penuh hingga akhir tahun." in told


async def test_asking_for_information_goes_to_the_representative_and_back_to_the_queue(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:info:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan SK kepengurusan yang masih berlaku.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.INFO_REQUESTED
    [notice] = await h.notifications(REP)
    assert "Mohon lampirkan SK kepengurusan" in notice.messages[0].body
    # The representative answers from the notice's button, even in the middle of another form.
    await h.say(REP, "/ajukan")
    await h.say(REP, "Yayasan Sipakainga")
    reply = await h.say(REP, PressIn(f"g:answer:{request_id}"))
    assert "Mohon lampirkan SK kepengurusan" in reply
    reply = await h.say(REP, "SK nomor 12/KT/2026 sudah kami kirim lewat surel.")
    assert "telah diteruskan kepada petugas" in reply
    assert "Apa jenis organisasi" in reply  # the paused form resumes
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.SUBMITTED
    assert "SK nomor 12/KT/2026" in await notices_text(h, PROTOKOL)
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.action for e in events] == [Action.SUBMIT, Action.REQUEST_INFO, Action.PROVIDE_INFO]
    assert events[2].note == "SK nomor 12/KT/2026 sudah kami kirim lewat surel."


async def test_the_card_keeps_each_question_and_its_answer_for_whoever_decides_later(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:info:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan SK kepengurusan yang masih berlaku.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    card = await h.say(KESBANGPOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Pertanyaan kepada perwakilan:" in card and "(belum dijawab)" in card
    assert "Petugas Protokol, Senin, 23 November 2026 pukul 09.00 WITA: “Mohon lampirkan SK kepengurusan" in card
    h.clock.advance(hours=2)
    await h.say(REP, PressIn(f"g:answer:{request_id}"))
    await h.say(REP, "SK nomor 12/KT/2026 sudah kami kirim lewat surel.")
    h.clock.advance(days=1)
    card = await h.say(KESBANGPOL, PressIn(f"g:open:{request_id}"), staff=True)  # a day later, someone else
    assert "“Mohon lampirkan SK kepengurusan yang masih berlaku.”" in card
    assert (
        "Jawaban, Senin, 23 November 2026 pukul 11.00 WITA: “SK nomor 12/KT/2026 sudah kami kirim lewat surel.”" in card
    )
    assert "belum dijawab" not in card and card.count("Mohon lampirkan") == 1


async def test_the_status_command_offers_to_answer_an_open_question(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:info:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Berapa jumlah anggota organisasi saat ini?", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    status = await h.say(REP, "/status")
    assert "Berapa jumlah anggota" in status and "Jawab pertanyaan untuk AUD-2026-000001" in status
    assert "Petugas bertanya mengenai AUD-2026-000001" in await h.say(REP, "1")


async def test_a_second_decision_is_refused_naming_who_decided_and_when(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:reject:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Jadwal Wakil Wali Kota penuh hingga akhir tahun.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    reply = await h.say(KESBANGPOL, PressIn(f"g:approve:{request_id}"), staff=True)
    assert "sudah ditangani: “Ditolak”, diputuskan oleh Petugas Protokol pada Senin, 23 November 2026" in reply
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.REJECTED


async def test_two_staff_deciding_at_the_same_moment_exactly_one_wins(h: Harness) -> None:
    request_id = await submitted(h)
    for staff, action, answer in ((PROTOKOL, "approve", "1"), (KESBANGPOL, "reject", "Jadwal penuh sampai Januari.")):
        await h.say(staff, PressIn(f"g:{action}:{request_id}"), staff=True)
        await h.say(staff, answer, staff=True)
        if action == "approve":
            await h.say(staff, "1", staff=True)  # the room
    replies = await asyncio.gather(h.say(PROTOKOL, "1", staff=True), h.say(KESBANGPOL, "1", staff=True))
    won = [r for r in replies if "Keputusan tersimpan" in r]
    lost = [r for r in replies if "sudah ditangani" in r]
    assert len(won) == 1 and len(lost) == 1, replies
    request = await h.request("AUD-2026-000001")
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.action for e in events][1:] in ([Action.APPROVE], [Action.REJECT])
    assert len([n for n in await h.notifications(REP) if n.kind == "decision"]) == 1  # reminders come on top
    assert request.status in (RequestStatus.APPROVED, RequestStatus.REJECTED)


async def test_staff_without_the_right_cannot_decide_and_nothing_changes(h: Harness) -> None:
    request_id = await submitted(h)  # for the Wakil Wali Kota
    assert "tidak berwenang" in await h.say(VIEWER, PressIn(f"g:approve:{request_id}"), staff=True)
    # The ajudan of the Wakil Wali Kota may decide for her, not for the Wali Kota.
    assert "Setujui" in await h.say(AJUDAN, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Rabu, 25 November" in await h.say(AJUDAN, PressIn(f"g:approve:{request_id}"), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.SUBMITTED


async def test_the_ajudan_cannot_decide_for_another_official(h: Harness) -> None:
    other = Address("console", "warga-4")
    script = [("1" if e.startswith("Apa perihal") else s, e) for s, e in HAPPY]  # choose the Wali Kota
    await h.dialog(other, [*script[:-1], ("Kirim", "AUD-2026-")])
    [request] = await h.requests_of(other)
    assert request.official_key == "walikota"
    assert "tidak berwenang" in await h.say(AJUDAN, PressIn(f"g:approve:{request.id}"), staff=True)


async def test_a_person_who_is_not_staff_is_refused(h: Harness) -> None:
    request_id = await submitted(h)
    stranger = Address("console", "staf:penyusup")
    reply = await h.say(stranger, PressIn(f"g:approve:{request_id}"), staff=True)
    assert "hanya dapat digunakan oleh petugas terdaftar" in reply
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.SUBMITTED


async def test_representatives_cannot_use_staff_actions_or_answer_others_questions(h: Harness) -> None:
    request_id = await submitted(h)
    assert "tidak tersedia" in await h.say(REP, PressIn(f"g:approve:{request_id}"))
    await h.say(PROTOKOL, PressIn(f"g:info:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan SK kepengurusan.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    assert "tidak berwenang" in await h.say(Address("console", "warga-9"), PressIn(f"g:answer:{request_id}"))
    assert "tidak ditemukan" in await h.say(REP, PressIn("g:answer:99999"))


async def test_an_aide_sees_and_opens_only_the_officials_they_serve(h: Harness) -> None:
    await submitted(h)  # to the Wakil Wali Kota
    walikota = [(s.replace("Karang Taruna Kelurahan Maccini", "LSM Peduli Pesisir"), e) for s, e in HAPPY[:-1]]
    walikota[8] = ("1", walikota[8][1])  # the Wali Kota
    other = Address("console", "warga-2")
    await h.dialog(other, [*walikota, ("Kirim", "AUD-2026-000002")])
    queue = await h.say(AJUDAN, "/antrian", staff=True)
    assert "AUD-2026-000001" in queue and "AUD-2026-000002" not in queue
    second = await h.request("AUD-2026-000002")
    refused = await h.say(AJUDAN, PressIn(f"g:open:{second.id}"), staff=True)
    assert "tidak berwenang" in refused and "Setujui" not in refused
    assert "AUD-2026-000002" in await h.say(PROTOKOL, "/antrian", staff=True)  # staff for every official


def _options(notice_messages: tuple[object, ...]) -> list[str]:
    return [o.label for m in notice_messages if isinstance(m, Choice) for o in m.options]


async def test_notices_about_a_request_go_only_to_staff_who_may_view_its_official(h: Harness) -> None:
    """An ajudan hears nothing of another official's requests: no card, no personal data, no decision."""
    other = Address("console", "warga-4")
    script = [("1" if e.startswith("Apa perihal") else s, e) for s, e in HAPPY]  # to the Wali Kota
    await h.dialog(other, [*script[:-1], ("Kirim", "AUD-2026-000001")])
    [request] = await h.requests_of(other)
    assert request.id is not None
    # Every kind of staff notice: new request, question answered, decision, cancellation.
    await h.say(PROTOKOL, PressIn(f"g:info:{request.id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan SK kepengurusan yang masih berlaku.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    await h.say(other, PressIn(f"g:answer:{request.id}"))
    await h.say(other, "SK nomor 12/KT/2026 sudah kami kirim lewat surel.")
    await h.say(other, PressIn(f"g:cancel:{request.id}"))
    await h.say(other, "Ketua organisasi berhalangan karena tugas ke luar kota.")
    await h.say(other, "1")
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.CANCELLED
    for limited in (AJUDAN, KESBANGPOL):  # limited to the Wakil Wali Kota (and Kesbangpol)
        assert await h.notifications(limited) == [], limited
    kinds = [n.kind for n in await h.notifications(VIEWER)]
    assert kinds == ["new_request", "decided", "info_provided", "cancelled"]
    assert "0812-3456" not in await notices_text(h, AJUDAN)


async def test_the_ajudan_gets_their_officials_requests_and_a_pemantau_no_decision_buttons(h: Harness) -> None:
    await submitted(h)  # to the Wakil Wali Kota
    [ajudan] = await h.notifications(AJUDAN)
    assert "Permohonan audiensi baru AUD-2026-000001" in ajudan.messages[0].body
    assert _options(ajudan.messages)[:3] == ["Setujui", "Tolak", "Minta Info"]
    [viewer] = await h.notifications(VIEWER)
    assert "Permohonan audiensi AUD-2026-000001" in viewer.messages[1].body  # the card, to read
    assert _options(viewer.messages) == []  # a pemantau only views: no button they could not use
    # Opened from the queue, the pemantau's card has no decision either, and "1" decides nothing.
    assert "Setujui" not in await h.say(VIEWER, "/antrian", staff=True) + await h.say(VIEWER, "1", staff=True)
    await h.say(VIEWER, "1", staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.SUBMITTED


async def test_staff_open_a_request_by_typing_its_reference_if_they_may_view_it(h: Harness) -> None:
    await submitted(h)  # AUD-2026-000001, for the Wakil Wali Kota
    card = await h.say(PROTOKOL, "aud-2026-000001", staff=True)
    assert "Permohonan audiensi AUD-2026-000001" in card and "1. Setujui" in card
    assert "Setujui AUD-2026-000001" in await h.say(PROTOKOL, "1", staff=True)  # its buttons work by number
    assert "Tidak ada permohonan dengan kode AUD-2026-000009" in await h.say(VIEWER, "AUD-2026-000009", staff=True)
    other = Address("console", "warga-4")
    script = [("1" if e.startswith("Apa perihal") else s, e) for s, e in HAPPY]  # to the Wali Kota
    await h.dialog(other, [*script[:-1], ("Kirim", "AUD-2026-000002")])
    refused = await h.say(AJUDAN, "AUD-2026-000002", staff=True)
    assert "tidak berwenang" in refused and "Andi Rahmat" not in refused


async def test_the_queue_reads_antrean_and_cuts_long_subjects_between_words(h: Harness) -> None:
    long_subject = ("Silaturahmi dan pelaporan pelantikan pengurus periode 2026–2031 serta penjajakan kerja sama "
                    "program kepemudaan")  # fmt: skip
    script = [(long_subject if e.startswith("jelaskan") else s, e) for s, e in HAPPY]
    await h.dialog(REP, script)
    assert "Antrean Permohonan" in await h.say(PROTOKOL, "/mulai", staff=True)
    queue = await h.say(PROTOKOL, "/antrean", staff=True)  # /antrian stays as it was
    assert "AUD-2026-000001" in queue and queue == await h.say(PROTOKOL, "/antrian", staff=True)
    [listed] = [o.description for m in h.last if isinstance(m, Choice) for o in m.options]
    assert listed == "Silaturahmi dan pelaporan pelantikan pengurus periode 2026–2031 serta…"  # ≤ 72, whole words


async def test_the_place_question_names_the_request_it_is_about(h: Harness) -> None:
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
    assert "Di mana audiensi AUD-2026-000001 akan dilaksanakan?" in await h.say(PROTOKOL, "1", staff=True)
