"""Reminder dispatch: N due reminders sent by 1 and by 3 `audiensi worker` processes to a local fake Bot API.

    .venv/bin/python bench/reminders.py --database-url postgresql://postgres@127.0.0.1:5432/audiensi_rem_bench

What runs is production's: each worker is a `python -m bot worker` subprocess (bot/worker.py's Worker under
APScheduler, the TelegramChannel that bot/bootstrap.py builds, python-telegram-bot's ExtBot with our
TelegramRateLimiter at AUDIENSI_TELEGRAM_MAX_RATE = rate/N), pointed through AUDIENSI_TELEGRAM_API_BASE_URL at the
fake Bot API server (tests/fakes/telegram_api.py, a real HTTP server on 127.0.0.1 in this process) over
PostgreSQL. The fake enforces Telegram's overall limit like Telegram: a send that would make more than `cap`
accepted sends in any sliding second is answered 429 with retry_after (tests/fakes/telegram_limits.py;
--no-enforce turns that off).

The database (dropped and created again) gets N reminder rows, one per representative, all due at the same instant
a few seconds ahead, so the workers have started. The figures come from the fake server's receive log: accepted
sends per second overall, the most in one calendar second and in any sliding 1-second window, 429s answered, the
delay from the due time to the accepted send (p50/p99), and each row sent exactly once (distinct chats). The run
stops when every row is sent, or at a deadline; it only talks to loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.settings import Settings  # noqa: E402
from storage.database import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.tables import OutboxRow  # noqa: E402
from tests.fakes.telegram_api import TEST_TOKEN  # noqa: E402
from tests.fakes.telegram_limits import LimitedTelegramAPI, most_in_any_second  # noqa: E402
from tests.harness import CITY_CONFIG  # noqa: E402

FIRST_CHAT = 900_000_000
WORKER_LOGS: dict[int, IO[bytes]] = {}  # each worker's stderr, by pid
LEAD = 8.0  # seconds between inserting the rows and their due time: the workers start meanwhile


async def recreate_database(url: str) -> None:
    """Drop and create the bench database (through the server's `postgres` database)."""
    target = make_url(url)
    name = target.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"a plain database name is needed, got {name!r}")
    admin = create_engine(target.set(database="postgres").render_as_string(hide_password=False))
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


async def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres").render_as_string(hide_password=False))
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    await admin.dispose()


async def insert_due(url: str, count: int, due_at: datetime) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    rows = [
        {"channel": "telegram", "external_id": str(FIRST_CHAT + n), "kind": "reminder_2h", "state": "pending",
         "payload": {"messages": [{"type": "text", "body": f"Pengingat audiensi {n}"}], "extra": {}},
         "due_at": due_at, "attempts": 0, "created_at": now}
        for n in range(count)
    ]  # fmt: skip
    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            await connection.execute(insert(OutboxRow), rows[start : start + 1000])
    await engine.dispose()


async def row_states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    query = select(OutboxRow.state, func.count()).where(OutboxRow.kind == "reminder_2h")  # type: ignore[call-overload]
    async with engine.connect() as connection:
        found = (await connection.execute(query.group_by(OutboxRow.state))).all()
    await engine.dispose()
    return {str(state): int(n) for state, n in found}


def worker_env(api: LimitedTelegramAPI, url: str, rate: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        AUDIENSI_DATABASE_URL=url,
        AUDIENSI_CONFIG_FILE=str(CITY_CONFIG),
        AUDIENSI_TELEGRAM_TOKEN=TEST_TOKEN,
        AUDIENSI_TELEGRAM_API_BASE_URL=api.base_url,
        AUDIENSI_TELEGRAM_FILE_BASE_URL=api.base_file_url,
        AUDIENSI_TELEGRAM_MAX_RATE=f"{rate:g}",
        AUDIENSI_WORKER_INTERVAL_SECONDS="1",  # production: 15 s between rounds (a round drains all that is due)
        AUDIENSI_QUIET_START="00:00",  # the bench may run at night: no quiet hours
        AUDIENSI_QUIET_END="00:00",
        AUDIENSI_LOG_LEVEL="WARNING",
    )
    env.pop("AUDIENSI_TELEGRAM_STAFF_CHAT_ID", None)
    return env


def start_workers(n: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """`audiensi worker` as the Procfile runs it, n times."""
    command = [sys.executable, "-m", "bot", "worker"]
    processes = []
    for _ in range(n):
        # Its log goes to a file read at the end: a pipe nobody reads fills up and blocks the worker's next line.
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop_workers
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)
        WORKER_LOGS[process.pid] = log
        processes.append(process)
    return processes


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> list[str]:
    """SIGTERM (the worker stops after its round), then the errors of any that did not exit cleanly."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    errors = []
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log = WORKER_LOGS.pop(process.pid)
        log.seek(0)
        if process.returncode not in (0, -signal.SIGTERM):
            errors.append(f"worker exited {process.returncode}: {log.read().decode()[-2000:]}")
        log.close()
    return errors


async def run(
    url: str, count: int, workers: int, cap: float, rate: float, enforce: bool, deadline: float
) -> dict[str, object]:
    await recreate_database(url)
    await upgrade_async(url)
    api = LimitedTelegramAPI(TEST_TOKEN, overall_per_second=int(cap) if enforce else None, group_per_minute=None)
    api.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        due = datetime.now(UTC) + timedelta(seconds=LEAD)
        await insert_due(url, count, due)
        env = worker_env(api, url, rate / workers)
        processes = start_workers(workers, env)
        give_up = time.monotonic() + LEAD + deadline
        finished = False
        while time.monotonic() < give_up:
            await asyncio.sleep(0.5)
            if any(p.poll() is not None for p in processes):
                break
            # The database, not the fake's log: copying a growing log under its lock would slow the server.
            if (await row_states(url)).get("sent", 0) >= count:
                finished = True
                break
        await asyncio.sleep(1.0)  # the last rows are marked sent
        errors = stop_workers(processes)
        states = await row_states(url)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        api.stop()
    records = [r for r in api.requests if r.method == "sendMessage"]
    accepted = sorted((r for r in records if r.status == 200), key=lambda r: r.time)
    per_chat = Counter(int(r.params["chat_id"]) for r in accepted)
    times = [r.time for r in accepted]
    first_at: dict[int, float] = {}
    for r in accepted:
        first_at.setdefault(int(r.params["chat_id"]), r.time)
    delays = sorted(at - due.timestamp() for at in first_at.values())
    cut = statistics.quantiles(delays, n=100) if len(delays) > 1 else [0.0] * 99
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    calendar = Counter(int(at) for at in times)
    return {
        "workers": workers,
        "finished": finished,
        "sent": len(accepted),
        "distinct": len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values()),
        "span": span,
        "rate": (len(accepted) - 1) / span if span else 0.0,
        "max_calendar": max(calendar.values(), default=0),
        "calendar_over": sum(1 for n in calendar.values() if n > cap),
        "max_sliding": most_in_any_second(times),
        "refused": len(api.refused),
        "first": cut[0] if delays else 0.0,
        "p50": cut[49],
        "p99": cut[98],
        "last": delays[-1] if delays else 0.0,
        "states": states,
        "errors": errors,
    }


def report(result: dict[str, object], cap: float, rate: float, count: int) -> None:
    r = result
    print(
        f"{r['workers']} worker process(es) at {rate / int(r['workers']):g}/s each (TelegramRateLimiter): "  # type: ignore[call-overload]
        f"{r['sent']} accepted sends, {r['distinct']} distinct of {count} rows, {r['duplicates']} duplicates; "
        f"{'all sent' if r['finished'] else 'NOT FINISHED (deadline)'}; rows {r['states']}\n"
        f"  {r['rate']:.2f} msg/s over {r['span']:.1f} s (first to last accepted send) against a cap of {cap:g}/s; "
        f"most in one calendar second {r['max_calendar']} ({r['calendar_over']} seconds over {cap:g}), "
        f"in any sliding 1 s window {r['max_sliding']}; 429s answered {r['refused']}\n"
        f"  delay after due: first {r['first']:.2f} s, p50 {r['p50']:.1f} s, p99 {r['p99']:.1f} s, "
        f"last {r['last']:.1f} s",
        flush=True,
    )
    for error in r["errors"]:  # type: ignore[attr-defined]
        print("  " + error, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL on loopback; the database is recreated")
    parser.add_argument("--count", type=int, default=10_000, help="due reminders (300 for a run of ~1 minute)")
    parser.add_argument("--cap", type=float, default=30.0, help="Telegram's overall messages/second (~30)")
    parser.add_argument(
        "--rate",
        type=float,
        default=Settings.model_fields["telegram_max_rate"].default,
        help="AUDIENSI_TELEGRAM_MAX_RATE of all workers together (each gets rate/N); production's default",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--no-enforce", action="store_true", help="the fake accepts everything (no 429s)")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    host = make_url(args.database_url).host or ""
    if host not in ("127.0.0.1", "localhost", "::1", ""):
        raise SystemExit(f"the benchmark only talks to loopback, not {host!r}")
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]), flush=True)
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; fake Bot API "
        f"{'enforcing' if not args.no_enforce else 'not enforcing'} {args.cap:g}/s (sliding 1 s)",
        flush=True,
    )
    deadline = 2.0 * args.count / args.cap + 60.0
    try:
        for workers in args.workers:
            result = asyncio.run(run(args.database_url, args.count, workers, args.cap, args.rate, not args.no_enforce,
                                     deadline))  # fmt: skip
            report(result, args.cap, args.rate, args.count)
    finally:
        if not args.keep_database:
            asyncio.run(drop_database(args.database_url))


if __name__ == "__main__":
    main()
