"""Reminders through a Telegram that is slow, down or refusing, against the fake Bot API: an outage loses no
reminder, a failure is retried from the moment it happened (never again in the same round), a slow Telegram
holds up neither WhatsApp nor the scheduled jobs, and a reminder that fails for good shows on the staff card."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

import bot.channels.telegram as telegram_module
from bot.bootstrap import App, application
from bot.worker import Worker
from handlers.domain.model import Address, RequestStatus
from handlers.messages import PressIn, TextIn
from handlers.service import REPRESENTATIVE, STAFF
from storage.tables import OutboxRow
from tests.conftest import START
from tests.e2e.telegram_world import PROTOKOL_ID, STAFF_GROUP, settings_for
from tests.e2e.whatsapp_world import REP as REP_WA
from tests.e2e.whatsapp_world import TEMPLATE, wa_settings
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import MAKASSAR
from tests.integration.test_request_dialog import HAPPY

REP_CHAT = 5001
GROUP_STAFF = Address("telegram", f"{STAFF_GROUP}:{PROTOKOL_ID}")
DAY_BEFORE = datetime(2026, 12, 4, 9, 0, tzinfo=MAKASSAR)  # the reminder for Monday 7 December 10.00


@asynccontextmanager
async def telegram_app(api: FakeTelegramAPI, tmp_path: Path, clock: FakeClock) -> AsyncIterator[App]:
    async with application(settings_for(api, tmp_path), clock=clock) as app:
        yield app


async def approved_on_telegram(app: App, rep: Address) -> int:
    """A representative on Telegram files the usual request; staff in the group approve Monday 7 December 10.00."""
    for said, expected in HAPPY:
        replies = await app.service.handle(rep, TextIn(said), persona=REPRESENTATIVE)
        assert expected in "\n".join(m.body for m in replies), said
    async with app.new_uow() as uow:
        [request] = await uow.requests.list_for_contact(rep)
    assert request.id is not None
    for said in (PressIn(f"g:open:{request.id}"), TextIn("Setujui"), TextIn("2"), TextIn("1"), TextIn("1")):
        await app.service.handle(GROUP_STAFF, said, persona=STAFF, sender=Address("telegram", str(PROTOKOL_ID)),
                                 compact=True)  # fmt: skip
    async with app.new_uow() as uow:
        stored = await uow.requests.get(request.id)
    assert stored is not None and stored.status is RequestStatus.APPROVED
    return request.id


async def reminder_row(app: App, request_id: int) -> OutboxRow:
    async with app.sessions() as session:
        rows = (await session.execute(select(OutboxRow).where(OutboxRow.request_id == request_id))).scalars().all()  # type: ignore[arg-type]
    [row] = [r for r in rows if r.kind == "reminder_day_before"]
    return row


async def test_a_telegram_outage_of_three_hours_loses_no_reminder(
    telegram_api: FakeTelegramAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_module, "DIRECT_ATTEMPTS", 1)  # each try fails at once (no real-time waits)
    clock = FakeClock(START)
    async with telegram_app(telegram_api, tmp_path, clock) as app:
        channel = app.telegram()
        async with channel.bot:
            request_id = await approved_on_telegram(app, Address("telegram", str(REP_CHAT)))
            await channel.deliver_due()  # the card and the approval go out
            telegram_api.fail_next("sendMessage", status=502, times=10_000)  # Telegram is down from 09.00
            clock.set(DAY_BEFORE)
            outage_ends = DAY_BEFORE + timedelta(hours=3)
            while clock.now() < outage_ends:
                await channel.deliver_due()
                row = await reminder_row(app, request_id)
                assert row.state == "pending", row.last_error  # never given up while the audience is ahead
                clock.set(max(row.due_at, clock.now() + timedelta(seconds=1)))
            assert row.attempts > telegram_module.MAX_DELIVERY_ATTEMPTS
            assert row.due_at - DAY_BEFORE < timedelta(hours=3, minutes=6)  # the backoff stays capped
            telegram_api.recover()
            clock.set(row.due_at)
            await channel.deliver_due()
            row = await reminder_row(app, request_id)
    assert row.state == "sent"
    reminders = [m for m in telegram_api.messages_to(REP_CHAT) if "Pengingat, Bapak/Ibu" in m.text]
    assert len(reminders) == 1


async def test_a_failed_send_is_retried_from_the_failure_and_not_again_in_the_same_round(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    """Real time here: Telegram answers 502 to each of the channel's four quick tries (a few seconds in all)."""
    async with application(settings_for(telegram_api, tmp_path)) as app:
        channel = app.telegram()
        started = datetime.now(UTC)
        async with app.engine.begin() as connection:
            await connection.execute(insert(OutboxRow).values(
                channel="telegram", external_id=str(REP_CHAT), kind="reminder_2h", state="pending",
                payload={"messages": [{"type": "text", "body": "Pengingat"}],
                         "extra": {"audience_at": (started + timedelta(hours=2)).isoformat()}},
                due_at=started - timedelta(seconds=1), attempts=0, created_at=started))  # fmt: skip
        telegram_api.fail_next("sendMessage", status=502, times=100)
        async with channel.bot:
            await channel.deliver_due()
        async with app.sessions() as session:
            [row] = (await session.execute(select(OutboxRow))).scalars().all()  # type: ignore[arg-type]
    assert (row.state, row.attempts) == ("pending", 1)  # tried once in the round, not again at once
    # The tries took at least 3.5 s (0.5 + 1 + 2 between them); the 2 s backoff counts from their end.
    assert row.due_at >= started + timedelta(seconds=5.5)
    assert len(telegram_api.calls("sendMessage")) == telegram_module.DIRECT_ATTEMPTS


async def test_a_reminder_refused_for_good_shows_on_the_staff_card(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    async with telegram_app(telegram_api, tmp_path, clock) as app:
        channel = app.telegram()
        async with channel.bot:
            request_id = await approved_on_telegram(app, Address("telegram", str(REP_CHAT)))
            await channel.deliver_due()
            [card] = [m for m in telegram_api.messages_to(STAFF_GROUP) if "Permohonan audiensi" in m.text]
            clock.set(DAY_BEFORE)
            telegram_api.fail_next("sendMessage", status=400, description="Bad Request: message text is empty")
            await channel.deliver_due()  # the reminder is refused: failed for good
            await channel.deliver_due()  # the card notice that followed
            row = await reminder_row(app, request_id)
        assert row.state == "failed"
        edited = next(m for m in telegram_api.messages_to(STAFF_GROUP) if m.message_id == card.message_id)
        assert "Pengingat sehari kerja sebelumnya: gagal (BadRequest: Message text is empty)" in edited.text
        notes = [m.text for m in telegram_api.messages_to(STAFF_GROUP) if m.message_id != card.message_id]
        assert any("pengingat sehari kerja sebelumnya kepada perwakilan AUD-2026-000001 tidak dapat terkirim" in text
                   and "0812-3456-7890" in text for text in notes)  # fmt: skip


async def test_a_slow_telegram_holds_up_neither_whatsapp_nor_the_scheduled_jobs(
    telegram_api: FakeTelegramAPI, graph_api: FakeGraphAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    graph_api.register_template(TEMPLATE, "id", 2, quick_reply_count=1)
    clock = FakeClock(START)
    async with application(wa_settings(graph_api, tmp_path, telegram_api), clock=clock) as app:
        console_rep = Address("console", "warga-1")
        for said, _expected in HAPPY:  # an undecided request whose times pass later
            await app.service.handle(console_rep, TextIn(said), persona=REPRESENTATIVE)
        now = clock.now()
        async with app.engine.begin() as connection:
            await connection.execute(insert(OutboxRow), [
                {"channel": channel, "external_id": to, "kind": "decision", "state": "pending",
                 "payload": {"messages": [{"type": "text", "body": f"Pemberitahuan {channel}"}], "extra": {}},
                 "due_at": now, "attempts": 0, "created_at": now}
                for channel, to in (("telegram", str(REP_CHAT)), ("whatsapp", REP_WA))
            ])  # fmt: skip
        telegram_api.delay_next("sendMessage", 60, times=1_000)  # accepts connections, never answers in time
        telegram, whatsapp = app.telegram(), app.whatsapp()
        stop = asyncio.Event()
        async with whatsapp.client, telegram.bot:
            worker = asyncio.create_task(Worker(app, telegram, whatsapp).run(stop, 0.2))
            try:
                await until(lambda: bool(graph_api.sent(REP_WA)), "the WhatsApp notice")
                clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR))  # the request's times have passed

                async def expired() -> bool:
                    async with app.new_uow() as uow:
                        [request] = await uow.requests.list_for_contact(console_rep)
                    return request.status is RequestStatus.EXPIRED

                await until_async(expired, "the request to expire")
                assert not [m for m in telegram_api.messages_to(REP_CHAT) if "Pemberitahuan" in m.text]
            finally:
                stop.set()
                await worker
        # The Telegram job was still busy at each of its next runs: skipped quietly, not a warning every interval.
        assert not [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]


async def until(condition: object, what: str, within: float = 20.0) -> None:
    async def check() -> bool:
        return bool(condition())  # type: ignore[operator]

    await until_async(check, what, within)


async def until_async(condition: object, what: str, within: float = 20.0) -> None:
    """Wait for a condition (a bound for a loaded machine, not a pace)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_stopping_the_worker_mid_delivery_ends_quietly_and_the_row_comes_back_by_lease(
    telegram_api: FakeTelegramAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    async with telegram_app(telegram_api, tmp_path, clock) as app:
        now = clock.now()
        async with app.engine.begin() as connection:
            await connection.execute(insert(OutboxRow).values(
                channel="telegram", external_id=str(REP_CHAT), kind="decision", state="pending",
                payload={"messages": [{"type": "text", "body": "Keputusan"}], "extra": {}},
                due_at=now, attempts=0, created_at=now,
            ))  # fmt: skip
        telegram_api.delay_next("sendMessage", 60)  # Telegram takes its time: the send is under way at the stop
        telegram = app.telegram()
        stop = asyncio.Event()
        async with telegram.bot:
            worker = asyncio.create_task(Worker(app, telegram).run(stop, 0.2))
            await until(lambda: telegram_api.calls("sendMessage", ok=None) or None, "the send to start")
            stop.set()
            await asyncio.wait_for(worker, 30)
        async with app.engine.connect() as connection:
            decision = select(OutboxRow.state).where(OutboxRow.kind == "decision")  # type: ignore[call-overload,arg-type]
            state = (await connection.execute(decision)).scalar_one()
    assert state == "sending"  # claimed, not marked: another round takes it again once the lease is over
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
