"""Telegram's flood limits end to end: the worker's real TelegramChannel and its rate limiter, as bot/bootstrap.py
builds them, against the fake Bot API server enforcing Telegram's limits (tests/fakes/telegram_limits.py: a send
that would make more than 30 in any second, or more than 20 in any minute to one group, is answered 429 with
retry_after, like Telegram).

What is checked is what an operator sees — every notice delivered once, in order, none refused, and the
representatives' notices not queued behind the staff group's — never how long anything took. A group's minute
is longer than a test should wait: the group window itself is tested on a controllable clock
(tests/unit/test_telegram_rate.py); here the group gets its 20 and the test ends while the rest wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.bootstrap import App, application
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_rate import SlidingWindowLimiter, TelegramRateLimiter
from bot.worker import Worker
from storage.tables import OutboxRow
from tests.e2e.telegram_world import STAFF_GROUP, settings_for
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import TEST_TOKEN
from tests.fakes.telegram_limits import LimitedTelegramAPI
from tests.harness import postgres_url, reset_postgres

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09.00 WITA: a working day, outside quiet hours
GROUP_NOTICES = 23  # more than a group may get in a minute
PRIVATE_NOTICES = 75  # two and a half seconds' worth
PEOPLE = (810_001, 810_002, 810_003)


@asynccontextmanager
async def worker_against(api: LimitedTelegramAPI, tmp_path: Path, clock: FakeClock) -> AsyncIterator[
    tuple[App, TelegramChannel]
]:  # fmt: skip
    url = postgres_url()
    if url is not None:
        await reset_postgres(url)
    async with application(settings_for(api, tmp_path, url), clock=clock) as app:
        channel = app.telegram()
        async with channel.bot:
            yield app, channel


async def notices_due(app: App, rows: list[tuple[str, str, str]]) -> list[int]:
    """(kind, chat id, text) rows, all due now, inserted in this order; returns their ids."""
    now = app.clock.now()
    async with app.engine.begin() as connection:
        inserted = await connection.execute(
            insert(OutboxRow).returning(OutboxRow.id),  # type: ignore[call-overload]
            [
                {"channel": "telegram", "external_id": chat, "kind": kind, "state": "pending",
                 "payload": {"messages": [{"type": "text", "body": body}], "extra": {}},
                 "due_at": now - timedelta(seconds=1), "attempts": 0, "created_at": now}
                for kind, chat, body in rows
            ],
        )  # fmt: skip
        return [int(row_id) for (row_id,) in inserted.all()]


async def row_states(app: App, ids: list[int]) -> list[str]:
    """The states of these rows (the worker's round may also record today's digests and nudges as skipped)."""
    query = select(OutboxRow.state).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.id)  # type: ignore[call-overload,union-attr]
    async with app.engine.connect() as connection:
        return [str(state) for (state,) in (await connection.execute(query)).all()]


def texts_to(api: LimitedTelegramAPI, chat_id: int) -> list[str | None]:
    return [m.text for m in api.messages_to(chat_id)]


async def test_the_bot_we_build_paces_every_send_and_keeps_groups_to_20_a_minute(tmp_path: Path) -> None:
    clock = FakeClock(START)
    with LimitedTelegramAPI(TEST_TOKEN) as api:
        async with worker_against(api, tmp_path, clock) as (app, channel):
            limiter = channel.bot.rate_limiter
            assert isinstance(limiter, TelegramRateLimiter)
            overall = limiter._base_limiter  # AIORateLimiter has no public view of its buckets
            assert overall is not None and overall.max_rate == 1  # evenly spaced: no burst after a pause
            assert overall.max_rate / overall.time_period == app.settings.telegram_max_rate
            group = limiter._get_group_limiter(STAFF_GROUP)
            assert isinstance(group, SlidingWindowLimiter) and (group.max_rate, group.time_period) == (20, 60)


async def test_private_notices_beyond_30_a_second_are_paced_not_refused(tmp_path: Path) -> None:
    clock = FakeClock(START)
    people = [900_000 + n for n in range(PRIVATE_NOTICES)]
    with LimitedTelegramAPI(TEST_TOKEN) as api:
        async with worker_against(api, tmp_path, clock) as (app, channel):
            ids = await notices_due(app, [("decision", str(p), f"Keputusan untuk {p}") for p in people])
            await asyncio.wait_for(Worker(app, channel).tick(), 60)
            assert api.refused == []  # never more than 30 in any second: no 429, no process-wide pause
            assert await row_states(app, ids) == ["sent"] * PRIVATE_NOTICES
            assert all(texts_to(api, p) == [f"Keputusan untuk {p}"] for p in people)


async def test_private_notices_are_not_held_up_behind_the_groups_limit(tmp_path: Path) -> None:
    clock = FakeClock(START)
    with LimitedTelegramAPI(TEST_TOKEN) as api:
        async with worker_against(api, tmp_path, clock) as (app, channel):
            group = [("nudge_undecided", str(STAFF_GROUP), f"Pemberitahuan staf {n}") for n in range(GROUP_NOTICES)]
            private = [("decision", str(person), f"Keputusan {n} untuk {person}") for person in PEOPLE for n in (1, 2)]
            await notices_due(app, group + private)  # the group's are due first
            round_ = asyncio.create_task(Worker(app, channel).tick())
            try:
                await api.wait_for(lambda: all(len(api.messages_to(p)) == 2 for p in PEOPLE), 30,
                                   description="every private notice")  # fmt: skip
                await api.wait_for(lambda: len(api.messages_to(STAFF_GROUP)) >= 20, 15, description="20 notices")
                await asyncio.sleep(1)  # a 21st, if the limiter let one through, would arrive now
            finally:
                round_.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await round_
            for person in PEOPLE:
                assert texts_to(api, person) == [f"Keputusan 1 untuk {person}", f"Keputusan 2 untuk {person}"]
            # The group had its 20 for this minute, in order; the rest wait for the next one, nothing refused.
            assert texts_to(api, STAFF_GROUP) == [body for _kind, _to, body in group[:20]]
            assert api.refused == []
