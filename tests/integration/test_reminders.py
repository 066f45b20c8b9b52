"""Reminders end to end in the console: planned on approval, moved and cancelled with the audience, delivered at
the right office time through the same deliverer as every notice, quiet hours, digests, and a restart in between."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bot.channels.console import ConsoleChannel
from bot.delivery import DeliveryGate
from bot.worker import SecondWorker, single_worker_on_sqlite
from handlers.domain.model import Action, Actor, ActorKind, AuditEvent, DayOffEntry, RequestStatus
from handlers.messages import Choice, PressIn
from handlers.ports import ConcurrencyConflict, ScheduledMessage
from handlers.reminders import MARK_OUTCOME
from handlers.usecases import requests as usecases
from storage.database import create_engine, session_factory
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork
from tests.fakes.memory import FakeClock
from tests.harness import MAKASSAR, PROTOKOL, Harness, build_service
from tests.integration.test_request_dialog import REP
from tests.integration.test_staff_decisions import KESBANGPOL, submitted

AUDIENCE = datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR)  # Monday 7 December, the second preferred time
AFTER = datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR)  # two hours after it


async def approved(h: Harness) -> int:
    request_id = await submitted(h)
    for said in (PressIn(f"g:open:{request_id}"), "Setujui", "2", "1", "1"):
        await h.say(PROTOKOL, said, staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    return request_id


async def scheduled(h: Harness, request_id: int, to_representative: bool = True) -> dict[str, tuple[str, str]]:
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    return {
        r.kind: (r.state, r.due_at.astimezone(MAKASSAR).strftime("%d %H:%M"))
        for r in rows
        if r.kind.startswith(("reminder", "feedback")) == to_representative and r.kind != "decision"
    }


def console(h: Harness, outbox: OutboxStore, seen: list[str], who: object = REP) -> ConsoleChannel:
    gate = DeliveryGate(outbox, h.service.reminders.policy, h.clock)
    return ConsoleChannel(h.service, outbox, h.clock.now, address=who, writer=seen.append, gate=gate)  # type: ignore[arg-type]


async def test_approval_plans_the_reminders_and_the_staff_card_shows_them(h: Harness) -> None:
    request_id = await approved(h)
    assert await scheduled(h, request_id) == {
        "reminder_day_before": ("pending", "04 09:00"),
        "reminder_2h": ("pending", "07 08:00"),
        "feedback": ("pending", "07 12:00"),
    }
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Pengingat sehari kerja sebelumnya: dijadwalkan Jumat, 4 Desember 2026 pukul 09.00 WITA" in card
    assert "Pengingat menjelang audiensi: dijadwalkan Senin, 7 Desember 2026 pukul 08.00 WITA" in card


async def test_cancelled_audience_cancels_its_reminders(h: Harness) -> None:
    request_id = await approved(h)
    async with h.uow() as uow:
        request = await usecases.load(uow, request_id)
        await usecases.transition(uow, request, Action.CANCEL, Actor(ActorKind.REPRESENTATIVE, "1", "Andi"),
                                  h.clock.now())  # fmt: skip
        await uow.commit()
    states = await scheduled(h, request_id)
    assert {state for state, _ in states.values()} == {"cancelled"}
    assert {state for state, _ in (await scheduled(h, request_id, to_representative=False)).values()} >= {"cancelled"}


async def test_rejection_plans_nothing(h: Harness) -> None:
    request_id = await submitted(h)
    for said in (PressIn(f"g:reject:{request_id}"), "Jadwal penuh.", "1"):
        await h.say(PROTOKOL, said, staff=True)
    assert await scheduled(h, request_id) == {}


async def test_reminders_are_sent_at_their_time_with_quiet_hours_and_buttons(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    seen: list[str] = []
    rep = console(h, outbox, seen)
    await rep.deliver_notices()  # the approval itself
    seen.clear()
    h.clock.set(datetime(2026, 12, 4, 8, 59, tzinfo=MAKASSAR))
    assert await rep.deliver_notices() == 0
    h.clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=MAKASSAR))
    await rep.deliver_notices()
    [day_before] = seen
    assert "Pengingat, Bapak/Ibu: audiensi AUD-2026-000001" in day_before
    assert "Senin, 7 Desember 2026 pukul 10.00 WITA" in day_before and "Ruang Kerja Wakil Wali Kota" in day_before
    assert "Lantai 2 Balai Kota (Balai Kota Makassar, Jl. Ahmad Yani No. 2)" in day_before  # the building, too
    assert "1. Hadir" in day_before and "2. Batalkan" in day_before
    # The worker was down overnight: at 05.00 the 2-hour reminder (due 08.00) is not due; make it due in quiet hours.
    h.clock.set(datetime(2026, 12, 7, 5, 0, tzinfo=MAKASSAR))
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    two_hours = next(r for r in rows if r.kind == "reminder_2h")
    async with session_factory(h.engine)() as session, session.begin():  # type: ignore[arg-type]
        from sqlalchemy import update

        from storage.tables import OutboxRow

        await session.execute(update(OutboxRow).where(OutboxRow.id == two_hours.id).values(due_at=h.clock.now()))  # type: ignore[arg-type]
    seen.clear()
    await rep.deliver_notices()
    assert seen == []  # quiet hours: it waits until 06.00
    h.clock.set(datetime(2026, 12, 7, 6, 0, tzinfo=MAKASSAR))
    await rep.deliver_notices()
    assert len(seen) == 1 and "akan segera dimulai" in seen[0] and "Jl. Ahmad Yani No. 2" in seen[0]
    # Feedback comes after the audience; staff are asked to mark the outcome.
    h.clock.set(datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR))
    await rep.deliver_notices()
    assert "Mohon beri penilaian dari 1 (kurang) sampai 5" in seen[-1]
    staff_seen: list[str] = []
    await console(h, outbox, staff_seen, PROTOKOL).deliver_notices()
    assert any("Mohon catat apakah audiensi terlaksana" in text for text in staff_seen)
    async with h.uow() as uow:
        states = {r.kind: r.state for r in await uow.outbox.for_request(request_id) if r.external_id == REP.external_id}
    assert states["reminder_day_before"] == states["reminder_2h"] == states["feedback"] == "sent"
    assert MARK_OUTCOME not in states


async def test_a_reminder_for_an_audience_already_past_is_skipped_and_recorded(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    seen: list[str] = []
    h.clock.set(datetime(2026, 12, 7, 10, 30, tzinfo=MAKASSAR))  # nobody delivered before the audience
    await console(h, outbox, seen).deliver_notices()
    async with h.uow() as uow:
        rows = {r.kind: r for r in await uow.outbox.for_request(request_id)}
    assert rows["reminder_2h"].state == "skipped" and rows["reminder_2h"].last_error == "the audience has already begun"
    assert not any("akan segera dimulai" in text for text in seen)


async def test_hadir_and_batalkan_on_a_reminder(h: Harness) -> None:
    request_id = await approved(h)
    assert "Kami menantikan kehadiran Bapak/Ibu" in await h.say(REP, PressIn(f"g:r:attend:{request_id}"))
    assert "Apakah Bapak/Ibu ingin membatalkan" in await h.say(REP, PressIn(f"g:r:cancel:{request_id}"))
    assert "tetap sesuai jadwal" in await h.say(REP, "tidak")  # typed at the question: "No, keep it"
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    await h.say(REP, PressIn(f"g:r:cancel:{request_id}"))
    assert "telah dibatalkan" in await h.say(REP, "Ya")
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.CANCELLED
    assert {state for state, _ in (await scheduled(h, request_id)).values()} == {"cancelled"}
    staff_notes = [m.body for n in await h.notifications(PROTOKOL) for m in n.messages]
    assert any("Perwakilan membatalkan audiensi AUD-2026-000001" in body for body in staff_notes)


async def test_digests_list_the_day_and_skip_empty_days_and_holidays(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    planner = h.service.reminders

    async def digest_at(moment: datetime) -> list[str]:
        h.clock.set(moment)
        for _ in range(2):  # a second round (or a second worker) creates nothing more
            async with h.uow() as uow:
                await planner.run_digests(uow, h.clock.now())
                await uow.commit()
        seen: list[str] = []
        await console(h, outbox, seen, PROTOKOL).deliver_notices()
        return [text for text in seen if "Agenda" in text]

    # Friday afternoon, the last working day before Monday's audience: the agenda up to Monday.
    [friday] = await digest_at(datetime(2026, 12, 4, 16, 0, tzinfo=MAKASSAR))
    assert "Agenda hingga hari kerja berikutnya, Senin, 7 Desember 2026: 1 audiensi." in friday
    assert "Senin, 7 Desember 2026 10.00 — Karang Taruna Kelurahan Maccini" in friday and "5 orang" in friday
    assert await digest_at(datetime(2026, 12, 6, 16, 0, tzinfo=MAKASSAR)) == []  # Sunday: no afternoon agenda
    [today] = await digest_at(datetime(2026, 12, 7, 7, 0, tzinfo=MAKASSAR))
    assert "Agenda hari ini, Senin, 7 Desember 2026" in today
    assert await digest_at(datetime(2026, 12, 8, 7, 0, tzinfo=MAKASSAR)) == []  # no audiences
    assert await digest_at(datetime(2026, 12, 25, 7, 0, tzinfo=MAKASSAR)) == []  # Christmas: a holiday


async def test_the_afternoon_agenda_before_a_city_day_off_reaches_the_next_working_day(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)  # Monday 7 December 10.00; Friday the 4th is a city day off, so Thursday's lists Monday
    async with h.uow() as uow:
        await uow.days_off.add(DayOffEntry(None, date(2026, 12, 4), "Hari jadi kota", "Protokol"))
        await uow.commit()
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 12, 3, 16, 0, tzinfo=MAKASSAR))
    async with h.uow() as uow:
        await h.service.reminders.run_digests(uow, h.clock.now())
        await uow.commit()
    seen: list[str] = []
    await console(h, outbox, seen, PROTOKOL).deliver_notices()
    assert any("Agenda hingga hari kerja berikutnya, Senin, 7 Desember 2026: 1 audiensi." in text for text in seen)
    h.clock.set(datetime(2026, 12, 6, 16, 0, tzinfo=MAKASSAR))  # and Sunday afternoon nothing more
    async with h.uow() as uow:
        assert await h.service.reminders.run_digests(uow, h.clock.now()) == 0


async def test_a_digest_whose_first_round_failed_before_its_commit_is_made_by_the_next(h: Harness) -> None:
    await approved(h)
    planner = h.service.reminders
    h.clock.set(datetime(2026, 12, 7, 7, 0, tzinfo=MAKASSAR))
    async with h.uow() as uow:  # the first round's commit never happens (the database went away)
        assert await planner.run_digests(uow, h.clock.now()) > 0
    async with h.uow() as uow:
        assert await planner.run_digests(uow, h.clock.now()) > 0
        await uow.commit()
    async with h.uow() as uow:  # once stored, a further round makes nothing
        assert await planner.run_digests(uow, h.clock.now()) == 0
    today = [n for n in await h.notifications(PROTOKOL) if n.kind == "digest_today"]
    assert len(today) == 1 and "Agenda hari ini, Senin, 7 Desember 2026" in today[0].messages[0].body


async def test_a_digest_delivered_after_its_day_is_skipped_as_out_of_date(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 12, 7, 7, 0, tzinfo=MAKASSAR))
    async with h.uow() as uow:
        await h.service.reminders.run_digests(uow, h.clock.now())
        await uow.commit()
    h.clock.set(datetime(2026, 12, 8, 7, 30, tzinfo=MAKASSAR))  # nothing was delivered until the next morning
    seen: list[str] = []
    await console(h, outbox, seen, PROTOKOL).deliver_notices()
    assert not any("Agenda hari ini, Senin" in text for text in seen)
    async with session_factory(h.engine)() as session:  # type: ignore[arg-type]
        from sqlalchemy import select

        from storage.tables import OutboxRow

        rows = (await session.execute(select(OutboxRow))).scalars().all()  # type: ignore[arg-type]
    [row] = [r for r in rows if r.kind == "digest_today" and r.external_id == PROTOKOL.external_id]
    assert row.state == "skipped" and "agenda" in (row.last_error or "")


async def test_a_restart_between_scheduling_and_sending_still_sends(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)
    assert h.engine is not None
    url = h.engine.url.render_as_string(hide_password=False)
    await h.engine.dispose()  # the process ends; a new one starts later with nothing in memory
    engine = create_engine(url)
    try:
        clock = FakeClock(datetime(2026, 12, 4, 9, 0, tzinfo=MAKASSAR))
        sessions = session_factory(engine)
        service, _ = build_service(lambda: SqlUnitOfWork(sessions, clock), clock)
        restarted = Harness(service, clock, h.backend, lambda: SqlUnitOfWork(sessions, clock), engine=engine)
        seen: list[str] = []
        await console(restarted, OutboxStore(sessions), seen).deliver_notices()
        assert any("Pengingat, Bapak/Ibu: audiensi AUD-2026-000001" in text for text in seen)
    finally:
        await engine.dispose()


def test_a_second_worker_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    refused = pytest.raises(SecondWorker, match="SQLite deployments run a single process")
    with single_worker_on_sqlite(url), refused, single_worker_on_sqlite(url):
        pass  # pragma: no cover
    with single_worker_on_sqlite(url):  # released when the first one stops
        pass


async def test_a_rating_then_an_optional_comment_are_kept_and_passed_to_staff(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(AFTER)  # the feedback request goes out two hours after the start
    reply = await h.say(REP, PressIn(f"g:r:rate:{request_id}:4"))
    assert "Apakah Bapak/Ibu ingin menambahkan komentar tentang audiensi AUD-2026-000001?" in reply
    assert "Terima kasih atas masukan" in await h.say(REP, "Pertemuan berjalan baik, tindak lanjutnya jelas.")
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.note for e in events if e.action is Action.FEEDBACK] == [
        "rating 4/5", "comment: Pertemuan berjalan baik, tindak lanjutnya jelas."]  # fmt: skip
    told = "\n".join(m.body for n in await h.notifications(PROTOKOL) for m in n.messages)
    assert "4 dari 5" in told and "Pertemuan berjalan baik, tindak lanjutnya jelas." in told


async def test_the_comment_is_optional(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(AFTER)  # the feedback request goes out two hours after the start
    await h.say(REP, PressIn(f"g:r:rate:{request_id}:5"))
    assert "Terima kasih atas masukan" in await h.say(REP, "lewati")
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.note for e in events if e.action is Action.FEEDBACK] == ["rating 5/5"]


async def test_a_second_rating_is_answered_politely_and_changes_nothing(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(AFTER)  # the feedback request goes out two hours after the start
    await h.say(REP, PressIn(f"g:r:rate:{request_id}:4"))
    await h.say(REP, "lewati")
    staff_notices = len(await h.notifications(PROTOKOL))
    again = await h.say(REP, PressIn(f"g:r:rate:{request_id}:1"))  # the old buttons pressed once more
    assert "penilaian Bapak/Ibu atas audiensi AUD-2026-000001 sudah kami terima" in again
    assert "komentar" not in again  # no second comment is asked for
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.note for e in events if e.action is Action.FEEDBACK] == ["rating 4/5"]
    assert len(await h.notifications(PROTOKOL)) == staff_notices  # staff are not told again


async def test_staff_are_asked_for_the_outcome_with_buttons_that_record_it(h: Harness) -> None:
    await approved(h)
    [asked] = [n for n in await h.notifications(PROTOKOL) if n.kind == MARK_OUTCOME]
    [question] = asked.messages
    assert isinstance(question, Choice)
    assert [o.label for o in question.options] == ["Terlaksana", "Tidak hadir"]
    h.clock.set(datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR))  # after the audience
    await h.say(PROTOKOL, PressIn(question.options[0].key), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED


# ---- after the audience: feedback whether or not staff mark it first -------------------------------------


def rows_of(rows: list[ScheduledMessage], kind: str) -> list[tuple[str, str]]:
    return [(r.state, r.due_at.astimezone(MAKASSAR).strftime("%d %H:%M")) for r in rows if r.kind == kind]


async def test_marked_held_before_the_feedback_time_the_representative_is_still_asked(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 12, 7, 11, 0, tzinfo=MAKASSAR))  # an hour after the start
    assert "Terlaksana" in await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    assert rows_of(rows, "feedback") == [("pending", "07 12:00")]  # the same row, still at its time
    assert {state for state, _ in rows_of(rows, MARK_OUTCOME)} == {"cancelled"}
    seen: list[str] = []
    h.clock.set(datetime(2026, 12, 7, 11, 59, tzinfo=MAKASSAR))
    await console(h, outbox, seen).deliver_notices()
    assert not any("Mohon beri penilaian" in text for text in seen)
    h.clock.set(datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR))
    await console(h, outbox, seen).deliver_notices()
    assert sum("Mohon beri penilaian dari 1 (kurang) sampai 5" in text for text in seen) == 1
    staff_seen: list[str] = []
    await console(h, outbox, staff_seen, PROTOKOL).deliver_notices()
    assert not any("Mohon catat apakah audiensi terlaksana" in text for text in staff_seen)  # already recorded


async def test_marked_held_after_the_feedback_time_the_feedback_goes_out_once(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    # Nobody delivered at 12.00 (the worker was down); staff mark the audience held late in the evening.
    h.clock.set(datetime(2026, 12, 7, 22, 30, tzinfo=MAKASSAR))
    await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    seen: list[str] = []
    await console(h, outbox, seen).deliver_notices()
    assert not any("Mohon beri penilaian" in text for text in seen)  # quiet hours
    h.clock.set(datetime(2026, 12, 8, 6, 0, tzinfo=MAKASSAR))
    await console(h, outbox, seen).deliver_notices()
    assert sum("Mohon beri penilaian" in text for text in seen) == 1
    async with h.uow() as uow:
        assert rows_of(await uow.outbox.for_request(request_id), "feedback") == [("sent", "08 06:00")]


async def test_a_feedback_request_already_sent_is_not_sent_again_when_marked_held(h: Harness) -> None:
    request_id = await approved(h)
    async with h.uow() as uow:
        [feedback] = [r for r in await uow.outbox.for_request(request_id) if r.kind == "feedback"]
    if h.memory is not None:
        next(e for e in h.memory.data.outbox if e.id == feedback.id).state = "sent"
    else:
        outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
        await outbox.mark_sent(feedback.id, h.clock.now())
    h.clock.set(datetime(2026, 12, 7, 14, 0, tzinfo=MAKASSAR))
    await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    async with h.uow() as uow:
        assert rows_of(await uow.outbox.for_request(request_id), "feedback") == [("sent", "07 12:00")]


async def test_not_attended_asks_for_no_feedback(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(datetime(2026, 12, 7, 11, 0, tzinfo=MAKASSAR))
    assert "Tidak hadir" in await h.say(PROTOKOL, PressIn(f"g:noshow:{request_id}"), staff=True)
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    assert rows_of(rows, "feedback") == [("cancelled", "07 12:00")]
    assert {state for state, _ in rows_of(rows, MARK_OUTCOME)} == {"cancelled"}


# ---- a move: requested, then approved or refused ----------------------------------------------------------

MOVED_TO = datetime(2026, 12, 9, 14, 0, tzinfo=MAKASSAR)  # Wednesday 9 December 14.00


async def request_a_move(h: Harness) -> None:
    await h.say(REP, "/status")
    reply = await h.say(REP, "Ubah jadwal AUD-2026-000001")
    assert "Senin, 7 Desember 2026 pukul 10.00 WITA" in reply
    await h.say(REP, "Rabu, 9 Desember 2026 jam 14.00")
    assert "Dicatat: Rabu, 9 Desember 2026 pukul 14.00 WITA." in await h.say(REP, "Ya")
    await h.say(REP, "Selesai")
    await h.say(REP, "Ketua organisasi bertugas ke luar kota pada hari Senin.")
    assert "telah diteruskan kepada petugas" in await h.say(REP, "Kirim")
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.RESCHEDULE_REQUESTED


async def test_while_a_move_waits_the_booked_time_keeps_its_reminders(h: Harness) -> None:
    request_id = await approved(h)
    before = await scheduled(h, request_id)
    await request_a_move(h)
    assert before == {
        "reminder_day_before": ("pending", "04 09:00"),
        "reminder_2h": ("pending", "07 08:00"),
        "feedback": ("pending", "07 12:00"),
    }
    assert await scheduled(h, request_id) == before
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Pengingat sehari kerja sebelumnya: dijadwalkan Jumat, 4 Desember 2026 pukul 09.00 WITA" in card
    # "Hadir" on the reminder still works for the time that stands.
    assert "Kami menantikan kehadiran Bapak/Ibu" in await h.say(REP, PressIn(f"g:r:attend:{request_id}"))


async def test_a_move_approved_moves_the_reminders(h: Harness) -> None:
    request_id = await approved(h)
    await request_a_move(h)
    await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
    await h.say(PROTOKOL, "1", staff=True)  # the representative's new time, offered first
    await h.say(PROTOKOL, "1", staff=True)  # the room
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "1", staff=True)
    request = await h.request("AUD-2026-000001")
    assert request.status is RequestStatus.APPROVED and request.scheduled_at == MOVED_TO
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    pending = {r.kind: r.due_at.astimezone(MAKASSAR).strftime("%d %H:%M") for r in rows if r.state == "pending"}
    assert pending["reminder_day_before"] == "08 09:00" and pending["reminder_2h"] == "09 12:00"
    assert pending["feedback"] == "09 16:00"
    assert rows_of(rows, "reminder_2h") == [("cancelled", "07 08:00"), ("pending", "09 12:00")]


async def test_a_move_refused_keeps_the_reminders(h: Harness) -> None:
    request_id = await approved(h)
    before = await scheduled(h, request_id)
    await request_a_move(h)
    await h.say(PROTOKOL, PressIn(f"g:keep:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Wakil Wali Kota bertugas ke luar kota pada hari Rabu.", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "1", staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    assert await scheduled(h, request_id) == before
    async with h.uow() as uow:
        assert not [r for r in await uow.outbox.for_request(request_id) if r.state == "cancelled"]


async def test_the_agenda_lists_an_audience_whose_move_is_still_undecided(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)
    await request_a_move(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 12, 4, 16, 0, tzinfo=MAKASSAR))
    async with h.uow() as uow:
        await h.service.reminders.run_digests(uow, h.clock.now())
        await uow.commit()
    seen: list[str] = []
    await console(h, outbox, seen, PROTOKOL).deliver_notices()
    [friday] = [text for text in seen if "Agenda hingga" in text]
    assert "Senin, 7 Desember 2026: 1 audiensi." in friday and "AUD-2026-000001" in friday


async def test_batalkan_on_a_reminder_frees_the_officials_time(h: Harness) -> None:
    request_id = await approved(h)
    await h.say(REP, PressIn(f"g:r:cancel:{request_id}"))
    await h.say(REP, PressIn(f"g:r:cancelyes:{request_id}"))
    async with h.uow() as uow:
        assert await uow.bookings.for_request(request_id) is None


# ---- quiet hours for every notice to a representative -----------------------------------------------------


async def test_a_decision_made_at_night_reaches_the_representative_at_six(sql_h: Harness) -> None:
    h = sql_h
    request_id = await submitted(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    rep_seen: list[str] = []
    await console(h, outbox, rep_seen).deliver_notices()
    h.clock.set(datetime(2026, 11, 23, 22, 0, tzinfo=MAKASSAR))  # staff work late
    await h.say(PROTOKOL, PressIn(f"g:info:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan SK kepengurusan yang masih berlaku.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    other_staff: list[str] = []
    await console(h, outbox, other_staff, KESBANGPOL).deliver_notices()
    assert any("AUD-2026-000001" in text for text in other_staff)  # staff notices are not held back
    await console(h, outbox, rep_seen).deliver_notices()
    assert rep_seen == []
    # A reply to the representative's own message at night is answered at once.
    assert "AUD-2026-000001" in await h.say(REP, "/status")
    h.clock.set(datetime(2026, 11, 24, 5, 59, tzinfo=MAKASSAR))
    await console(h, outbox, rep_seen).deliver_notices()
    assert rep_seen == []
    h.clock.set(datetime(2026, 11, 24, 6, 0, tzinfo=MAKASSAR))
    await console(h, outbox, rep_seen).deliver_notices()
    assert len(rep_seen) == 1 and "Mohon lampirkan SK kepengurusan" in rep_seen[0]


async def test_a_rejection_at_night_waits_until_six(sql_h: Harness) -> None:
    h = sql_h
    request_id = await submitted(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=MAKASSAR))
    await h.say(PROTOKOL, PressIn(f"g:reject:{request_id}"), staff=True)
    await h.say(PROTOKOL, "Jadwal Wakil Wali Kota penuh hingga akhir tahun.", staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    seen: list[str] = []
    await console(h, outbox, seen).deliver_notices()
    assert seen == []
    h.clock.set(datetime(2026, 11, 24, 6, 0, tzinfo=MAKASSAR))
    await console(h, outbox, seen).deliver_notices()
    assert len(seen) == 1 and "tidak dapat dipenuhi" in seen[0]


# ---- staff days off ---------------------------------------------------------------------------------------


async def add_day_off(h: Harness, day: date, reason: str, official: str | None = None, *, opens: bool = False
                      ) -> None:  # fmt: skip
    async with h.uow() as uow:
        await uow.days_off.add(DayOffEntry(official, day, reason, "Protokol", opens=opens))
        await uow.commit()


async def test_a_city_day_off_is_not_the_working_day_before_an_audience(h: Harness) -> None:
    await add_day_off(h, date(2026, 12, 4), "Hari jadi kota")  # Friday before the Monday audience
    request_id = await approved(h)
    assert (await scheduled(h, request_id))["reminder_day_before"] == ("pending", "03 09:00")


async def test_a_day_off_for_one_official_does_not_move_the_reminder(h: Harness) -> None:
    await add_day_off(h, date(2026, 12, 4), "Kunjungan kerja", official="wakil-walikota")
    request_id = await approved(h)
    assert (await scheduled(h, request_id))["reminder_day_before"] == ("pending", "04 09:00")


async def approved_at(h: Harness, typed: str) -> int:
    """A request approved by staff at a time they type ("Senin, 28 Desember 2026 jam 10")."""
    request_id = await submitted(h)
    await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
    assert "benar?" in await h.say(PROTOKOL, typed, staff=True)
    for said in ("Ya", "1", "1"):
        await h.say(PROTOKOL, said, staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    return request_id


async def test_a_holiday_opened_for_the_city_is_a_working_day_before_an_audience(h: Harness) -> None:
    # Cuti bersama on Thursday 24 December moved by decree: the working day before Monday 28 is Thursday again,
    # and a later, unrelated change of days off leaves the reminder there.
    await add_day_off(h, date(2026, 12, 24), "SKB 3 Menteri: cuti bersama dipindahkan", opens=True)
    request_id = await approved_at(h, "Senin, 28 Desember 2026 jam 10")
    assert await pending_day_before(h, request_id) == ["24 09:00"]
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, "Tambah hari libur", staff=True)
    await h.say(PROTOKOL, "Semua pejabat", staff=True)
    await h.say(PROTOKOL, "4 Desember 2026", staff=True)
    await h.say(PROTOKOL, "Hari jadi Kota Makassar", staff=True)
    assert "Tersimpan" in await h.say(PROTOKOL, "Simpan", staff=True)
    assert await pending_day_before(h, request_id) == ["24 09:00"]
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    assert len(rows_of(rows, "reminder_day_before")) == 1  # never cancelled and planned again


async def test_a_holiday_opened_for_one_official_does_not_move_the_reminder(h: Harness) -> None:
    await add_day_off(h, date(2026, 12, 24), "Wakil Wali Kota tetap berkantor", "wakil-walikota", opens=True)
    request_id = await approved_at(h, "Senin, 28 Desember 2026 jam 10")
    assert await pending_day_before(h, request_id) == ["23 09:00"]  # the office is still closed on the 24th


async def libur(h: Harness, action: str, official: str, day: str, reason: str) -> str:
    """Staff go through /libur: "Tambah hari libur" or "Buka libur nasional"; the reply to "Simpan"."""
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, action, staff=True)
    await h.say(PROTOKOL, official, staff=True)
    await h.say(PROTOKOL, day, staff=True)
    await h.say(PROTOKOL, reason, staff=True)
    return await h.say(PROTOKOL, "Simpan", staff=True)


async def test_a_holiday_opened_in_the_chat_moves_the_reminder_to_it(h: Harness) -> None:
    request_id = await approved_at(h, "Senin, 28 Desember 2026 jam 10")
    assert await pending_day_before(h, request_id) == ["23 09:00"]  # Thursday 24 and Friday 25 are closed
    said = await libur(h, "Buka libur nasional", "Semua pejabat", "24 Desember 2026", "SKB 3 Menteri: dipindahkan")
    assert "Tersimpan: Kamis, 24 Desember 2026 (Cuti Bersama Hari Raya Natal) menjadi hari kerja" in said
    assert await pending_day_before(h, request_id) == ["24 09:00"]


async def test_a_day_off_saved_twice_says_it_was_updated_and_a_weekend_changes_nothing(h: Harness) -> None:
    said = await libur(h, "Tambah hari libur", "Semua pejabat", "4 Desember 2026", "Hari jadi kota")
    assert "Tersimpan: Jumat, 4 Desember 2026 ditutup untuk Semua pejabat (Hari jadi kota)." in said
    said = await libur(h, "Tambah hari libur", "Semua pejabat", "4 Desember 2026", "Hari jadi Kota Makassar")
    assert "Diperbarui: Jumat, 4 Desember 2026 sudah ditutup untuk Semua pejabat (“Hari jadi kota”)" in said
    async with h.uow() as uow:
        [entry] = await uow.days_off.between(date(2026, 12, 1), date(2026, 12, 31))
    assert entry.reason == "Hari jadi Kota Makassar"
    said = await libur(h, "Tambah hari libur", "Semua pejabat", "5 Desember 2026", "Kerja bakti")
    assert "Sabtu, 5 Desember 2026 memang tidak ada jam kantor" in said
    # A day staff blocked is not opened over their day off.
    await libur(h, "Tambah hari libur", "Semua pejabat", "24 Desember 2026", "Rapat paripurna DPRD")
    said = await libur(h, "Buka libur nasional", "Semua pejabat", "24 Desember 2026", "SKB 3 Menteri: dipindahkan")
    assert "Kamis, 24 Desember 2026 ditutup oleh petugas untuk Semua pejabat (“Rapat paripurna DPRD”)" in said


async def pending_day_before(h: Harness, request_id: int) -> list[str]:
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    return [due for state, due in rows_of(rows, "reminder_day_before") if state == "pending"]


async def test_a_city_day_off_added_later_moves_the_reminder_and_removing_it_moves_it_back(h: Harness) -> None:
    request_id = await approved(h)
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, "Tambah hari libur", staff=True)
    await h.say(PROTOKOL, "Semua pejabat", staff=True)
    assert "Tanggal: Jumat, 4 Desember 2026." in await h.say(PROTOKOL, "4 Desember 2026", staff=True)
    await h.say(PROTOKOL, "Hari jadi Kota Makassar", staff=True)
    assert "Tersimpan" in await h.say(PROTOKOL, "Simpan", staff=True)
    assert await pending_day_before(h, request_id) == ["03 09:00"]
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Pengingat sehari kerja sebelumnya: dijadwalkan Kamis, 3 Desember 2026 pukul 09.00 WITA" in card
    await h.say(PROTOKOL, "/libur", staff=True)
    assert "Dihapus" in await h.say(PROTOKOL, "Hapus 4 Desember 2026 (Semua pejabat)", staff=True)
    assert await pending_day_before(h, request_id) == ["04 09:00"]


async def test_a_day_off_added_for_tomorrow_sends_the_reminder_now(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(datetime(2026, 12, 3, 15, 0, tzinfo=MAKASSAR))  # Thursday afternoon: Friday becomes a holiday
    await h.say(PROTOKOL, "/libur", staff=True)
    await h.say(PROTOKOL, "Tambah hari libur", staff=True)
    await h.say(PROTOKOL, "Semua pejabat", staff=True)
    await h.say(PROTOKOL, "4 Desember 2026", staff=True)
    await h.say(PROTOKOL, "Cuti bersama tambahan", staff=True)
    await h.say(PROTOKOL, "Simpan", staff=True)
    assert await pending_day_before(h, request_id) == ["03 15:00"]


# ---- after the audience's time: what the representative can still do ---------------------------------------

LATER_THAT_DAY = datetime(2026, 12, 7, 15, 0, tzinfo=MAKASSAR)  # five hours after the 10.00 audience
TIME_PASSED = "sudah lewat, sehingga tidak dapat lagi dibatalkan atau diubah jadwalnya"


async def test_batalkan_after_the_audience_time_is_refused_and_staff_can_still_mark_it_held(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(LATER_THAT_DAY)
    assert TIME_PASSED in await h.say(REP, PressIn(f"g:r:cancel:{request_id}"))  # on the reminder
    assert TIME_PASSED in await h.say(REP, PressIn(f"g:r:cancelyes:{request_id}"))  # an old confirmation
    status = await h.say(REP, "/status")
    assert "Batalkan AUD-2026-000001" not in status and "Ubah jadwal AUD-2026-000001" not in status
    assert TIME_PASSED in await h.say(REP, PressIn(f"g:cancel:{request_id}"))  # /status → cancel, pressed earlier
    assert TIME_PASSED in await h.say(REP, PressIn(f"g:reschedule:{request_id}"))
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    async with h.uow() as uow:
        assert await uow.bookings.for_request(request_id) is not None  # the official's time stays booked
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED


async def test_hadir_after_the_audience_time_says_the_time_has_passed(h: Harness) -> None:
    request_id = await approved(h)
    h.clock.set(LATER_THAT_DAY)
    reply = await h.say(REP, PressIn(f"g:r:attend:{request_id}"))
    assert "Waktu audiensi AUD-2026-000001 (Senin, 7 Desember 2026 pukul 10.00 WITA) sudah lewat." in reply
    assert "Kami menantikan" not in reply


async def test_a_rating_is_refused_before_the_audience_and_after_not_attended(h: Harness) -> None:
    request_id = await approved(h)
    early = await h.say(REP, PressIn(f"g:r:rate:{request_id}:5"))
    assert "Penilaian hanya dapat diberikan untuk audiensi yang telah terlaksana" in early and "Disetujui" in early
    h.clock.set(datetime(2026, 12, 7, 11, 0, tzinfo=MAKASSAR))
    await h.say(PROTOKOL, PressIn(f"g:noshow:{request_id}"), staff=True)
    after = await h.say(REP, PressIn(f"g:r:rate:{request_id}:5"))
    assert "Penilaian hanya dapat diberikan" in after and "Tidak hadir" in after
    async with h.uow() as uow:
        assert [e for e in await uow.audit.for_request(request_id) if e.action is Action.FEEDBACK] == []


async def test_the_database_keeps_one_rating_per_audience(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    h.clock.set(AFTER)
    await h.say(REP, PressIn(f"g:r:rate:{request_id}:4"))
    andi = Actor(ActorKind.REPRESENTATIVE, "1", "Andi Rahmat Hidayat")
    with pytest.raises(ConcurrencyConflict):  # what a second process that also found no rating would record
        async with h.uow() as uow:
            await uow.audit.add(AuditEvent(request_id, h.clock.now(), andi, Action.FEEDBACK, RequestStatus.APPROVED,
                                           RequestStatus.APPROVED, "rating 5/5"))  # fmt: skip
            await uow.commit()
    for comment in ("comment: baik", "comment: terima kasih"):  # comments are not limited
        async with h.uow() as uow:
            await uow.audit.add(AuditEvent(request_id, h.clock.now(), andi, Action.FEEDBACK, RequestStatus.APPROVED,
                                           RequestStatus.APPROVED, comment))  # fmt: skip
            await uow.commit()
    async with h.uow() as uow:
        notes = [e.note for e in await uow.audit.for_request(request_id) if e.action is Action.FEEDBACK]
    assert notes == ["rating 4/5", "comment: baik", "comment: terima kasih"]


# ---- /status offers what the reminders offer (a WhatsApp template's "Lihat status" leads there) -------------


async def test_status_of_a_held_audience_offers_a_rating_and_a_typed_number_gives_it(h: Harness) -> None:
    request_id = await approved(h)
    assert "Beri penilaian" not in await h.say(REP, "/status")  # not before the audience
    h.clock.set(datetime(2026, 12, 7, 11, 0, tzinfo=MAKASSAR))
    await h.say(PROTOKOL, PressIn(f"g:held:{request_id}"), staff=True)
    assert "Beri penilaian AUD-2026-000001" in await h.say(REP, "/status")
    asked = await h.say(REP, "Beri penilaian AUD-2026-000001")
    assert "Mohon beri penilaian dari 1 (kurang) sampai 5" in asked
    assert "Apakah Bapak/Ibu ingin menambahkan komentar" in await h.say(REP, "5")
    await h.say(REP, "lewati")
    async with h.uow() as uow:
        assert [e.note for e in await uow.audit.for_request(request_id) if e.action is Action.FEEDBACK] == [
            "rating 5/5"
        ]
    assert "Beri penilaian" not in await h.say(REP, "/status")  # rated once


async def test_status_offers_hadir_once_a_reminder_went_out(sql_h: Harness) -> None:
    h = sql_h
    await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    assert "Hadir AUD-2026-000001" not in await h.say(REP, "/status")
    h.clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=MAKASSAR))
    await console(h, outbox, []).deliver_notices()  # the day-before reminder goes out
    status = await h.say(REP, "/status")
    assert "Hadir AUD-2026-000001" in status and "Batalkan AUD-2026-000001" in status
    assert "Kami menantikan kehadiran Bapak/Ibu" in await h.say(REP, "Hadir AUD-2026-000001")


# ---- a reminder already being sent when the audience is cancelled ------------------------------------------


async def test_a_reminder_claimed_before_the_cancellation_is_skipped_at_delivery(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    h.clock.set(datetime(2026, 12, 7, 8, 0, tzinfo=MAKASSAR))
    [claimed] = [i for i in await outbox.claim(h.clock.now(), channel="console") if i.kind == "reminder_2h"]
    await h.say(REP, PressIn(f"g:r:cancel:{request_id}"))
    assert "telah dibatalkan" in await h.say(REP, PressIn(f"g:r:cancelyes:{request_id}"))
    gate = DeliveryGate(outbox, h.service.reminders.policy, h.clock)
    assert await gate.allow(claimed) is False
    async with h.uow() as uow:
        [row] = [r for r in await uow.outbox.for_request(request_id) if r.id == claimed.id]
    assert (row.state, row.last_error) == ("skipped", "request cancelled")


# ---- what operators read ----------------------------------------------------------------------------------


async def test_audiensi_messages_lists_a_requests_messages_under_a_header_in_indonesian(
    sql_h: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import _messages
    from bot.settings import Settings
    from tests.harness import CITY_CONFIG

    h = sql_h
    request_id = await approved(h)
    async with h.uow() as uow:
        [feedback] = [r for r in await uow.outbox.for_request(request_id) if r.kind == "feedback"]
    await OutboxStore(session_factory(h.engine)).mark_failed(feedback.id, "NetworkError: Bad Gateway")  # type: ignore[arg-type]
    assert h.engine is not None
    url = h.engine.url.render_as_string(hide_password=False)
    assert await _messages(Settings(database_url=url, config_file=CITY_CONFIG), "aud-2026-000001") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Pesan untuk AUD-2026-000001:"
    header = lines[1].split()
    assert header == ["No.", "Jenis", "Penerima", "Status", "Jadwal", "/", "terkirim", "Percobaan", "Keterangan"]
    [day_before] = [line for line in lines if "reminder_day_before" in line]
    assert "dijadwalkan [pending]" in day_before and "Jumat, 4 Desember 2026 pukul 09.00 WITA" in day_before
    [failed] = [line for line in lines if " feedback " in line]
    assert "gagal [failed]" in failed and failed.endswith("NetworkError: Bad Gateway")
    assert not any(word in " ".join(lines) for word in ("pending ", "Messages", "attempts"))
