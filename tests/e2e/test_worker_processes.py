"""Worker PROCESSES on one PostgreSQL database against the fake Bot API: each due reminder is sent exactly once by
three workers, and a worker killed with SIGKILL mid-work loses nothing (its claimed rows — at most one per delivery
lane — come back after the lease: at least once, see docs/architecture.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.bootstrap import application
from bot.channels.telegram import DELIVERY_LANES
from bot.settings import PROJECT_ROOT, Settings
from bot.worker import Worker
from storage.database import create_engine, session_factory
from storage.migrate import upgrade_async
from storage.tables import OutboxRow
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import TEST_TOKEN, FakeTelegramAPI
from tests.harness import CITY_CONFIG, postgres_url, reset_postgres

pytestmark = pytest.mark.skipif(postgres_url() is None, reason="no test PostgreSQL URL")
FIRST_CHAT = 700_000


def worker_env(api: FakeTelegramAPI, url: str, rate: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        AUDIENSI_CONFIG_FILE=str(CITY_CONFIG),
        AUDIENSI_TELEGRAM_TOKEN=TEST_TOKEN,
        AUDIENSI_TELEGRAM_API_BASE_URL=api.base_url,
        AUDIENSI_TELEGRAM_FILE_BASE_URL=api.base_file_url,
        AUDIENSI_WORKER_INTERVAL_SECONDS="0.2",
        AUDIENSI_TELEGRAM_MAX_RATE=str(rate),
        AUDIENSI_QUIET_START="00:00",  # the test may run at night: no quiet hours here
        AUDIENSI_QUIET_END="00:00",
        AUDIENSI_LOG_LEVEL="WARNING",
    )
    return env


async def due_reminders(url: str, count: int) -> None:
    await reset_postgres(url)
    await upgrade_async(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    rows = [
        {"channel": "telegram", "external_id": str(FIRST_CHAT + n), "kind": "reminder_2h", "state": "pending",
         "payload": {"messages": [{"type": "text", "body": f"Pengingat {n}"}], "extra": {}},
         "due_at": now - timedelta(minutes=1), "attempts": 0, "created_at": now}
        for n in range(count)
    ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(insert(OutboxRow), rows)
    await engine.dispose()


async def states(url: str) -> dict[str, int]:
    """The reminders' states (the workers may also have recorded today's digests as skipped)."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        found = (
            await session.execute(
                select(OutboxRow.state, func.count()).where(OutboxRow.kind == "reminder_2h").group_by(OutboxRow.state)
            )
        ).all()  # type: ignore[call-overload]
    await engine.dispose()
    return {state: n for state, n in found}


def start_workers(n: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE)
        for _ in range(n)
    ]


def sends(api: FakeTelegramAPI) -> Counter[int]:
    return Counter(int(call["chat_id"]) for call in api.calls("sendMessage", ok=True))


async def wait_until(condition: object, within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_three_worker_processes_send_each_of_300_reminders_exactly_once(telegram_api: FakeTelegramAPI) -> None:
    url = postgres_url() or ""
    await due_reminders(url, 300)
    workers = start_workers(3, worker_env(telegram_api, url, rate=200))
    try:

        async def all_sent() -> bool:
            return (await states(url)).get("sent") == 300

        await wait_until(all_sent, 90, "300 sent rows")
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=20)
    counted = sends(telegram_api)
    assert len(counted) == 300 and set(counted.values()) == {1}


async def test_a_worker_killed_mid_batch_loses_nothing(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    url = postgres_url() or ""
    await due_reminders(url, 300)
    [worker] = start_workers(1, worker_env(telegram_api, url, rate=40))  # slow enough to be caught mid-batch

    async def some_sent() -> bool:
        return len(sends(telegram_api)) >= 40

    try:
        await wait_until(some_sent, 60, "the first sends")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=20)
    left = await states(url)
    assert left.get("sending", 0) > 0, left  # it really died mid-work: rows claimed and not yet marked
    # Later (after the 2-minute lease) another worker runs: a fake clock stands in for the wait.
    later = FakeClock(datetime.now(UTC) + timedelta(minutes=3))
    settings = Settings(database_url=url, config_file=CITY_CONFIG, telegram_token=TEST_TOKEN,
                        telegram_api_base_url=telegram_api.base_url, telegram_file_base_url=telegram_api.base_file_url,
                        quiet_start="00:00", quiet_end="00:00", telegram_max_rate=500)  # type: ignore[arg-type]  # fmt: skip
    async with application(settings, clock=later, migrate=False) as app:
        channel = app.telegram()
        async with channel.bot:
            await Worker(app, channel).tick()
    assert await states(url) == {"sent": 300}
    counted = sends(telegram_api)
    assert len(counted) == 300  # nothing lost
    duplicates = sum(n - 1 for n in counted.values())
    assert duplicates <= left["sending"] <= DELIVERY_LANES  # at most the rows it had claimed and not yet marked
