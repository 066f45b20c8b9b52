"""Reminder dispatch: N due reminders delivered by 1 and by 3 workers to a local fake channel with a rate cap.

    .venv/bin/python bench/reminders.py --database-url postgresql://postgres@127.0.0.1:5432/audiensi_bench

Each worker is what `audiensi worker` runs per round: claim up to 30 due rows (FOR UPDATE SKIP LOCKED, lease),
ask the delivery gate (quiet hours off here), send through a rate limiter (aiolimiter, the one python-telegram-bot's
AIORateLimiter uses) set to cap/N per worker, and mark the row sent. Workers are asyncio tasks with their own
database engine. The fake channel records each send and counts seconds in which more than the cap arrived.
Prints messages/second against the cap and the delay after the due time (p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiolimiter import AsyncLimiter
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import SystemClock
from bot.delivery import DeliveryGate
from handlers.reminders import ReminderPolicy
from storage.database import create_engine, session_factory
from storage.migrate import upgrade_async
from storage.outbox import OutboxStore
from storage.tables import OutboxRow
from tests.harness import reset_postgres

BATCH = 30


class FakeChannel:
    """Accepts messages and remembers when; `over_cap` counts whole seconds with more than `cap` messages."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.sent: list[tuple[int, float]] = []

    async def send(self, item_id: int) -> None:
        await asyncio.sleep(0.002)  # a fast local network round trip
        self.sent.append((item_id, time.time()))

    def over_cap(self) -> int:
        per_second = Counter(int(at) for _, at in self.sent)
        return sum(1 for n in per_second.values() if n > self.cap)


async def worker(url: str, channel: FakeChannel, limiter: AsyncLimiter, total: int, due: dict[int, float]) -> None:
    engine = create_engine(url)
    outbox = OutboxStore(session_factory(engine))
    gate = DeliveryGate(outbox, ReminderPolicy(tz=ZoneInfo("Asia/Makassar"), quiet_start=datetime.min.time(),
                                               quiet_end=datetime.min.time()), SystemClock())  # fmt: skip
    try:
        while len(channel.sent) < total:
            items = await outbox.claim(datetime.now(UTC), channel="bench", limit=BATCH)
            if not items:
                await asyncio.sleep(0.05)
                continue
            for item in items:
                due[item.id] = item.due_at.timestamp()
                if not await gate.allow(item):
                    continue
                async with limiter:
                    await channel.send(item.id)
                await outbox.mark_sent(item.id, datetime.now(UTC))
    finally:
        await engine.dispose()


async def run(url: str, count: int, workers: int, cap: float) -> None:
    if url.startswith("postgres"):
        await reset_postgres(url)
    await upgrade_async(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    rows = [
        {"channel": "bench", "external_id": str(100_000 + n), "kind": "reminder_2h", "state": "pending",
         "payload": {"messages": [{"type": "text", "body": f"Pengingat {n}"}], "extra": {}},
         "due_at": now + timedelta(seconds=1), "attempts": 0, "created_at": now}
        for n in range(count)
    ]  # fmt: skip
    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            await connection.execute(insert(OutboxRow), rows[start : start + 1000])
    await engine.dispose()
    await asyncio.sleep(max(0.0, (now + timedelta(seconds=1)).timestamp() - time.time()))
    channel = FakeChannel(cap)
    due: dict[int, float] = {}
    started = time.perf_counter()
    await asyncio.gather(*(worker(url, channel, AsyncLimiter(cap / workers, 1), count, due) for _ in range(workers)))
    elapsed = time.perf_counter() - started
    ids = [item_id for item_id, _ in channel.sent]
    delays = sorted(at - due[item_id] for item_id, at in channel.sent)
    cut = statistics.quantiles(delays, n=100)
    rate = len(ids) / elapsed
    print(f"{workers} worker(s): {len(ids)} sent ({len(set(ids))} distinct) in {elapsed:.1f} s = {rate:.1f} msg/s "
          f"against a cap of {cap:g}/s ({100 * rate / cap:.0f}%); seconds over the cap: {channel.over_cap()}; "
          f"delay after due p50 {cut[49]:.1f} s, p99 {cut[98]:.1f} s", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL for several workers")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--cap", type=float, default=30.0, help="the channel's messages/second (Telegram: ~30)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    for workers in args.workers:
        asyncio.run(run(args.database_url, args.count, workers, args.cap))


if __name__ == "__main__":
    main()
