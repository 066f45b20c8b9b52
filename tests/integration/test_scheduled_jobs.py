"""The worker's periodic jobs through the use case: the nudge to staff about requests waiting for a decision, and
the expiry of requests whose times have all passed (the representative is told, with a way to request again).

What people read is taken from the outbox rows the jobs write, on memory, SQLite and PostgreSQL storage."""

from __future__ import annotations

from datetime import date, datetime

from handlers.domain.model import Address, DayOffEntry, RequestStatus
from handlers.messages import Choice, PressIn
from handlers.reminders import EXPIRED, NUDGE
from tests.harness import MAKASSAR, PROTOKOL, Harness
from tests.integration.test_lifecycle import approve
from tests.integration.test_reminders import approved as approved_for_monday
from tests.integration.test_reminders import request_a_move
from tests.integration.test_request_dialog import HAPPY, REP
from tests.integration.test_staff_decisions import submitted

OTHER = Address("console", "warga-2")


async def run(h: Harness, job: str, moment: datetime) -> int:
    h.clock.set(moment)
    async with h.uow() as uow:
        made = await getattr(h.service.reminders, job)(uow, h.clock.now())
        await uow.commit()
    return int(made)


async def nudges(h: Harness) -> list[str]:
    """The nudges staff (protokol) have been sent, as they read them."""
    return ["\n".join(m.body for m in n.messages) for n in await h.notifications(PROTOKOL) if n.kind == NUDGE
            and n.messages]  # fmt: skip


async def submit_another(h: Harness) -> None:
    """A second organization asks (the same answers; the first free date and time the picker offers)."""
    for said, _expected in HAPPY:
        await h.say(OTHER, said.replace("Karang Taruna Kelurahan Maccini", "LSM Peduli Pesisir"))
    [request] = await h.requests_of(OTHER)
    assert request.reference == "AUD-2026-000002"


# ---- nudges -----------------------------------------------------------------------------------------------


async def test_staff_are_nudged_after_two_working_days_oldest_first_once_a_day(h: Harness) -> None:
    await submitted(h)  # Monday 23 November 09.00
    h.clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=MAKASSAR))
    await submit_another(h)  # Tuesday 24 November
    assert await run(h, "run_nudges", datetime(2026, 11, 24, 8, 0, tzinfo=MAKASSAR)) == 0  # one working day
    assert await run(h, "run_nudges", datetime(2026, 11, 25, 7, 59, tzinfo=MAKASSAR)) == 0  # before 08.00
    assert await run(h, "run_nudges", datetime(2026, 11, 25, 8, 0, tzinfo=MAKASSAR)) > 0
    [wednesday] = await nudges(h)
    assert "1 permohonan telah menunggu keputusan selama 2 hari kerja atau lebih" in wednesday
    assert "AUD-2026-000001 — Karang Taruna Kelurahan Maccini — diajukan Senin, 23 November 2026" in wednesday
    assert "AUD-2026-000002" not in wednesday
    assert await run(h, "run_nudges", datetime(2026, 11, 25, 15, 0, tzinfo=MAKASSAR)) == 0  # once a day
    await run(h, "run_nudges", datetime(2026, 11, 26, 8, 0, tzinfo=MAKASSAR))
    assert len(await nudges(h)) == 2
    thursday = (await nudges(h))[-1]
    assert "2 permohonan" in thursday
    assert thursday.index("AUD-2026-000001") < thursday.index("AUD-2026-000002")  # oldest first


async def test_a_city_day_off_is_not_a_working_day_for_the_nudge(h: Harness) -> None:
    await submitted(h)  # Monday 23 November
    async with h.uow() as uow:
        await uow.days_off.add(DayOffEntry(None, date(2026, 11, 24), "Hari jadi kota", "Protokol"))
        await uow.days_off.add(DayOffEntry("walikota", date(2026, 11, 25), "Kunjungan kerja", "Protokol"))
        await uow.commit()
    await run(h, "run_nudges", datetime(2026, 11, 25, 8, 0, tzinfo=MAKASSAR))  # only Wednesday counts
    assert await nudges(h) == []
    await run(h, "run_nudges", datetime(2026, 11, 26, 8, 0, tzinfo=MAKASSAR))  # Wednesday and Thursday
    [nudge] = await nudges(h)
    assert "AUD-2026-000001" in nudge


async def test_no_nudge_is_made_on_a_city_day_off(h: Harness) -> None:
    await submitted(h)
    async with h.uow() as uow:
        await uow.days_off.add(DayOffEntry(None, date(2026, 11, 26), "Hari jadi kota", "Protokol"))
        await uow.commit()
    assert await run(h, "run_nudges", datetime(2026, 11, 26, 8, 0, tzinfo=MAKASSAR)) == 0
    assert [n for n in await h.notifications(PROTOKOL) if n.kind == NUDGE] == []


async def test_a_requested_move_waiting_for_staff_is_nudged_too(h: Harness) -> None:
    await approved_for_monday(h)  # approved on Monday 23 November for Monday 7 December
    h.clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=MAKASSAR))
    await request_a_move(h)  # asked on Tuesday 24 November
    await run(h, "run_nudges", datetime(2026, 11, 25, 8, 0, tzinfo=MAKASSAR))
    assert await nudges(h) == []  # one working day since the move was asked for
    await run(h, "run_nudges", datetime(2026, 11, 26, 8, 0, tzinfo=MAKASSAR))
    [nudge] = await nudges(h)
    assert "AUD-2026-000001 — Karang Taruna Kelurahan Maccini — perubahan jadwal diminta Selasa, 24 November" in nudge


# ---- expiry -----------------------------------------------------------------------------------------------


async def expiry_notice(h: Harness) -> Choice:
    [notice] = [n for n in await h.notifications(REP) if n.kind == EXPIRED]
    [message] = notice.messages
    assert isinstance(message, Choice)
    return message


async def test_a_request_undecided_after_its_times_expires_and_the_representative_is_told(h: Harness) -> None:
    await submitted(h)  # prefers Wednesday 25 November 09.00 and Monday 7 December 10.00
    assert await run(h, "run_expiry", datetime(2026, 12, 7, 9, 59, tzinfo=MAKASSAR)) == 0
    assert await run(h, "run_expiry", datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR)) == 1
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.EXPIRED
    told = await expiry_notice(h)
    assert "Mohon maaf, Bapak/Ibu: permohonan audiensi AUD-2026-000001" in told.body and "kedaluwarsa" in told.body
    assert [o.label for o in told.options] == ["Ajukan Audiensi"]
    assert await run(h, "run_expiry", datetime(2026, 12, 7, 11, 0, tzinfo=MAKASSAR)) == 0  # once
    # The button starts a new request.
    assert "Apa nama organisasi Bapak/Ibu?" in await h.say(REP, PressIn(told.options[0].key))


async def counter_offer_for(h: Harness, request_id: int, typed: str, echoed: str) -> None:
    await h.say(PROTOKOL, PressIn(f"g:propose:{request_id}"), staff=True)
    assert echoed in await h.say(PROTOKOL, typed, staff=True)
    assert "Dicatat" in await h.say(PROTOKOL, "Ya", staff=True)
    await h.say(PROTOKOL, "Selesai", staff=True)
    await h.say(PROTOKOL, "Pada waktu yang diminta Wakil Wali Kota ada agenda lain.", staff=True)
    await h.say(PROTOKOL, "Kirim usulan", staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COUNTER_OFFERED


async def test_a_counter_offer_does_not_expire_while_an_offered_time_is_ahead(h: Harness) -> None:
    request_id = await submitted(h)
    await counter_offer_for(h, request_id, "14/12/2026 10:00", "Senin, 14 Desember 2026 pukul 10.00 WITA")
    # The representative's own times have all passed; the offered Monday 14 December has not.
    assert await run(h, "run_expiry", datetime(2026, 12, 8, 9, 0, tzinfo=MAKASSAR)) == 0
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COUNTER_OFFERED
    assert await run(h, "run_expiry", datetime(2026, 12, 14, 10, 0, tzinfo=MAKASSAR)) == 1
    told = await expiry_notice(h)
    assert "waktu-waktu yang ditawarkan untuk permohonan audiensi AUD-2026-000001" in told.body
    assert [o.label for o in told.options] == ["Ajukan Audiensi"]


async def test_a_postponed_audience_expires_once_the_offered_times_have_passed(h: Harness) -> None:
    request_id = await submitted(h)
    await approve(h, request_id)  # Wednesday 25 November 09.00
    await h.say(PROTOKOL, PressIn(f"g:postpone:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Wakil Wali Kota mendadak bertugas ke Jakarta.", staff=True)
    await h.say(PROTOKOL, "14/12/2026 10:00", staff=True)
    await h.say(PROTOKOL, "Ya", staff=True)
    await h.say(PROTOKOL, "Selesai", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "Tunda", staff=True)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.POSTPONED
    assert request.proposed_times == (datetime(2026, 12, 14, 10, 0, tzinfo=MAKASSAR),)
    assert await run(h, "run_expiry", datetime(2026, 12, 14, 9, 59, tzinfo=MAKASSAR)) == 0
    assert await run(h, "run_expiry", datetime(2026, 12, 14, 10, 0, tzinfo=MAKASSAR)) == 1
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.EXPIRED
    assert "waktu-waktu yang ditawarkan" in (await expiry_notice(h)).body


async def test_an_expired_request_refreshes_the_staff_card_without_decision_buttons(h: Harness) -> None:
    await submitted(h)
    await run(h, "run_expiry", datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR))
    [notice] = [n for n in await h.notifications(PROTOKOL) if n.kind == "decided"]
    intro, card = notice.messages
    assert "AUD-2026-000001 telah kedaluwarsa" in intro.body
    assert "Status: Kedaluwarsa" in card.body
    labels = [o.label for o in card.options] if isinstance(card, Choice) else []
    assert "Setujui" not in labels and "Tolak" not in labels


# ---- a move nobody decided --------------------------------------------------------------------------------


async def test_an_undecided_move_lets_staff_record_the_outcome_of_the_time_that_stood(h: Harness) -> None:
    await approved_for_monday(h)
    await request_a_move(h)  # to Wednesday 9 December 14.00; nobody decides
    [prompt] = [n for n in await h.notifications(PROTOKOL) if n.kind == "mark_outcome"]
    [question] = prompt.messages
    assert isinstance(question, Choice)
    h.clock.set(datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR))
    reply = await h.say(PROTOKOL, PressIn(question.options[0].key), staff=True)  # "Terlaksana"
    assert "Keputusan tersimpan: status AUD-2026-000001 kini “Terlaksana”" in reply
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED


async def test_a_move_nobody_decided_lapses_once_its_new_times_pass_and_leaves_the_nudge(h: Harness) -> None:
    request_id = await approved_for_monday(h)  # Monday 7 December 10.00
    await request_a_move(h)  # to Wednesday 9 December 14.00
    assert await run(h, "run_expiry", datetime(2026, 12, 9, 13, 59, tzinfo=MAKASSAR)) == 0
    assert "AUD-2026-000001" in (await run_and_read_nudge(h, datetime(2026, 12, 9, 8, 0, tzinfo=MAKASSAR)))
    assert await run(h, "run_expiry", datetime(2026, 12, 9, 14, 0, tzinfo=MAKASSAR)) == 1
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED
    assert request.scheduled_at == datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR)  # the original time stood
    [told] = [n for n in await h.notifications(REP) if n.kind == "decision" and "belum dapat diputuskan" in
              n.messages[0].body]  # fmt: skip
    assert "Audiensi tersebut dijadwalkan pada Senin, 7 Desember 2026 pukul 10.00 WITA" in told.messages[0].body
    staff = "\n".join(m.body for n in await h.notifications(PROTOKOL) if n.kind == "decided" for m in n.messages)
    assert "Permintaan perubahan jadwal AUD-2026-000001 gugur" in staff
    assert await run_and_read_nudge(h, datetime(2026, 12, 10, 8, 0, tzinfo=MAKASSAR)) == ""  # waits for no one
    # Its outcome is recorded as for any approved audience.
    assert "Terlaksana" in await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED


async def run_and_read_nudge(h: Harness, moment: datetime) -> str:
    """The nudge made at `moment` (empty when none was sent)."""
    before = len(await nudges(h))
    await run(h, "run_nudges", moment)
    return "\n".join((await nudges(h))[before:])


async def test_a_refusal_names_who_set_the_state_not_the_last_staff_decision(h: Harness) -> None:
    request_id = await approved_for_monday(h)  # approved by Petugas Protokol
    await h.say(REP, "/status")
    await h.say(REP, "Batalkan AUD-2026-000001")
    await h.say(REP, "Ketua berhalangan.")
    assert "telah dibatalkan" in await h.say(REP, "Ya, batalkan")
    reply = await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)  # an old card's button
    assert "AUD-2026-000001 sudah ditangani: “Dibatalkan”, atas permintaan perwakilan (Andi Rahmat Hidayat)" in reply
    assert "Petugas Protokol" not in reply
