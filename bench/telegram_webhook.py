"""Benchmark: N representatives complete the request flow at once through the Telegram webhook path.

Each step is one Bot API update POSTed to our webhook (secret checked, update deduplicated, conversation loaded
and saved in one transaction, replies sent to a local fake Bot API server): typed messages, and button presses
(callback queries: answered, keyboard closed in place). Prints steps per second and the webhook's p50/p99
latency, for all steps and for the presses alone.

    .venv/bin/python bench/telegram_webhook.py --representatives 40
    .venv/bin/python bench/telegram_webhook.py --representatives 40 \
        --database-url postgresql://postgres@127.0.0.1:5432/audiensi_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from tests.harness import MAKASSAR  # noqa: E402

PRESS = "press:"  # a tap on the inline button with this label (a callback query), not a typed message
STEPS = [
    "/start", "Ajukan Audiensi", "Karang Taruna Kelurahan {n}", PRESS + "Karang Taruna", "lewati",
    "Andi Rahmat Hidayat", "Ketua", "0812-3456-7890", PRESS + "Wakil Wali Kota Makassar",
    "Silaturahmi dan pelaporan pelantikan pengurus baru",
    "Kami ingin melaporkan susunan pengurus dan menjajaki kerja sama.", "5", "1", "2", "Selesai",
    "005/12/KT-MKS/XI/2026", "lewati", PRESS + "Kirim",
]  # fmt: skip


async def representative(
    api: FakeTelegramAPI, client: httpx.AsyncClient, url: str, user: int
) -> list[tuple[bool, float]]:
    latencies: list[tuple[bool, float]] = []
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    for step in STEPS:
        press = step.startswith(PRESS)
        if press:
            update = api.make_button_press_update(user, step.removeprefix(PRESS))
        else:
            update = api.make_text_update(user, step.format(n=user))
        started = time.perf_counter()
        response = await client.post(url, json=update, headers=headers)
        latencies.append((press, time.perf_counter() - started))
        response.raise_for_status()
    last = api.last_message_to(user)
    assert last is not None and "Apa yang ingin" in last.text, last
    assert not [q for q in api.unanswered_callback_queries() if q["from"]["id"] == user]
    return latencies


def _percentiles(values: list[float]) -> str:
    cut = statistics.quantiles(sorted(values), n=100)
    return f"p50 {cut[49] * 1000:.0f} ms, p99 {cut[98] * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def main(representatives: int, database_url: str | None) -> None:
    with FakeTelegramAPI() as api, tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=MAKASSAR))
        async with (
            running_bot(api, Path(tmp), clock, polling=False, database_url=database_url) as world,
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
    latencies = [x for run in runs for _, x in run]
    presses = [x for run in runs for press, x in run if press]
    steps = len(latencies)
    backend = "PostgreSQL" if database_url and "postgres" in database_url else "SQLite"
    print(f"{backend}: {representatives} representatives x {len(STEPS)} steps = {steps} webhook updates "
          f"({len(presses)} button presses)")  # fmt: skip
    print(f"  {steps / elapsed:.1f} steps/s over {elapsed:.1f} s")
    print(f"  latency, all steps: {_percentiles(latencies)}")
    print(f"  latency, button presses: {_percentiles(presses)}")
    print(f"  Python {sys.version.split()[0]}, {os.cpu_count()} CPU cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--representatives", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(main(args.representatives, args.database_url))
