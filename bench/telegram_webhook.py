"""Benchmark: N representatives complete the request flow at once through the Telegram webhook path.

Each step is one Bot API update POSTed to our webhook (secret checked, update deduplicated, conversation loaded
and saved in one transaction, replies sent to a local fake Bot API server): typed messages, and button presses
(callback queries: answered, keyboard closed in place) — the organization type, the official, a date, a time,
"Selesai" and "Kirim", as people use the bot. Every representative must end with a reference code (checked).
Prints steps per second and the webhook's p50/p99 latency, for all steps and for the presses alone.

    .venv/bin/python bench/telegram_webhook.py --representatives 40
    .venv/bin/python bench/telegram_webhook.py --representatives 40 \
        --database-url postgresql://postgres@127.0.0.1:5432/audiensi_bench_tg
    .venv/bin/python bench/telegram_webhook.py --representatives 40 --max-rate 1000   # without Telegram's 30/s
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.web import create_web_app  # noqa: E402
from tests.e2e.telegram_world import WEBHOOK_SECRET, running_bot, serving  # noqa: E402
from tests.fakes.memory import FakeClock  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.telegram_limits import most_in_any_second  # noqa: E402
from tests.harness import MAKASSAR, reset_postgres  # noqa: E402

PRESS = "press:"  # a tap on the inline button with this label (a callback query), not a typed message
FIRST = PRESS  # a tap on the first button of the last question (its label depends on the day: a date, a time)
STEPS = [
    "/start", "Ajukan Audiensi", "Karang Taruna Kelurahan {n}", PRESS + "Karang Taruna", "lewati",
    "Andi Rahmat Hidayat", "Ketua", "0812-3456-7890", PRESS + "Wakil Wali Kota Makassar",
    "Silaturahmi dan pelaporan pelantikan pengurus baru",
    "Kami ingin melaporkan susunan pengurus dan menjajaki kerja sama.", "5",
    FIRST,  # the first free date
    FIRST,  # its first free time (a typed "2" would be 02.00 or 14.00: Telegram's buttons carry no numbers)
    PRESS + "Selesai", "005/12/KT-MKS/XI/2026", "lewati", PRESS + "Kirim",
]  # fmt: skip
REFERENCE = re.compile(r"kode permohonan (AUD-\d{4}-\d{6})")


async def representative(
    api: FakeTelegramAPI, client: httpx.AsyncClient, url: str, user: int
) -> tuple[str, list[tuple[bool, float]]]:
    """One representative's whole request; returns their reference code and each step's (press?, latency)."""
    latencies: list[tuple[bool, float]] = []
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    for step in STEPS:
        press = step.startswith(PRESS)
        if step == FIRST:
            asked = api.last_message_to(user)  # the webhook answers once the replies are sent
            assert asked is not None and asked.button_texts, f"{user}: no buttons to press\n{api.dump()}"
            update = api.make_button_press_update(user, asked.button_texts[0][0])
        elif press:
            update = api.make_button_press_update(user, step.removeprefix(PRESS))
        else:
            update = api.make_text_update(user, step.format(n=user))
        started = time.perf_counter()
        response = await client.post(url, json=update, headers=headers)
        latencies.append((press, time.perf_counter() - started))
        response.raise_for_status()
    last = api.last_message_to(user)
    assert last is not None and "Apa yang ingin" in (last.text or ""), last
    assert not [q for q in api.unanswered_callback_queries() if q["from"]["id"] == user]
    codes = [found.group(1) for m in api.messages_to(user) if (found := REFERENCE.search(m.text or ""))]
    assert len(codes) == 1, f"{user} got no reference code\n{api.dump()}"
    return codes[0], latencies


def _percentiles(values: list[float]) -> str:
    cut = statistics.quantiles(sorted(values), n=100, method="inclusive")  # within the measured range
    return f"p50 {cut[49] * 1000:.0f} ms, p99 {cut[98] * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def main(representatives: int, database_url: str | None, max_rate: float) -> None:
    if database_url and "postgres" in database_url:
        await reset_postgres(database_url)  # every run starts from an empty schema (the codes from 000001)
    with FakeTelegramAPI() as api, tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=MAKASSAR))
        async with (
            running_bot(
                api, Path(tmp), clock, polling=False, database_url=database_url, telegram_max_rate=max_rate
            ) as world,
            serving(create_web_app(world.app, world.channel, deliver=False)) as base_url,
            httpx.AsyncClient(limits=httpx.Limits(max_connections=representatives), timeout=60) as client,
        ):
            started = time.perf_counter()
            runs = await asyncio.gather(
                *(
                    representative(api, client, f"{base_url}/telegram/webhook", 100_000 + n)
                    for n in range(representatives)
                )
            )
            elapsed = time.perf_counter() - started
        calls = [r for r in api.requests if r.method not in ("getMe", "setMyCommands", "deleteMyCommands")]
        sends = [r for r in calls if r.method in ("sendMessage", "editMessageText", "sendDocument", "sendPhoto")]
    references = {reference for reference, _ in runs}
    assert len(references) == representatives, f"{len(references)} reference codes for {representatives} people"
    latencies = [x for _, run in runs for _, x in run]
    presses = [x for _, run in runs for press, x in run if press]
    steps = len(latencies)
    backend = "PostgreSQL" if database_url and "postgres" in database_url else "SQLite"
    print(f"{backend}: {representatives} representatives x {len(STEPS)} steps = {steps} webhook updates "
          f"({len(presses)} button presses)")  # fmt: skip
    print(f"  every representative got a reference code ({min(references)} … {max(references)})")
    print(f"  {steps / elapsed:.1f} steps/s over {elapsed:.1f} s")
    kinds = collections.Counter(r.method for r in calls)
    print(f"  Bot API calls: {len(calls)} ({', '.join(f'{n} {m}' for m, n in kinds.most_common())})")
    print(f"  at most {most_in_any_second(r.time for r in sends)} messages sent or edited in any sliding second "
          f"(the rate limiter allows {max_rate:g})")  # fmt: skip
    print(f"  latency, all steps: {_percentiles(latencies)}")
    print(f"  latency, button presses: {_percentiles(presses)}")
    print(f"  Python {sys.version.split()[0]}, {os.cpu_count()} CPU cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--representatives", type=int, default=40)
    parser.add_argument("--max-rate", type=float, default=30.0,
                        help="messages per second the bot sends (AUDIENSI_TELEGRAM_MAX_RATE; Telegram allows 30); "
                             "a large value measures the webhook's own cost")  # fmt: skip
    parser.add_argument("--database-url", default=None,
                        help="default: a temporary SQLite file; a PostgreSQL database is emptied first")  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main(args.representatives, args.database_url, args.max_rate))
