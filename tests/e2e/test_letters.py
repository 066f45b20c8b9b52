"""Staff open the request letter from the card, on every channel, whichever channel the representative used.

Against the fake Bot API and Graph API servers on loopback; nothing of ours is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.console import render
from bot.channels.letters import LetterFiles
from handlers.domain.model import FileRef
from handlers.messages import Document, Text, outbound_from_dict, outbound_to_dict
from tests.conftest import START
from tests.e2e.telegram_world import PROTOKOL_ID, STAFF_GROUP, World, running_bot
from tests.e2e.test_telegram import REP, STRANGER, card_of, labels, request_audience, request_audience_until_letter
from tests.e2e.whatsapp_world import STAFF_WA, running_whatsapp, shown, whole_request
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI

PDF = b"%PDF-1.4 surat permohonan"


@pytest.fixture
async def world(telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    async with running_bot(telegram_api, tmp_path, FakeClock(START)) as running:
        yield running


def sent_letters(api: FakeTelegramAPI) -> list[dict[str, Any]]:
    return api.calls("sendDocument", ok=True) + api.calls("sendPhoto", ok=True)


async def test_staff_in_the_group_open_a_telegram_letter_by_its_file_id_as_a_reply_to_the_card(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    assert labels(card)[-1] == "Lihat Surat"
    received = next(m for m in api.chat_history(REP) if m.kind == "document")
    file_id = received.payload["document"]["file_id"]
    api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Lihat Surat"), STAFF_GROUP)
    calls = await api.wait_for_call("sendDocument")
    assert calls[0]["document"] == file_id  # the same file again, nothing downloaded or uploaded
    letter = next(m for m in api.messages_to(STAFF_GROUP) if m.kind == "document")
    assert letter.payload["reply_to_message"]["message_id"] == card.message_id
    assert letter.text == f"Surat permohonan {reference}: surat-permohonan.pdf"
    assert api.file_content(letter.payload["document"]["file_id"]) == PDF
    assert not api.unanswered_callback_queries()


async def test_a_stranger_pressing_view_letter_gets_nothing(world: World) -> None:
    api = world.api
    card = await card_of(world, await request_audience(world))
    api.user_press(STRANGER, card.message_id, card.button_data("Lihat Surat"), STAFF_GROUP)
    answers = await api.wait_for(lambda: [a for a in api.callback_answers() if a.get("text")] or None)
    assert answers[-1]["show_alert"] and "petugas" in answers[-1]["text"]
    assert sent_letters(api) == []


async def test_a_request_without_a_letter_shows_no_button(world: World) -> None:
    api = world.api
    await request_audience_until_letter(world)
    await world.step(REP, lambda: api.user_text(REP, "lewati"), "Mohon periksa kembali")
    done = await world.step(REP, lambda: api.user_text(REP, "Kirim"), "kode permohonan")
    card = await card_of(world, done.text.split("kode permohonan ")[1].split(".")[0])
    assert "Lihat Surat" not in labels(card) and labels(card)[0] == "Setujui"


async def test_a_photo_is_sent_again_as_a_photo_and_a_missing_file_is_explained(world: World) -> None:
    api = world.api
    await request_audience_until_letter(world)
    await world.step(REP, lambda: api.user_photo(REP), "Mohon periksa kembali")
    done = await world.step(REP, lambda: api.user_text(REP, "Kirim"), "kode permohonan")
    card = await card_of(world, done.text.split("kode permohonan ")[1].split(".")[0])
    api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Lihat Surat"), STAFF_GROUP)
    photo = (await api.wait_for_call("sendPhoto"))[0]
    sizes = next(m for m in api.chat_history(REP) if m.kind == "photo").payload["photo"]
    assert photo["photo"] == sizes[-1]["file_id"]
    # A letter received on WhatsApp whose file is gone from disk: staff are told, nothing crashes.
    gone = Document(FileRef("whatsapp", "404", "surat.pdf", "application/pdf", 10), "Surat permohonan X: surat.pdf")
    await world.channel.send(STAFF_GROUP, gone)
    note = await api.wait_for_message(STAFF_GROUP, "tidak dapat dibuka")
    assert "tidak ditemukan" in note.text


async def test_a_whatsapp_letter_is_uploaded_to_the_telegram_group_with_its_bytes(
    graph_api: FakeGraphAPI, telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), telegram=telegram_api) as w:
        reference = await whole_request(w)
        card = await telegram_api.wait_for_message(STAFF_GROUP, f"Permohonan audiensi baru {reference}")
        assert "Lihat Surat" in labels(card)
        telegram_api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Lihat Surat"), STAFF_GROUP)
        await telegram_api.wait_for_call("sendDocument")
        letter = next(m for m in telegram_api.messages_to(STAFF_GROUP) if m.kind == "document")
        assert telegram_api.file_content(letter.payload["document"]["file_id"]) == b"%PDF-1.4 surat"
        assert letter.payload["document"]["file_name"] == "surat.pdf"
        assert letter.payload["reply_to_message"]["message_id"] == card.message_id


async def test_whatsapp_staff_get_a_telegram_letter_as_an_uploaded_document(
    graph_api: FakeGraphAPI, telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), telegram=telegram_api) as w:
        tg = World(telegram_api, w.app, None, w.clock)  # type: ignore[arg-type]  # step() needs only the API
        reference = await request_audience(tg)
        hooks = graph_api.webhooks
        await w.say(hooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, reference)
        document = await w.say(hooks.list_reply(STAFF_WA, "g:letter:1", "Lihat Surat"), STAFF_WA,
                               lambda r: r["type"] == "document")  # fmt: skip
        sent = document["payload"]["document"]
        assert sent["filename"] == "surat-permohonan.pdf" and reference in sent["caption"]
        assert graph_api.media(sent["id"])[0] == PDF  # fetched from Telegram (getFile + file URL), then uploaded
        assert telegram_api.calls("getFile", ok=True)
        # Another representative on WhatsApp presses the same key: not theirs, nothing sent.
        other = "6281299998888"
        await w.say(hooks.button_reply(other, "g:letter:1", "Lihat Surat"), other, "tidak berwenang")
        assert not [r for r in graph_api.sent(other) if r["type"] == "document"]


async def test_whatsapp_staff_are_told_when_the_letter_cannot_be_had(
    graph_api: FakeGraphAPI, telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), telegram=telegram_api) as w:
        await w.say(graph_api.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, "Tidak ada permohonan")
        gone = Document(FileRef("telegram", "no-such-file", "surat.pdf", "application/pdf", 10), "Surat X: surat.pdf")
        await w.channel.send(STAFF_WA, gone)
        text = graph_api.last_sent(STAFF_WA)
        assert text["type"] == "text" and "Telegram menolak" in shown(text)


def test_a_letter_keeps_in_the_outbox_and_reads_in_the_console(tmp_path: Path) -> None:
    letter = Document(FileRef("whatsapp", "123", "surat.pdf", "application/pdf", 4096), "Surat permohonan A: surat.pdf")
    assert outbound_from_dict(outbound_to_dict(letter)) == letter
    assert outbound_from_dict(outbound_to_dict(Text("x"))) == Text("x")
    from tests.harness import _city_and_catalogs

    city, catalogs = _city_and_catalogs()
    t = catalogs.translator("id", city.tz)
    shown_here = render([letter], t, LetterFiles(tmp_path))
    assert "surat.pdf (PDF, 4 KB)" in shown_here and str(tmp_path / "whatsapp" / "123.pdf") in shown_here
    on_telegram = Document(FileRef("telegram", "AgAD", "foto.jpg", "image/jpeg", 2048), "Surat permohonan B")
    assert "disimpan di Telegram" in render([on_telegram], t)


async def test_a_letter_waiting_past_the_whatsapp_window_goes_as_the_template_with_what_to_press(
    graph_api: FakeGraphAPI, tmp_path: Path
) -> None:
    from handlers.domain.model import Address

    async with running_whatsapp(graph_api, tmp_path, FakeClock(START)) as w:
        reference = await whole_request(w)
        await w.say(graph_api.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, reference)
        w.clock.advance(hours=25)  # the staff member last wrote over 24 hours ago
        letter = Document(FileRef("whatsapp", "1", "surat.pdf", "application/pdf", 14), f"Surat permohonan {reference}")
        await w.app.service.owe(Address("whatsapp", STAFF_WA), [letter])
        template = await graph_api.wait_for_sent(STAFF_WA, lambda r: r["type"] == "template" and "Lihat" in shown(r))
        assert reference in shown(template) and "24 jam" in shown(template)
        button = template["payload"]["template"]["components"][-1]["parameters"][0]["payload"]
        assert button == "g:queue"  # a staff member's way back in: the queue, then the card
        assert not [r for r in graph_api.sent(STAFF_WA) if r["type"] == "document"]
