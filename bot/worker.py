"""The worker: APScheduler (in memory, per process) runs short periodic jobs: one creates the day's digests and
nudges and expires requests nobody decided in time; one per configured channel (Telegram and/or WhatsApp)
delivers its due outbox rows. Each job runs one instance at a time and independently of the others.

Several workers share a PostgreSQL database safely: rows are claimed with FOR UPDATE SKIP LOCKED and a lease, and
a day's digest has a unique key, so nothing is sent twice by two workers. A worker killed mid-batch leaves its
claimed rows to the lease; they are claimed again afterwards (at least once — see docs/architecture.md). SQLite
deployments run one process: a second worker on the same SQLite file refuses to start.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from bot.bootstrap import App
from bot.city_config import ConfigError
from handlers.ports import ConcurrencyConflict
from handlers.usecases import reminders

log = logging.getLogger(__name__)
BATCH = 30
STOP_GRACE_SECONDS = 5.0  # on stop, running jobs may finish within this before they are cancelled
# Inbound event ids (Telegram update_id, WhatsApp message id) are kept this long to recognise a redelivery, then
# forgotten, once an hour. Telegram may start update ids afresh (at random) after a week without updates, so a
# week-old id must not still count as seen; WhatsApp's redeliveries are also caught by its inbox's unique ids.
EVENTS_KEPT = timedelta(days=7)
FORGET_EVERY = timedelta(hours=1)


class SecondWorker(ConfigError):
    """Another worker already runs on this SQLite database."""


@contextmanager
def single_worker_on_sqlite(database_url: str) -> Iterator[None]:
    """On SQLite, hold an exclusive lock file beside the database for the life of the worker (or `run`)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        yield
        return
    path = f"{url.database}.worker.lock"
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SecondWorker(
                f"another worker is already running on {url.database} (lock {path}). SQLite deployments run a "
                "single process; use PostgreSQL (DATABASE_URL) for several workers."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


class Deliverer(Protocol):
    """A channel's outbox deliverer (Telegram, WhatsApp): claims its due rows and sends them."""

    async def deliver_due(self, limit: int = ...) -> int: ...


class Worker:
    """The scheduled jobs and each channel's delivery, as separate APScheduler jobs (one instance each): a slow
    or unreachable Telegram holds up neither WhatsApp nor the digests, nudges and expiry."""

    def __init__(self, app: App, *channels: Deliverer | None, batch: int = BATCH) -> None:
        """`channels`: every configured channel's deliverer (None for one that is not configured)."""
        self.app = app
        self.channels = [channel for channel in channels if channel is not None]
        self.batch = batch
        self._forgotten_at: datetime | None = None
        self._running: set[asyncio.Task[object]] = set()

    async def run_scheduled(self) -> None:
        """Digests and nudges due now, and expiry of requests nobody decided in time."""
        planner = self.app.service.reminders
        reminders.use(planner)
        now = self.app.clock.now()
        for job in (planner.run_digests, planner.run_nudges, planner.run_expiry):
            try:
                async with self.app.new_uow() as uow:
                    await job(uow, now)
                    await uow.commit()
            except ConcurrencyConflict:
                log.info("%s: another worker was first; next round", job.__name__)
        await self._forget_old_events(now)

    async def _forget_old_events(self, now: datetime) -> None:
        """Processed event ids (Telegram update ids, WhatsApp message ids) older than a week, once an hour."""
        if self._forgotten_at is not None and now - self._forgotten_at < FORGET_EVERY:
            return
        try:
            async with self.app.new_uow() as uow:
                forgotten = await uow.events.forget_before(now - EVENTS_KEPT)
                await uow.commit()
        except Exception:  # deliveries go on; the next hour tries again
            log.exception("old processed events could not be deleted")
            return
        self._forgotten_at = now
        if forgotten:
            log.info("forgot %s processed event ids older than %s days", forgotten, EVENTS_KEPT.days)

    async def deliver(self, channel: Deliverer) -> int:
        """Deliver the channel's due rows until none is left (or only ones that failed in this round)."""
        handled = 0
        while True:
            claimed = await channel.deliver_due(limit=self.batch)
            handled += claimed
            if claimed < self.batch:
                return handled

    async def tick(self) -> int:
        """One round: scheduled jobs, then every channel's delivery side by side. Returns how many rows were
        handled."""
        await self.run_scheduled()
        return sum(await asyncio.gather(*(self.deliver(channel) for channel in self.channels)))

    async def _safe(self, job: Callable[[], Awaitable[object]], name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await job()
        except asyncio.CancelledError:  # stopped at shutdown (APScheduler cancels running jobs): not an error
            log.info("worker job %s stopped before it finished; rows it had claimed come back by lease", name)
        except Exception:
            log.exception("worker job %s failed", name)
        finally:
            self._running.discard(task)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        scheduler = AsyncIOScheduler(logger=_scheduler_log())
        jobs: list[tuple[str, Callable[[], Awaitable[object]]]] = [("scheduled", self.run_scheduled)]
        jobs += [(f"deliver-{n}", functools.partial(self.deliver, channel)) for n, channel in enumerate(self.channels)]
        for name, job in jobs:
            # The first run at once, then every `interval` (next_run_time=None would add the job paused: no run
            # after the first). max_instances=1: a long run is never overlapped by the next one of the same job,
            # and never holds up another job.
            scheduler.add_job(self._safe, "interval", args=(job, name), seconds=interval, max_instances=1,
                              coalesce=True, id=name, next_run_time=datetime.now(UTC))  # fmt: skip
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.pause()  # no new runs; the running ones get a moment to finish
            if self._running:
                await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
            scheduler.shutdown(wait=False)  # what still runs is cancelled: its claimed rows come back by lease
            await asyncio.gather(*self._running, return_exceptions=True)


class _StillRunning(logging.Filter):
    """A job still busy when its next run is due (a long delivery) is expected: max_instances=1 skips that run.
    APScheduler warns about it at every interval, which would fill the log for as long as the delivery lasts."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def _scheduler_log() -> logging.Logger:
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _StillRunning) for f in scheduler_log.filters):
        scheduler_log.addFilter(_StillRunning())
    return scheduler_log
