"""WhatsApp end to end: signed webhooks in Meta's format to our web app, replies to a fake Graph API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.whatsapp import WhatsAppChannel
from handlers.domain.model import Address
from handlers.messages import Choice, Option, Text
from storage.repositories import count_rows
from storage.tables import WhatsAppInboxRow
from tests.conftest import START
from tests.e2e.telegram_world import PROTOKOL_ID, STAFF_GROUP
from tests.e2e.whatsapp_world import (
    REP,
    STAFF_WA,
    TEMPLATE,
    VERIFY_TOKEN,
    WaWorld,
    running_whatsapp,
    shown,
    whole_request,
)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI

BSUID = "ID.1234567890123456"


@pytest.fixture
async def wa(graph_api: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[WaWorld]:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START)) as world:
        yield world


async def test_a_whole_request_on_whatsapp_with_buttons_and_lists(wa: WaWorld) -> None:
    reference = await whole_request(wa)
    assert reference == "AUD-2026-000001"
    async with wa.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None
    assert request.letter_file is not None and request.letter_file.name == "surat.pdf"
    assert request.letter_file.size == len(b"%PDF-1.4 surat")
    assert request.representative.phone == "+6281234567890"


async def test_identity_is_the_business_scoped_user_id_when_meta_gives_one(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await wa.say(hooks.text_message(None, "/mulai", user_id=BSUID), BSUID, "Ajukan Audiensi")
    async with wa.app.new_uow() as uow:
        state = await uow.conversations.load(Address("whatsapp", BSUID))
    assert state is not None


async def test_the_webhook_verification_answers_the_challenge_only_with_our_token(wa: WaWorld) -> None:
    url = f"{wa.url}/whatsapp/webhook"
    ok = await wa.client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                          "hub.challenge": "1158201444"})  # fmt: skip
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await wa.client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"})
    assert wrong.status_code == 403


async def test_a_forged_or_missing_signature_is_refused_and_nothing_is_stored(wa: WaWorld) -> None:
    payload = wa.graph.webhooks.text_message(REP, "/mulai")
    assert (await wa.post(payload, signature="sha256=" + "0" * 64)).status_code == 403
    assert (await wa.post(payload, signature="")).status_code == 403
    assert (await wa.post(payload, app_secret="not-the-app-secret")).status_code == 403
    async with wa.app.sessions() as session:
        assert await count_rows(session, WhatsAppInboxRow) == 0
    assert wa.graph.sent(REP) == []


async def test_a_redelivered_webhook_is_handled_once(wa: WaWorld) -> None:
    payload = wa.graph.webhooks.text_message(REP, "/mulai")
    await wa.say(payload, REP, "Ajukan Audiensi")
    assert (await wa.post(payload)).status_code == 200  # Meta is told all is well, and it is not stored twice
    async with wa.app.sessions() as session:
        assert await count_rows(session, WhatsAppInboxRow) == 1
    await wa.channel.process_pending()
    assert len([r for r in wa.graph.sent(REP) if "Ajukan Audiensi" in shown(r)]) == 1


async def test_an_unknown_message_type_gets_a_polite_answer_and_is_recorded(wa: WaWorld) -> None:
    reply = await wa.say(wa.graph.webhooks.unknown_message(REP, type="sticker"), REP, "jenis pesan ini")
    assert reply["type"] == "text"
    async with wa.app.sessions() as session:
        assert await count_rows(session, WhatsAppInboxRow) == 1
    for _ in range(200):
        unsupported = await wa.channel.store.states("unsupported")
        if unsupported:
            break
        await asyncio.sleep(0.01)
    assert [e.payload["type"] for e in unsupported] == ["sticker"]


async def test_lists_over_ten_options_become_numbered_text_and_limits_are_kept(wa: WaWorld) -> None:
    channel: WhatsAppChannel = wa.channel
    many = tuple(Option(f"k{n}", f"Pilihan nomor {n}") for n in range(1, 13))
    await channel.send(REP, Choice("Pilih salah satu:", many))
    numbered = wa.graph.last_sent(REP)
    assert numbered["type"] == "text" and "12. Pilihan nomor 12" in numbered["text"]
    exactly = (Option("a", "x" * 20), Option("b", "Tidak"))
    await channel.send(REP, Choice("Dua tombol", exactly))
    assert wa.graph.last_sent(REP)["payload"]["interactive"]["type"] == "button"
    longer = (Option("a", "x" * 21), Option("b", "Tidak"))
    await channel.send(REP, Choice("Judul terlalu panjang untuk tombol", longer))
    listed = wa.graph.last_sent(REP)["payload"]["interactive"]
    assert listed["type"] == "list" and len(listed["action"]["sections"][0]["rows"][0]["title"]) <= 24
    long_body = "Ringkasan permohonan. " * 80  # 1,760 characters: over the interactive body limit
    await channel.send(REP, Choice(long_body, (Option("f:send", "Kirim"),)))
    last_two = wa.graph.sent(REP)[-2:]
    assert last_two[0]["type"] == "text" and long_body.strip() in last_two[0]["text"]
    assert last_two[1]["payload"]["interactive"]["body"]["text"] == "Silakan pilih:"
    await channel.send(REP, Text("kata " * 2000))  # 10,000 characters: split at the text limit, words whole
    parts = [r["text"] for r in wa.graph.sent(REP)[-3:] if r["type"] == "text"]
    assert all(len(p) <= 4096 for p in parts) and " ".join(parts).split() == ["kata"] * 2000


async def test_titles_that_read_the_same_are_told_apart_and_words_are_not_cut(wa: WaWorld) -> None:
    await wa.channel.send(REP, Choice("Hadir?", (Option("a", "Ya"), Option("b", "Ya"))))
    buttons = wa.graph.last_sent(REP)["payload"]["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Ya", "Ya (2)"]  # sent, not refused by our own client
    officials = (Option("a", "Kepala Dinas Kependudukan dan Pencatatan Sipil"),
                 Option("b", "Kepala Dinas Kependudukan Provinsi Sulawesi Selatan"), Option("c", "Sekda"),
                 Option("d", "Camat"))  # fmt: skip
    await wa.channel.send(REP, Choice("Pejabat mana?", officials))
    rows = wa.graph.last_sent(REP)["payload"]["interactive"]["action"]["sections"][0]["rows"]
    assert [r["title"] for r in rows] == ["Kepala Dinas…", "Kepala Dinas… (2)", "Sekda", "Camat"]
    assert rows[0]["description"] == "Kepala Dinas Kependudukan dan Pencatatan Sipil"  # the whole name below
    assert "description" not in rows[2]


def queue_listing(record: dict[str, Any]) -> bool:
    return record["type"] == "interactive" and "AUD-2026-000001" in shown(record)


async def test_a_notice_outside_the_window_goes_as_the_approved_template(wa: WaWorld) -> None:
    await whole_request(wa)
    wa.clock.advance(hours=25)  # the representative last wrote over 24 hours ago
    # The new request's card may reach the staff member (as a template) at any moment: wait for the queue itself.
    staff = await wa.say(wa.graph.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, queue_listing)
    assert staff["payload"]["interactive"]["action"]  # the queue reaches them: their window is open, they just wrote
    await wa.say(wa.graph.webhooks.button_reply(STAFF_WA, "g:reject:1", "Tolak"), STAFF_WA, "alasannya")
    await wa.say(wa.graph.webhooks.text_message(STAFF_WA, "Jadwal pejabat penuh hingga akhir tahun."), STAFF_WA,
                 "Tolak permohonan ini")  # fmt: skip
    await wa.say(wa.graph.webhooks.button_reply(STAFF_WA, "f:send", "Tolak"), STAFF_WA, "Keputusan tersimpan")
    template = await wa.graph.wait_for_sent(REP, lambda r: r["type"] == "template")
    assert template["payload"]["template"]["name"] == TEMPLATE
    assert "AUD-2026-000001" in shown(template) and "tidak dapat dipenuhi" in shown(template)


async def test_window_closed_error_switches_to_the_template(wa: WaWorld) -> None:
    await whole_request(wa)
    wa.graph.window_closed_for(REP)  # Meta says 131047 although our record says the window is open
    await wa.say(wa.graph.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, queue_listing)
    await wa.say(wa.graph.webhooks.button_reply(STAFF_WA, "g:reject:1", "Tolak"), STAFF_WA, "alasannya")
    await wa.say(wa.graph.webhooks.text_message(STAFF_WA, "Jadwal pejabat penuh hingga akhir tahun."), STAFF_WA,
                 "Tolak permohonan ini")  # fmt: skip
    await wa.say(wa.graph.webhooks.button_reply(STAFF_WA, "f:send", "Tolak"), STAFF_WA, "Keputusan tersimpan")
    template = await wa.graph.wait_for_sent(REP, lambda r: r["type"] == "template")
    assert "tidak dapat dipenuhi" in shown(template)


async def test_throughput_limit_is_retried_later(wa: WaWorld) -> None:
    await whole_request(wa)
    # The new request's card goes to the staff member on WhatsApp first (as a template: they never wrote).
    await wa.graph.wait_for_sent(STAFF_WA, lambda r: r["type"] == "template")
    refused_before = len([r for r in wa.graph.requests if r[2] == 400])
    wa.graph.fail_next(code=130429)
    await wa.app.service.owe(Address("whatsapp", REP), [Text("Pemberitahuan uji throughput")], kind="decision")
    await wa.channel.deliver_due()  # this call, or the web process's delivery loop, meets the 130429
    for _ in range(500):
        if len([r for r in wa.graph.requests if r[2] == 400]) == refused_before + 1:
            break
        await asyncio.sleep(0.01)
    assert len([r for r in wa.graph.requests if r[2] == 400]) == refused_before + 1  # Meta said 130429
    assert not [r for r in wa.graph.sent(REP) if "Pemberitahuan uji" in shown(r)]
    wa.clock.advance(minutes=5)  # past the backoff
    await wa.graph.wait_for_sent(REP, lambda r: "Pemberitahuan uji throughput" in shown(r))


async def test_a_whatsapp_representative_decided_by_staff_on_telegram_gets_a_template_outside_the_window(
    graph_api: FakeGraphAPI, telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), telegram=telegram_api) as w:
        await whole_request(w)
        card = await telegram_api.wait_for_message(STAFF_GROUP, "Permohonan audiensi baru AUD-2026-000001")
        w.clock.advance(hours=30)
        telegram_api.user_press(PROTOKOL_ID, card.message_id, "g:reject:1", STAFF_GROUP)
        question = await telegram_api.wait_for_message(STAFF_GROUP, "alasannya")
        telegram_api.user_reply(PROTOKOL_ID, STAFF_GROUP, question.message_id, "Jadwal pejabat penuh hingga Januari.")
        summary = await telegram_api.wait_for_message(STAFF_GROUP, "Tolak permohonan ini")
        telegram_api.user_press(PROTOKOL_ID, summary.message_id, summary.button_data("Tolak"), STAFF_GROUP)
        template = await graph_api.wait_for_sent(REP, lambda r: r["type"] == "template", timeout=10)
        assert "Jadwal pejabat penuh hingga Januari." in shown(template)
        assert not [r for r in graph_api.sent(REP) if r["type"] == "text" and "tidak dapat dipenuhi" in shown(r)]


def test_signature_helper_rejects_everything_but_the_exact_hmac() -> None:
    from bot.channels.whatsapp import signature_valid
    from tests.fakes.graph_api import sign

    body = b'{"object":"whatsapp_business_account"}'
    assert signature_valid(body, sign(body, "s"), "s")
    assert not signature_valid(body + b" ", sign(body, "s"), "s")
    assert not signature_valid(body, sign(body, "s").replace("sha256=", "sha1="), "s")
    assert not signature_valid(body, None, "s")


async def test_the_web_process_serves_whatsapp_from_its_settings(graph_api: FakeGraphAPI, tmp_path: Path) -> None:
    """`audiensi web` as the Procfile starts it: verification, a signed message, a reply at the Graph API."""
    import os
    import socket
    import sys

    import httpx

    from bot.settings import PROJECT_ROOT
    from tests.e2e.whatsapp_world import wa_settings
    from tests.fakes.graph_api import post_webhook

    settings = wa_settings(graph_api, tmp_path, None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
        "AUDIENSI_WHATSAPP_ACCESS_TOKEN": graph_api.access_token,
        "AUDIENSI_WHATSAPP_PHONE_NUMBER_ID": graph_api.phone_number_id,
        "AUDIENSI_WHATSAPP_APP_SECRET": "fake-app-secret",
        "AUDIENSI_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "AUDIENSI_WHATSAPP_GRAPH_BASE_URL": graph_api.base_url,
        "AUDIENSI_WHATSAPP_API_VERSION": graph_api.api_version,
    }
    env.pop("AUDIENSI_TELEGRAM_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "web", "--host", "127.0.0.1", "--port", str(port),
        env=env, cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            challenge = await client.get(f"{base}/whatsapp/webhook", params={
                "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"})  # fmt: skip
            assert challenge.text == "42"
            sent = await post_webhook(f"{base}/whatsapp/webhook", graph_api.webhooks.text_message(REP, "/mulai"))
            assert sent.status_code == 200
            welcome = await graph_api.wait_for_sent(REP, timeout=15)
            assert "Selamat datang" in shown(welcome)
    finally:
        process.terminate()
        output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert graph_api.access_token not in output  # no secret in the logs


async def test_receipts_are_recorded_and_a_late_window_failure_resends_the_notice_as_a_template(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await wa.say(hooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    await wa.app.service.owe(Address("whatsapp", REP), [Text("Pemberitahuan uji tanda terima")], kind="decision")
    await wa.channel.deliver_due()
    notice = await wa.graph.wait_for_sent(REP, lambda r: "Pemberitahuan uji tanda terima" in shown(r))
    for _ in range(500):  # our record of the send is written just after Meta answers
        if notice["id"] in [wamid for wamid, *_rest in await wa.channel.store.sent_to(REP)]:
            break
        await asyncio.sleep(0.01)
    for status in ("delivered", "read"):
        assert (await wa.post(hooks.status_event(REP, notice["id"], status))).status_code == 200
    # Processed in whatever order the processors take them, the receipt ends at "read", never back to "delivered".
    for _ in range(500):
        receipts = {wamid: state for wamid, _kind, _template, state, _code in await wa.channel.store.sent_to(REP)}
        if receipts[notice["id"]] == "read":
            break
        await asyncio.sleep(0.01)
    assert receipts[notice["id"]] == "read"
    await wa.channel.store.record_status(notice["id"], "delivered", None, wa.clock.now())  # a late receipt
    receipts = {wamid: state for wamid, _kind, _template, state, _code in await wa.channel.store.sent_to(REP)}
    assert receipts[notice["id"]] == "read"
    failed = hooks.status_event(
        REP, notice["id"], "failed", errors=[{"code": 131047, "title": "Re-engagement message"}]
    )
    await wa.post(failed)
    template = await wa.graph.wait_for_sent(REP, lambda r: r["type"] == "template")
    assert "Pemberitahuan uji tanda terima" in shown(template)  # the notice itself, not just "a new notice"


async def test_a_photo_of_the_letter_is_kept_with_its_type_and_size(wa: WaWorld) -> None:
    reference = await whole_request(wa, photo=True)
    async with wa.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.letter_file is not None
    assert (request.letter_file.mime_type, request.letter_file.size) == ("image/jpeg", 2051)


async def test_a_photo_where_text_is_expected_is_answered_politely(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    media = wa.graph.add_media(b"\xff\xd8\xff", "image/jpeg", None)
    await wa.say(hooks.text_message(REP, "/ajukan"), REP, "Apa nama organisasi")
    reply = await wa.say(hooks.image_message(REP, media, "image/jpeg", "0" * 64), REP, "dalam bentuk teks")
    assert "Apa nama organisasi" in shown(reply)  # the same question again


async def test_approved_on_telegram_and_reminded_outside_the_window_with_a_template(
    graph_api: FakeGraphAPI, telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    from datetime import datetime

    from tests.harness import MAKASSAR

    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), telegram=telegram_api) as w:
        await whole_request(w)  # the representative last wrote on Monday 23 November, 09.00 WITA
        card = await telegram_api.wait_for_message(STAFF_GROUP, "Permohonan audiensi baru AUD-2026-000001")
        telegram_api.user_press(PROTOKOL_ID, card.message_id, "g:approve:1", STAFF_GROUP)
        times = await telegram_api.wait_for_message(STAFF_GROUP, "pilih salah satu waktu")
        telegram_api.user_press(
            PROTOKOL_ID, times.message_id, times.inline_keyboard[0][0]["callback_data"], STAFF_GROUP
        )
        place = await telegram_api.wait_for_message(STAFF_GROUP, "Di mana audiensi")
        telegram_api.user_press(
            PROTOKOL_ID, place.message_id, place.inline_keyboard[0][0]["callback_data"], STAFF_GROUP
        )
        summary = await telegram_api.wait_for_message(STAFF_GROUP, "Setujui audiensi ini?")
        telegram_api.user_press(PROTOKOL_ID, summary.message_id, summary.button_data("Setujui"), STAFF_GROUP)
        await graph_api.wait_for_sent(REP, lambda r: "telah disetujui" in shown(r))  # inside the window: text
        # The working day before the audience (Wednesday 25 November, 08.00), at 09.00: over 24 hours later.
        w.clock.set(datetime(2026, 11, 24, 9, 1, tzinfo=MAKASSAR))
        reminder = await graph_api.wait_for_sent(REP, lambda r: r["type"] == "template", timeout=10)
        assert reminder["payload"]["template"]["name"] == TEMPLATE
        assert "AUD-2026-000001" in shown(reminder) and "Rabu, 25 November 2026" in shown(reminder)


async def test_the_verify_token_never_reaches_the_access_log(graph_api: FakeGraphAPI, tmp_path: Path) -> None:
    """`audiensi web` keeps an access log, without query strings: Meta's verification carries the token in one."""
    import logging
    import socket

    import httpx

    from bot.bootstrap import application
    from bot.cli import _serve
    from tests.e2e.whatsapp_world import wa_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep = Keep()
    async with application(wa_settings(graph_api, tmp_path, None)) as app:
        stop = asyncio.Event()
        serving = asyncio.create_task(_serve(app, None, stop, "127.0.0.1", port))
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(1000):
                    try:
                        await client.get("/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.02)
                logging.getLogger("uvicorn.access").addHandler(keep)
                params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "4242"}
                answer = await client.get("/whatsapp/webhook", params=params)
                assert (answer.status_code, answer.text) == (200, "4242")
        finally:
            logging.getLogger("uvicorn.access").removeHandler(keep)
            stop.set()
            await serving
    assert any("GET /whatsapp/webhook " in line and "200" in line for line in lines), lines
    assert not any(VERIFY_TOKEN in line or "hub." in line for line in lines), lines
