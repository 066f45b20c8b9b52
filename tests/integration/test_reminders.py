"""Reminders end to end in the console: planned on approval, moved and cancelled with the audience, delivered at
the right office time through the same deliverer as every notice, quiet hours, digests, and a restart in between."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from bot.channels.console import ConsoleChannel
from bot.delivery import DeliveryGate
from bot.worker import SecondWorker, single_worker_on_sqlite
from handlers.domain.model import Action, Actor, ActorKind, RequestStatus
from handlers.messages import Choice, PressIn
from handlers.reminders import MARK_OUTCOME
from handlers.usecases import reminders
from handlers.usecases import requests as usecases
from storage.database import create_engine, session_factory
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork
from tests.fakes.memory import FakeClock
from tests.harness import MAKASSAR, PROTOKOL, Harness, build_service
from tests.integration.test_request_dialog import REP
from tests.integration.test_staff_decisions import submitted

AUDIENCE = datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR)  # Monday 7 December, the second preferred time


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


async def test_moved_audience_moves_its_reminders(h: Harness) -> None:
    request_id = await approved(h)
    moved_to = datetime(2026, 12, 9, 14, 0, tzinfo=MAKASSAR)  # Wednesday 14.00
    reminders.use(h.service.reminders)
    async with h.uow() as uow:  # what the other engineer's reschedule does: a new time on an approved request
        before = await usecases.load(uow, request_id)
        after = await uow.requests.save_transition(replace(before, scheduled_at=moved_to), before.version)
        await reminders.after_transition(uow, before, after, h.clock.now())
        await uow.commit()
    async with h.uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    pending = {r.kind: r.due_at.astimezone(MAKASSAR).strftime("%d %H:%M") for r in rows if r.state == "pending"}
    assert pending["reminder_day_before"] == "08 09:00" and pending["reminder_2h"] == "09 12:00"
    assert len([r for r in rows if r.kind == "reminder_2h" and r.state == "cancelled"]) == 1


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
    assert len(seen) == 1 and "akan segera dimulai" in seen[0]
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
    assert "telah dibatalkan" in await h.say(REP, PressIn(f"g:r:cancelyes:{request_id}"))
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

    [tomorrow] = await digest_at(datetime(2026, 12, 6, 16, 0, tzinfo=MAKASSAR))  # Sunday: Monday has one
    assert "Agenda besok, Senin, 7 Desember 2026: 1 audiensi." in tomorrow
    assert "10.00 — Karang Taruna Kelurahan Maccini" in tomorrow and "5 orang" in tomorrow
    [today] = await digest_at(datetime(2026, 12, 7, 7, 0, tzinfo=MAKASSAR))
    assert "Agenda hari ini, Senin, 7 Desember 2026" in today
    assert await digest_at(datetime(2026, 12, 8, 7, 0, tzinfo=MAKASSAR)) == []  # no audiences
    assert await digest_at(datetime(2026, 12, 25, 7, 0, tzinfo=MAKASSAR)) == []  # Christmas: a holiday


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
    reply = await h.say(REP, PressIn(f"g:r:rate:{request_id}:4"))
    assert "Apakah Bapak/Ibu ingin menambahkan komentar tentang audiensi AUD-2026-000001?" in reply
    assert "Terima kasih atas masukan" in await h.say(REP, "Pertemuan berjalan baik, tindak lanjutnya jelas.")
    async with h.uow() as uow:
        events = await uow.audit.for_request(request_id)
    assert [e.note for e in events if e.action is Action.FEEDBACK] == [
        "rating 4/5", "comment: Pertemuan berjalan baik, tindak lanjutnya jelas."]  # fmt: skip
    told = "\n".join(m.body for n in await h.notifications(PROTOKOL) for m in n.messages)
    assert "4 dari 5" in told and "Pertemuan berjalan baik, tindak lanjutnya jelas." in told
    # The comment is optional.
    await h.say(REP, PressIn(f"g:r:rate:{request_id}:5"))
    assert "Terima kasih atas masukan" in await h.say(REP, "lewati")


async def test_staff_are_asked_for_the_outcome_with_buttons_that_record_it(h: Harness) -> None:
    await approved(h)
    [asked] = [n for n in await h.notifications(PROTOKOL) if n.kind == MARK_OUTCOME]
    [question] = asked.messages
    assert isinstance(question, Choice)
    assert [o.label for o in question.options] == ["Terlaksana", "Tidak hadir"]
    h.clock.set(datetime(2026, 12, 7, 12, 0, tzinfo=MAKASSAR))  # after the audience
    await h.say(PROTOKOL, PressIn(question.options[0].key), staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.COMPLETED
