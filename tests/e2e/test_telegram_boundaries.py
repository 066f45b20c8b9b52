"""Telegram: where the bot answers and what it can read — only the staff group's work in groups, commands meant
for another bot, someone else's contact, and messages that are not text (stickers, voice notes, locations…)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.web import create_web_app
from handlers.domain.model import RequestStatus
from tests.conftest import BACKENDS, START
from tests.e2e.telegram_world import (
    FORM_TO_ATTENDEES,
    PROTOKOL_ID,
    STAFF_GROUP,
    WEBHOOK_SECRET,
    World,
    running_bot,
    serving,
)
from tests.e2e.test_telegram import REP, card_of, labels, request_audience
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.harness import empty_database_url

NEIGHBOURS = -1005550001111  # "Grup Warga RT 05": a group the bot (and protokol) happen to be in
NOT_HERE = "hanya melayani grup staf"
UNREADABLE = "jenis pesan ini belum dapat kami proses"


@pytest.fixture
async def world(telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    async with running_bot(telegram_api, tmp_path, FakeClock(START)) as running:
        yield running


def bot_texts(api: FakeTelegramAPI, chat_id: int) -> list[str]:
    return [m.text for m in api.messages_to(chat_id) if m.from_bot]


async def test_staff_in_another_group_are_told_once_and_see_no_request(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    await card_of(world, reference)
    api.user_text(PROTOKOL_ID, "/antrian", NEIGHBOURS, chat_title="Grup Warga RT 05")
    told = await api.wait_for_message(NEIGHBOURS, NOT_HERE)
    assert "secara pribadi" in told.text and not labels(told)
    # Everything else there is ignored, the note is not repeated: a command, a reply to the bot, buttons.
    api.user_text(PROTOKOL_ID, "/antrian", NEIGHBOURS)
    api.user_reply(PROTOKOL_ID, NEIGHBOURS, told.message_id, "1")
    for data in ("g:open:1", "g:approve:1", "g:letter:1", "g:reject:1"):
        api.user_press(PROTOKOL_ID, told.message_id, data, NEIGHBOURS, check_button=False)
    await api.wait_for(lambda: len([a for a in api.callback_answers() if NOT_HERE in (a.get("text") or "")]) == 4)
    assert all(a.get("show_alert") for a in api.callback_answers() if NOT_HERE in (a.get("text") or ""))
    # The same staff member's /antrian in the staff group, after all of that, is answered there.
    await world.step(STAFF_GROUP, lambda: api.user_text(PROTOKOL_ID, "/antrian", STAFF_GROUP), "menunggu keputusan")
    sent_there = bot_texts(api, NEIGHBOURS)
    assert len(sent_there) == 1
    assert not any(reference in text or "Andi Rahmat" in text or "Setujui" in text for text in sent_there)
    assert not [c for c in api.calls("sendDocument") + api.calls("sendPhoto") if c["chat_id"] == NEIGHBOURS]
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.status is RequestStatus.SUBMITTED


async def test_the_supergroup_the_staff_group_became_is_served(world: World) -> None:
    api = world.api
    supergroup = -1009876543210
    api.migrate_group(STAFF_GROUP, supergroup)
    api.user_migrates_group(PROTOKOL_ID, STAFF_GROUP, supergroup)  # Telegram's service message there
    await world.step(supergroup, lambda: api.user_text(PROTOKOL_ID, "/antrian", supergroup), "Tidak ada permohonan")


async def test_another_process_knows_the_supergroup_by_the_cards_posted_there(world: World) -> None:
    api = world.api
    supergroup = -1009876543210
    api.migrate_group(STAFF_GROUP, supergroup)
    reference = await request_audience(world)
    card = await api.wait_for_message(supergroup, f"Permohonan audiensi {reference}")
    # A web process that never sent to the old group: it learns the supergroup from the card posted there.
    other = world.app.telegram()
    async with (
        other.bot,
        serving(create_web_app(world.app, other, deliver=False)) as base_url,
        httpx.AsyncClient() as client,
    ):
        press = api.make_press_update(PROTOKOL_ID, card.message_id, card.button_data("Setujui"), supergroup)
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        answered = await client.post(f"{base_url}/telegram/webhook", json=press, headers=headers)
        assert answered.status_code == 200
    await api.wait_for_message(supergroup, "pilih salah satu waktu")


async def test_commands_for_another_bot_are_left_to_it(world: World) -> None:
    api = world.api
    api.user_text(PROTOKOL_ID, "/antrian@SomeOtherBot", STAFF_GROUP)
    api.user_text(PROTOKOL_ID, "/start@SomeOtherBot", NEIGHBOURS)  # not even "only the staff group" there
    api.user_text(REP, "/start@SomeOtherBot")
    # Each lane handles its updates in order: once the next one is answered, the one before was seen.
    await world.step(
        STAFF_GROUP, lambda: api.user_text(PROTOKOL_ID, "/antrian@audiensi_test_bot", STAFF_GROUP), "Tidak ada"
    )
    await world.step(REP, lambda: api.user_text(REP, "/start@Audiensi_Test_Bot"), "Selamat datang")
    assert len(bot_texts(api, STAFF_GROUP)) == 1
    assert len([t for t in bot_texts(api, REP) if "Selamat datang" in t]) == 1
    assert bot_texts(api, NEIGHBOURS) == []


async def at_the_phone_question(w: World) -> SentMessage:
    api = w.api
    await w.step(REP, lambda: api.user_text(REP, "/ajukan"), "Apa nama organisasi")
    asked = None
    for said, expected in FORM_TO_ATTENDEES[:5]:
        asked = await w.step(REP, lambda said=said: api.user_text(REP, said), expected)
    assert asked is not None
    return asked


async def test_someone_elses_contact_is_not_taken_as_the_phone_number(world: World) -> None:
    api = world.api
    await at_the_phone_question(world)
    refused = await world.step(
        REP, lambda: api.user_contact(REP, "6285299998888", own_contact=False), "bukan nomor Bapak/Ibu sendiri"
    )
    assert "Bagikan nomor telepon saya" in refused.text and "0812-3456-7890" in refused.text
    asked_again = await api.wait_for(
        lambda: next((m for m in api.messages_to(REP) if m.message_id > refused.message_id), None)
    )
    assert "nomor telepon" in asked_again.text and asked_again.reply_markup is not None
    assert asked_again.reply_markup["keyboard"][0][0]["request_contact"] is True
    await world.step(REP, lambda: api.user_contact(REP, "6281234567890"), "Pejabat mana")


async def test_stickers_voice_notes_and_locations_get_a_polite_answer_and_the_question_stays(world: World) -> None:
    api = world.api
    await world.step(REP, lambda: api.user_text(REP, "/ajukan"), "Apa nama organisasi")
    for kind in ("sticker", "voice", "location", "video_note", "animation", "audio"):
        await world.step(REP, lambda kind=kind: api.user_media(REP, kind), UNREADABLE)
    # A video with a caption is not taken as the organization's name either.
    await world.step(REP, lambda: api.user_media(REP, "video", caption="Karang Taruna Maccini"), UNREADABLE)
    assert not [t for t in bot_texts(api, REP) if "tidak boleh kosong" in t]
    await world.step(REP, lambda: api.user_text(REP, "Karang Taruna Maccini"), "Apa jenis organisasi")


async def test_a_sticker_in_reply_to_a_staff_question_gets_the_same_answer(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    question = await world.step(
        STAFF_GROUP, lambda: api.user_press(PROTOKOL_ID, card.message_id, "g:reject:1", STAFF_GROUP), "alasannya"
    )
    api.user_media(PROTOKOL_ID, "sticker", chat_id=STAFF_GROUP)  # group chatter: not answered
    await world.step(
        STAFF_GROUP,
        lambda: api.user_media(PROTOKOL_ID, "voice", chat_id=STAFF_GROUP, reply_to_message_id=question.message_id),
        UNREADABLE,
    )
    assert len([t for t in bot_texts(api, STAFF_GROUP) if UNREADABLE in t]) == 1
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(PROTOKOL_ID, STAFF_GROUP, question.message_id, "Mohon bertemu Kepala Kesbangpol."),
        "Tolak permohonan",
    )


async def test_an_empty_webhook_secret_leaves_the_webhook_closed(
    telegram_api: FakeTelegramAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.bootstrap import application
    from bot.settings import Settings
    from tests.e2e.telegram_world import settings_for

    monkeypatch.setenv("AUDIENSI_TELEGRAM_WEBHOOK_SECRET", "")
    monkeypatch.setenv("AUDIENSI_TELEGRAM_TOKEN", " ")
    from_environment = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_environment.telegram_webhook_secret is None and not from_environment.telegram_enabled
    given = settings_for(telegram_api, tmp_path).model_dump()
    settings = Settings(**{**given, "telegram_webhook_secret": ""})
    assert settings.telegram_webhook_secret is None
    async with (
        application(settings, clock=FakeClock(START)) as app,
        serving(create_web_app(app, app.telegram(), deliver=False)) as base_url,
        httpx.AsyncClient() as client,
    ):
        update = telegram_api.make_text_update(REP, "/start")
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": ""}):
            refused = await client.post(f"{base_url}/telegram/webhook", json=update, headers=headers)
            assert refused.status_code == 404
    assert not bot_texts(telegram_api, REP)


async def test_bodies_that_are_not_an_update_are_refused(world: World) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    async with serving(create_web_app(world.app, world.channel, deliver=False)) as base_url, httpx.AsyncClient() as c:
        for body in (b"[]", b"1", b"null", b'"update"', b"{not json"):
            answered = await c.post(f"{base_url}/telegram/webhook", content=body, headers=headers)
            assert answered.status_code == 400, body


async def test_polling_with_whatsapp_serves_no_telegram_webhook(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    """`audiensi run` polls Telegram and serves the web app for WhatsApp: the Telegram webhook route is closed,
    even to a request carrying the secret (updates come by polling; a second way in would only be a hole)."""
    import asyncio
    import signal
    import socket
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = run_environment(
        telegram_api, tmp_path,
        AUDIENSI_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,  # set, but no webhook URL: polling
        AUDIENSI_WHATSAPP_ACCESS_TOKEN="token-uji",
        AUDIENSI_WHATSAPP_PHONE_NUMBER_ID="1234567890",
        AUDIENSI_WHATSAPP_APP_SECRET="rahasia-aplikasi",
        AUDIENSI_WHATSAPP_GRAPH_BASE_URL="http://127.0.0.1:9",
        HOST="127.0.0.1",
        PORT=str(port),
    )  # fmt: skip
    argv = [sys.executable, "-m", "bot", "run"]
    process = await asyncio.to_thread(
        subprocess.Popen, argv, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                assert process.poll() is None, process.communicate()[1].decode()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{base_url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            update = telegram_api.make_text_update(REP, "/start")
            headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            answered = await client.post(f"{base_url}/telegram/webhook", json=update, headers=headers)
            assert answered.status_code == 404
            assert (await client.post(f"{base_url}/whatsapp/webhook", content=b"{}")).status_code != 404
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.communicate, timeout=30)
    assert not bot_texts(telegram_api, REP)  # the update went nowhere


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=BACKENDS[2].marks)])
async def test_update_ids_are_forgotten_after_a_week(
    telegram_api: FakeTelegramAPI, tmp_path: Path, backend: str
) -> None:
    """The worker deletes processed update ids older than 7 days (Telegram may use ids afresh after a week
    without updates); younger ones still make a redelivered update a no-op."""

    from bot.worker import Worker
    from storage.repositories import count_rows
    from storage.tables import ProcessedEventRow

    url = await empty_database_url(backend)
    clock = FakeClock(START)
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    async with (
        running_bot(telegram_api, tmp_path, clock, polling=False, database_url=url) as w,
        serving(create_web_app(w.app, w.channel, deliver=False)) as base_url,
        httpx.AsyncClient() as client,
    ):
        webhook = f"{base_url}/telegram/webhook"
        old = telegram_api.make_text_update(REP, "/start")
        assert (await client.post(webhook, json=old, headers=headers)).status_code == 200
        clock.advance(days=6)
        recent = telegram_api.make_text_update(REP, "/bantuan")
        assert (await client.post(webhook, json=recent, headers=headers)).status_code == 200
        clock.advance(days=2)  # the first is 8 days old, the second 2
        await Worker(w.app).tick()
        async with w.app.sessions() as session:
            assert await count_rows(session, ProcessedEventRow) == 1
        helped = len([t for t in bot_texts(telegram_api, REP) if "/status" in t])
        assert helped >= 1
        assert (await client.post(webhook, json=recent, headers=headers)).status_code == 200  # redelivered
        assert len([t for t in bot_texts(telegram_api, REP) if "/status" in t]) == helped


def run_environment(telegram_api: FakeTelegramAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an `audiensi run` subprocess polling the fake Bot API, on a SQLite file."""
    import os

    from tests.e2e.telegram_world import settings_for

    settings = settings_for(telegram_api, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIENSI_")}
    env.update({
        "AUDIENSI_TELEGRAM_TOKEN": telegram_api.token,
        "AUDIENSI_TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "AUDIENSI_TELEGRAM_FILE_BASE_URL": settings.telegram_file_base_url,
        "AUDIENSI_TELEGRAM_STAFF_CHAT_ID": str(STAFF_GROUP),
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        **extra,
    })  # fmt: skip
    return env


async def test_debug_logging_shows_no_message_texts(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    """At AUDIENSI_LOG_LEVEL=DEBUG python-telegram-bot would log every request's parameters: what people wrote
    and what the bot answered. Its loggers stay at INFO."""
    import asyncio
    import signal
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT

    env = run_environment(telegram_api, tmp_path, AUDIENSI_LOG_LEVEL="DEBUG")
    log_file = tmp_path / "stderr.log"
    with log_file.open("wb") as stderr:
        process = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-m", "bot", "run"], env=env, cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        try:
            telegram_api.user_text(REP, "Ajukan Audiensi")
            await telegram_api.wait_for_message(REP, "Apa nama organisasi", timeout=60)
            telegram_api.user_text(REP, "Karang Taruna Tamalanrea Jaya")  # kept in the conversation's state
            await telegram_api.wait_for_message(REP, "Apa jenis organisasi", timeout=30)
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.to_thread(process.wait, timeout=30)
    logged = log_file.read_text(encoding="utf-8")
    assert " DEBUG " in logged  # the level was taken
    assert "Apa nama organisasi" not in logged  # a request's parameters
    assert "Tamalanrea" not in logged  # what the person typed: in the update and in SQL parameters


async def test_run_delivers_notices_as_they_fall_due_not_only_at_the_workers_round(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    """`audiensi run` polling: a decision written while it runs reaches the person at once, though the worker's
    next round is an hour away (the web process does the same for webhook mode)."""
    import asyncio
    import signal
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from bot.settings import PROJECT_ROOT
    from storage.database import create_engine
    from storage.tables import OutboxRow

    env = run_environment(telegram_api, tmp_path, AUDIENSI_WORKER_INTERVAL_SECONDS="3600")
    process = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "bot", "run"], env=env, cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = create_engine(env["DATABASE_URL"])
    try:
        telegram_api.user_text(REP, "/start")
        await telegram_api.wait_for_message(REP, "Apa yang ingin Bapak/Ibu lakukan?", timeout=60)  # running
        now = datetime.now(UTC)
        async with engine.begin() as connection:
            await connection.execute(insert(OutboxRow).values(
                channel="telegram", external_id=str(REP), kind="decision", state="pending",
                payload={"messages": [{"type": "text", "body": "Permohonan AUD-2026-000009 disetujui."}], "extra": {}},
                due_at=now - timedelta(seconds=1), attempts=0, created_at=now,
            ))  # fmt: skip
        await telegram_api.wait_for_message(REP, "AUD-2026-000009 disetujui", timeout=30)
    finally:
        await engine.dispose()
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.wait, timeout=30)
