"""The bot running against the fake Bot API server: polling and delivery loops, a city with Telegram staff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.bootstrap import App, application
from bot.channels.telegram import TelegramChannel
from bot.settings import Settings
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import TEST_TOKEN, FakeTelegramAPI, SentMessage
from tests.harness import CITY_CONFIG

STAFF_GROUP = -1001234567890
# A representative's typed answers after /ajukan, from the organization's name to "how many attend?" (the Wakil).
FORM_TO_ATTENDEES = (
    ("Karang Taruna Maccini", "jenis"),
    ("4", "registrasi"),
    ("lewati", "nama lengkap"),
    ("Andi Rahmat", "jabatan"),
    ("Ketua", "telepon"),
    ("0812-3456-7890", "Pejabat"),
    ("2", "perihal"),
    ("Silaturahmi pengurus baru organisasi", "jelaskan"),
    ("Kami ingin melaporkan susunan pengurus baru.", "Berapa"),
)
PROTOKOL_ID, KESBANGPOL_ID, VIEWER_ID = 9001, 9002, 9003
WEBHOOK_SECRET = "rahasia-webhook-uji"


def city_with_telegram_staff(tmp_path: Path) -> Path:
    text = CITY_CONFIG.read_text(encoding="utf-8")
    for key, user_id in (("protokol", PROTOKOL_ID), ("kesbangpol", KESBANGPOL_ID), ("umum", VIEWER_ID)):
        text = text.replace(f'[[staff]]\nkey = "{key}"\n', f'[[staff]]\nkey = "{key}"\ntelegram_user_id = {user_id}\n')
    path = tmp_path / "kota.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class World:
    api: FakeTelegramAPI
    app: App
    channel: TelegramChannel
    clock: FakeClock

    async def step(
        self, chat_id: int, action: Callable[[], Any], expect: str, wait_seconds: float = 20.0
    ) -> SentMessage:
        """Do something as a user, then wait for a new (or newly edited) bot message containing `expect`."""
        before = {m.message_id: m.text for m in self.api.messages_to(chat_id)}
        action()

        def arrived() -> SentMessage | None:
            for message in self.api.messages_to(chat_id, include_deleted=False):
                if expect in message.text and before.get(message.message_id) != message.text:
                    return message
            return None

        return await self.api.wait_for(arrived, timeout=wait_seconds, description=f"{expect!r} in chat {chat_id}")


def settings_for(api: FakeTelegramAPI, tmp_path: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    """The bot's settings against the fake server; `overrides` are other Settings fields (config_file, …)."""
    given: dict[str, Any] = {
        "database_url": database_url or f"sqlite:///{tmp_path / 'telegram.db'}",
        "telegram_token": TEST_TOKEN,
        "telegram_api_base_url": api.base_url,
        "telegram_file_base_url": api.base_file_url,
        "telegram_staff_chat_id": STAFF_GROUP,
        "telegram_webhook_secret": WEBHOOK_SECRET,
        **overrides,
    }
    if "config_file" not in given:
        given["config_file"] = city_with_telegram_staff(tmp_path)
    return Settings(**given)


@asynccontextmanager
async def running_bot(
    api: FakeTelegramAPI,
    tmp_path: Path,
    clock: FakeClock,
    *,
    polling: bool = True,
    database_url: str | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """`settings`: other Settings fields (config_file, telegram_max_rate, …)."""
    async with application(settings_for(api, tmp_path, database_url, **settings), clock=clock) as app:
        channel = app.telegram()
        async with channel.bot:
            await channel.set_commands()
            stop = asyncio.Event()
            tasks = [asyncio.create_task(channel.run_delivery(stop, interval=0.05))]
            if polling:
                tasks.append(asyncio.create_task(channel.run_polling(stop, poll_seconds=1)))
            try:
                yield World(api, app, channel, clock)
            finally:
                stop.set()
                await asyncio.gather(*tasks)


@asynccontextmanager
async def serving(asgi_app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port inside this event loop (it shares our DB engine)."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app, lifespan="on", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
