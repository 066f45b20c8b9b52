"""The bot's web app serving WhatsApp webhooks, against the fake Graph API server (and optionally Telegram's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bot.bootstrap import App, application
from bot.channels.whatsapp import WhatsAppChannel
from bot.settings import Settings
from bot.web import create_web_app
from tests.e2e.telegram_world import city_with_telegram_staff, serving, settings_for
from tests.fakes.graph_api import DEFAULT_APP_SECRET, FakeGraphAPI, post_webhook
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI

VERIFY_TOKEN = "token-verifikasi-uji"
STAFF_WA = "6281100000001"
TEMPLATE = "audiensi_pemberitahuan"
REP = "6281234567890"


def wa_settings(
    graph: FakeGraphAPI, tmp_path: Path, telegram: FakeTelegramAPI | None, database_url: str | None = None
) -> Settings:
    base = (
        settings_for(telegram, tmp_path)
        if telegram
        else Settings(database_url=f"sqlite:///{tmp_path / 'wa.db'}", config_file=city_with_telegram_staff(tmp_path))
    )
    if database_url is not None:
        base = base.model_copy(update={"database_url": database_url})
    config = Path(base.config_file)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'key = "protokol"\n', f'key = "protokol"\nwhatsapp_id = "{STAFF_WA}"\n'
        ),
        encoding="utf-8",
    )
    return base.model_copy(update={
        "whatsapp_access_token": SecretStr(graph.access_token), "whatsapp_phone_number_id": graph.phone_number_id,
        "whatsapp_app_secret": SecretStr(DEFAULT_APP_SECRET), "whatsapp_verify_token": SecretStr(VERIFY_TOKEN),
        "whatsapp_graph_base_url": graph.base_url, "whatsapp_api_version": graph.api_version,
        "files_dir": tmp_path / "files",
    })  # fmt: skip


@dataclass
class WaWorld:
    graph: FakeGraphAPI
    app: App
    channel: WhatsAppChannel
    url: str
    clock: FakeClock
    client: httpx.AsyncClient

    async def post(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await post_webhook(f"{self.url}/whatsapp/webhook", payload, client=self.client, **kwargs)

    async def say(
        self, payload: dict[str, Any], to: str, expect: str | Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """Post an inbound webhook and wait for a new message to `to` that shows `expect` (a text that is not a
        template, or a predicate on the record)."""
        before = len(self.graph.sent(to))
        response = await self.post(payload)
        assert response.status_code == 200, response.text

        def matches(record: dict[str, Any]) -> bool:
            # A reply is never a template: a notice the delivery loop sends meanwhile does not count as one.
            if callable(expect):
                return expect(record)
            return record["type"] != "template" and expect in shown(record)

        async def arrived() -> dict[str, Any]:
            while True:
                found = [r for r in self.graph.sent(to)[before:] if matches(r)]
                if found:
                    return found[-1]
                await asyncio.sleep(0.01)

        try:
            return await asyncio.wait_for(arrived(), 20)  # a bound, not a pace: a loaded CI machine is slow
        except TimeoutError:
            raise AssertionError(f"no message to {to} showing {expect!r}; sent: "
                                 f"{[shown(r) for r in self.graph.sent(to)][-5:]}") from None  # fmt: skip


def shown(record: dict[str, Any]) -> str:
    """What the person sees in a message: its text plus every button and row title."""
    payload = record["payload"]
    parts = [record.get("text") or ""]
    interactive = payload.get("interactive") or {}
    action = interactive.get("action") or {}
    parts += [b["reply"]["title"] for b in action.get("buttons", [])]
    for section in action.get("sections", []):
        parts += [f"{row['title']} {row.get('description', '')}" for row in section["rows"]]
    if payload.get("type") == "template":
        parts += [p["text"] for c in payload["template"].get("components", []) for p in c.get("parameters", [])
                  if "text" in p]  # fmt: skip
    return "\n".join(parts)


@asynccontextmanager
async def running_whatsapp(
    graph: FakeGraphAPI,
    tmp_path: Path,
    clock: FakeClock,
    telegram: FakeTelegramAPI | None = None,
    *,
    database_url: str | None = None,
) -> AsyncIterator[WaWorld]:
    graph.register_template(TEMPLATE, "id", 2, quick_reply_count=1)
    graph.webhooks.now = lambda: clock.now().timestamp()  # messages are stamped with the bot's (fake) time
    settings = wa_settings(graph, tmp_path, telegram, database_url)
    async with AsyncExitStack() as stack:
        app = await stack.enter_async_context(application(settings, clock=clock))
        channel = app.whatsapp()
        tg = app.telegram() if telegram else None
        # The clients first, so they are closed last: the web app's loops stop before them.
        await stack.enter_async_context(channel.client)
        if tg is not None:
            await stack.enter_async_context(tg.bot)
        base = await stack.enter_async_context(serving(create_web_app(app, tg, whatsapp=channel)))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        if tg is not None:
            stop = asyncio.Event()
            polling = asyncio.create_task(tg.run_polling(stop, poll_seconds=1))
            stack.push_async_callback(lambda: polling)  # awaited after stop is set below
            stack.callback(stop.set)
        yield WaWorld(graph, app, channel, base, clock, client)


async def to_the_letter(w: WaWorld, who: str = REP) -> None:
    """A request by `who` up to the step that asks for the letter."""
    hooks = w.graph.webhooks
    welcome = await w.say(hooks.text_message(who, "Halo"), who, "Ajukan Audiensi")
    assert welcome["type"] == "interactive" and welcome["payload"]["interactive"]["type"] == "button"
    await w.say(hooks.button_reply(who, "g:request", "Ajukan Audiensi"), who, "Apa nama organisasi")
    kinds = await w.say(hooks.text_message(who, "Karang Taruna Kelurahan Maccini"), who, "Apa jenis organisasi")
    assert kinds["payload"]["interactive"]["type"] == "list"
    rows = kinds["payload"]["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 8 and all(len(r["title"]) <= 24 for r in rows)
    assert rows[0]["description"] == "Ormas (organisasi kemasyarakatan)"  # the full label where the title is cut
    await w.say(hooks.list_reply(who, "karang_taruna", "Karang Taruna"), who, "nomor registrasi")
    await w.say(hooks.button_reply(who, "f:skip", "Lewati"), who, "nama lengkap")
    await w.say(hooks.text_message(who, "Andi Rahmat Hidayat"), who, "jabatan")
    await w.say(hooks.text_message(who, "Ketua"), who, "nomor telepon")
    await w.say(hooks.contacts_message(who, "+62 812-3456-7890", "Andi"), who, "Pejabat mana")
    await w.say(hooks.list_reply(who, "wakil-walikota", "Wakil Wali Kota"), who, "perihal")
    await w.say(hooks.text_message(who, "Silaturahmi dan pelaporan pelantikan pengurus baru"), who, "jelaskan")
    await w.say(hooks.text_message(who, "Kami ingin melaporkan susunan pengurus dan menjajaki kerja sama."), who,
                "Berapa orang")  # fmt: skip
    dates = await w.say(hooks.text_message(who, "5"), who, "paling banyak tiga waktu")
    day = dates["payload"]["interactive"]["action"]["sections"][0]["rows"][0]
    times = await w.say(hooks.list_reply(who, day["id"], day["title"]), who, "Waktu yang masih kosong")
    first = times["payload"]["interactive"]["action"]["sections"][0]["rows"][0]
    await w.say(hooks.list_reply(who, first["id"], first["title"]), who, "Sudah dipilih")
    await w.say(hooks.list_reply(who, "f:done", "Selesai"), who, "nomor surat")
    await w.say(hooks.text_message(who, "005/12/KT-MKS/XI/2026"), who, "Mohon kirim surat")


async def whole_request(w: WaWorld, who: str = REP, *, photo: bool = False) -> str:
    """A whole request by `who` on WhatsApp, with buttons and lists; returns its reference."""
    hooks = w.graph.webhooks
    await to_the_letter(w, who)
    if photo:
        media = w.graph.add_media(b"\xff\xd8\xff" + b"0" * 2048, "image/jpeg", None)
        await w.say(hooks.image_message(who, media, "image/jpeg", "0" * 64), who, "Kirim")
    else:
        media = w.graph.add_media(b"%PDF-1.4 surat", "application/pdf", "surat.pdf")
        await w.say(hooks.document_message(who, media, "surat.pdf", "application/pdf", "0" * 64), who, "Kirim")
    done = await w.say(hooks.button_reply(who, "f:send", "Kirim"), who, "kode permohonan")
    return shown(done).split("kode permohonan ")[1].split(".")[0]
