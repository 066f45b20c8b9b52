"""Telegram end to end: the real bot client against a fake Bot API server on loopback, driven like people do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from handlers.domain.model import RequestStatus
from storage.repositories import count_rows
from storage.tables import ConversationRow, OutboxRow, ProcessedEventRow
from tests.conftest import START
from tests.e2e.telegram_world import (
    FORM_TO_ATTENDEES,
    KESBANGPOL_ID,
    PROTOKOL_ID,
    STAFF_GROUP,
    VIEWER_ID,
    WEBHOOK_SECRET,
    World,
    running_bot,
    serving,
)
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

REP = 5001
STRANGER = 7777


@pytest.fixture
async def world(telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    async with running_bot(telegram_api, tmp_path, FakeClock(START)) as running:
        yield running


async def request_audience(
    w: World,
    user: int = REP,
    org: str = "Karang Taruna Kelurahan Maccini",
    description: str = "Kami ingin melaporkan susunan pengurus dan menjajaki kerja sama.",
) -> str:
    """A representative's whole request with buttons and typed answers; returns the reference code."""
    api = w.api
    menu = await w.step(user, lambda: api.user_text(user, "/start"), "Apa yang ingin Bapak/Ibu lakukan?")
    assert any("Selamat datang" in m.text for m in api.messages_to(user))
    assert menu.reply_markup is not None
    assert [b["text"] for row in menu.reply_markup["keyboard"] for b in row] == [
        "Ajukan Audiensi",
        "Status Permohonan",
        "Bantuan",
    ]
    await w.step(user, lambda: api.user_text(user, "Ajukan Audiensi"), "Apa nama organisasi")
    await w.step(user, lambda: api.user_text(user, org), "Apa jenis organisasi")
    await w.step(user, lambda: api.user_press_button(user, "Karang Taruna"), "nomor registrasi")
    await w.step(user, lambda: api.user_press_button(user, "Lewati"), "nama lengkap")
    await w.step(user, lambda: api.user_text(user, "Andi Rahmat Hidayat"), "jabatan")
    phone_prompt = await w.step(user, lambda: api.user_text(user, "Ketua"), "nomor telepon")
    assert phone_prompt.reply_markup is not None
    assert phone_prompt.reply_markup["keyboard"][0][0]["request_contact"] is True
    await w.step(user, lambda: api.user_contact(user, "6281234567890"), "Pejabat mana")
    await w.step(user, lambda: api.user_press_button(user, "Wakil Wali Kota Makassar"), "perihal")
    await w.step(user, lambda: api.user_text(user, "Silaturahmi dan pelaporan pelantikan pengurus baru"), "jelaskan")
    await w.step(
        user,
        lambda: api.user_text(user, description),
        "Berapa orang",
    )
    await w.step(user, lambda: api.user_text(user, "5"), "paling banyak tiga waktu")
    await w.step(user, lambda: api.user_press_button(user, "Rabu, 25 November 2026"), "Waktu yang masih kosong")
    await w.step(user, lambda: api.user_press_button(user, "09.00"), "Sudah dipilih")
    await w.step(user, lambda: api.user_press_button(user, "Selesai"), "nomor surat")
    await w.step(user, lambda: api.user_text(user, "005/12/KT-MKS/XI/2026"), "Mohon kirim surat permohonan")
    content = b"%PDF-1.4 surat permohonan"
    await w.step(
        user,
        lambda: api.user_document(user, "surat-permohonan.pdf", "application/pdf", content=content),
        "Mohon periksa kembali",
    )
    done = await w.step(user, lambda: api.user_press_button(user, "Kirim"), "kode permohonan")
    return done.text.split("kode permohonan ")[1].split(".")[0]


def labels(message: SentMessage | None) -> list[str]:
    return [text for row in message.button_texts for text in row] if message else []


async def card_of(w: World, reference: str) -> SentMessage:
    return await w.api.wait_for(
        lambda: next(
            (
                m
                for m in w.api.messages_to(STAFF_GROUP)
                if f"Permohonan audiensi {reference}" in m.text and "Permohonan audiensi baru" in m.text
            ),
            None,
        ),
        description="the staff card",
    )


async def approve_first_preferred_time(world: World, card: SentMessage) -> None:
    """A staff member approves in the group: the first preferred time, the official's room, confirm."""
    api = world.api
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Setujui"), STAFF_GROUP),
        "pilih salah satu waktu",
    )
    times = api.last_message_to(STAFF_GROUP)
    assert times is not None
    await world.step(STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, labels(times)[0], STAFF_GROUP), "Di mana")
    place = api.last_message_to(STAFF_GROUP)
    assert place is not None
    await world.step(STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, labels(place)[0], STAFF_GROUP), "Setujui")
    await world.step(STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Setujui", STAFF_GROUP), "Keputusan")


async def test_a_representative_requests_and_staff_get_a_card_with_buttons(world: World) -> None:
    reference = await request_audience(world)
    assert reference == "AUD-2026-000001"
    card = await card_of(world, reference)
    for shown in (
        "Karang Taruna Kelurahan Maccini",
        "belum terdaftar",
        "Andi Rahmat Hidayat",
        "0812-3456-7890",
        "Wakil Wali Kota Makassar",
        "5 orang",
        "Rabu, 25 November 2026 pukul 09.00 WITA",
        "005/12/KT-MKS/XI/2026",
        "surat-permohonan.pdf (PDF",
    ):
        assert shown in card.text, shown
    assert labels(card) == ["Setujui", "Tolak", "Minta Info", "Usulkan Waktu Lain", "Disposisi", "Lihat Surat"]
    assert all(len(card.button_data(label).encode()) <= 64 for label in labels(card))
    # A pressed keyboard is closed in place, with the choice written under the question.
    pressed = next(m for m in world.api.messages_to(REP) if "Apa jenis organisasi" in m.text)
    assert "✓ Karang Taruna" in pressed.text and not labels(pressed)
    assert world.api.unanswered_callback_queries() == []


async def test_commands_are_set_in_indonesian(world: World) -> None:
    assert_command_menus(world.api)


def assert_command_menus(api: FakeTelegramAPI) -> None:
    """Representatives' commands in private chats, staff's in the staff group; Indonesian, default and "id"."""
    for language in ("", "id"):
        private = {c["command"]: c["description"] for c in api.commands({"type": "all_private_chats"}, language)}
        assert list(private) == ["mulai", "ajukan", "status", "batal", "bantuan"]
        assert private["ajukan"] == "Ajukan Audiensi"
        staff = {c["command"]: c["description"] for c in api.commands({"type": "chat", "chat_id": STAFF_GROUP},
                                                                       language)}  # fmt: skip
        assert list(staff) == ["antrean", "libur", "batal", "bantuan"]
        assert staff["antrean"] == "Permohonan yang menunggu keputusan"


async def test_staff_approve_in_the_group_and_the_card_is_edited_in_place(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Setujui"), STAFF_GROUP),
        "pilih salah satu waktu",
    )
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press_button(PROTOKOL_ID, "Rabu, 25 November 2026 pukul 09.00 WITA", STAFF_GROUP),
        "Di mana audiensi",
    )
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press_button(PROTOKOL_ID, "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota", STAFF_GROUP),
        "Setujui audiensi ini?",
    )
    await world.step(
        STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Setujui", STAFF_GROUP), "Keputusan tersimpan"
    )
    edited = await api.wait_for(
        lambda: next(
            (m for m in api.messages_to(STAFF_GROUP) if m.message_id == card.message_id and "Disetujui" in m.text), None
        )
    )
    assert "Keputusan terakhir oleh Petugas Protokol" in edited.text
    assert labels(edited) == ["Terlaksana", "Tidak hadir", "Ditunda", "Disposisi", "Lihat Surat"]  # what remains
    told = await api.wait_for_message(REP, "telah disetujui")
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" in told.text
    # An old button pressed after the decision: an alert naming who decided and when; nothing changes.
    api.user_press(KESBANGPOL_ID, card.message_id, "g:reject:1", STAFF_GROUP, check_button=False)
    alert = await api.wait_for(lambda: next((a for a in api.callback_answers() if a.get("show_alert")), None))
    assert "sudah ditangani" in alert["text"] and "Petugas Protokol" in alert["text"]
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.status is RequestStatus.APPROVED
    assert request.decided_by == "Petugas Protokol"


async def test_staff_reject_with_a_reason_asked_by_force_reply(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    question = await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Tolak"), STAFF_GROUP),
        "alasannya",
    )
    assert question.reply_markup == {"force_reply": True, "selective": True}
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(
            PROTOKOL_ID, STAFF_GROUP, question.message_id, "Jadwal Wakil Wali Kota penuh hingga akhir tahun."
        ),
        "Tolak permohonan ini",
    )
    await world.step(
        STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Tolak", STAFF_GROUP), "Keputusan tersimpan"
    )
    told = await api.wait_for_message(REP, "tidak dapat dipenuhi")
    assert "Jadwal Wakil Wali Kota penuh hingga akhir tahun." in told.text


async def test_staff_ask_for_information_and_the_answer_comes_back_to_the_card(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    question = await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Minta Info"), STAFF_GROUP),
        "Informasi apa",
    )
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(
            PROTOKOL_ID, STAFF_GROUP, question.message_id, "Mohon kirim SK kepengurusan yang berlaku."
        ),
        "Kirim pertanyaan ini kepada perwakilan",
    )
    await world.step(
        STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Kirim pertanyaan", STAFF_GROUP), "Keputusan tersimpan"
    )
    await api.wait_for_message(REP, "Mohon kirim SK kepengurusan")
    await world.step(REP, lambda: api.user_press_button(REP, "Jawab"), "Mohon ketik jawaban")
    await world.step(REP, lambda: api.user_text(REP, "SK nomor 12/KT/2026 kami kirim lewat surel."), "diteruskan")
    note = await api.wait_for_message(STAFF_GROUP, "Perwakilan telah menjawab untuk")
    assert note.message_id != card.message_id and "SK nomor 12/KT/2026" in note.text
    refreshed = await api.wait_for(
        lambda: next(
            (
                m
                for m in api.messages_to(STAFF_GROUP)
                if m.message_id == card.message_id and "Menunggu keputusan" in m.text and labels(m)
            ),
            None,
        )
    )
    assert labels(refreshed) == ["Setujui", "Tolak", "Minta Info", "Usulkan Waktu Lain", "Disposisi", "Lihat Surat"]
    assert "Mohon kirim SK kepengurusan yang berlaku." in refreshed.text  # the question and its answer stay
    assert "“SK nomor 12/KT/2026 kami kirim lewat surel.”" in refreshed.text


async def test_a_non_staff_press_gets_an_alert_and_changes_nothing(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    api.user_press(STRANGER, card.message_id, card.button_data("Setujui"), STAFF_GROUP)
    alert = await api.wait_for(lambda: next((a for a in api.callback_answers() if a.get("show_alert")), None))
    assert "petugas terdaftar" in alert["text"]
    assert "Menunggu keputusan" in (api.messages_to(STAFF_GROUP)[0].text)


async def test_two_staff_pressing_at_the_same_moment_make_exactly_one_decision(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, "g:approve:1", STAFF_GROUP),
        "pilih salah satu waktu",
    )
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press_button(PROTOKOL_ID, "Rabu, 25 November 2026 pukul 09.00 WITA", STAFF_GROUP),
        "Di mana audiensi",
    )
    await world.step(
        STAFF_GROUP,
        lambda: api.user_press_button(PROTOKOL_ID, "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota", STAFF_GROUP),
        "Setujui audiensi ini?",
    )
    approve_summary = api.last_message_to(STAFF_GROUP)
    assert approve_summary is not None
    question = await world.step(
        STAFF_GROUP, lambda: api.user_press(KESBANGPOL_ID, card.message_id, "g:reject:1", STAFF_GROUP), "alasannya"
    )
    reject_summary = await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(
            KESBANGPOL_ID, STAFF_GROUP, question.message_id, "Mohon bertemu Kepala Kesbangpol saja."
        ),
        "Tolak permohonan",
    )
    # Both final buttons are pressed before the bot reads either update.
    api.user_press(PROTOKOL_ID, approve_summary.message_id, approve_summary.button_data("Setujui"), STAFF_GROUP)
    api.user_press(KESBANGPOL_ID, reject_summary.message_id, reject_summary.button_data("Tolak"), STAFF_GROUP)
    await api.wait_for(
        lambda: (
            len([m for m in api.messages_to(STAFF_GROUP) if "Keputusan tersimpan" in m.text]) == 1
            and any(a.get("show_alert") for a in api.callback_answers())
        )
    )
    await asyncio.sleep(0.3)
    assert len([m for m in api.messages_to(STAFF_GROUP) if "Keputusan tersimpan" in m.text]) == 1
    assert "sudah ditangani" in next(a for a in api.callback_answers() if a.get("show_alert"))["text"]

    def decision_notices() -> int:
        return len([m for m in api.messages_to(REP) if "Kabar baik" in m.text or "tidak dapat dipenuhi" in m.text])

    await api.wait_for(lambda: decision_notices() == 1)
    await asyncio.sleep(0.3)
    assert decision_notices() == 1


async def test_queue_in_the_group_opens_cards(world: World) -> None:
    api = world.api
    await request_audience(world)
    queue = await world.step(
        STAFF_GROUP,
        lambda: api.user_text(PROTOKOL_ID, "/antrian", STAFF_GROUP),
        "menunggu keputusan, dimulai dari yang terlama",
    )
    label = labels(queue)[0]
    assert label.startswith("AUD-2026-000001")
    opened = await world.step(
        STAFF_GROUP,
        lambda: api.user_press_button(PROTOKOL_ID, label, STAFF_GROUP),
        "Permohonan audiensi AUD-2026-000001",
    )
    assert labels(opened) == ["Setujui", "Tolak", "Minta Info", "Usulkan Waktu Lain", "Disposisi", "Lihat Surat"]


async def test_blocked_representative_is_shown_to_staff_as_unreachable(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    api.block_chat(REP)
    await world.step(
        STAFF_GROUP, lambda: api.user_press(PROTOKOL_ID, card.message_id, "g:info:1", STAFF_GROUP), "Informasi apa"
    )
    question = api.last_message_to(STAFF_GROUP)
    assert question is not None
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(PROTOKOL_ID, STAFF_GROUP, question.message_id, "Mohon kirim SK kepengurusan."),
        "Kirim pertanyaan ini kepada perwakilan",
    )
    await world.step(
        STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Kirim pertanyaan", STAFF_GROUP), "Keputusan tersimpan"
    )
    flagged = await api.wait_for(
        lambda: next(
            (
                m
                for m in api.messages_to(STAFF_GROUP)
                if m.message_id == card.message_id and "tidak dapat dihubungi" in m.text
            ),
            None,
        ),
        timeout=8,
    )
    assert "memblokir bot" in flagged.text


async def test_telegram_answering_429_is_waited_out(world: World) -> None:
    api = world.api
    api.fail_next("sendMessage", status=429, retry_after=1)
    await world.step(REP, lambda: api.user_text(REP, "/start"), "Selamat datang")
    assert [c for c in api.requests if c.method == "sendMessage" and c.status == 429]


async def test_telegram_5xx_is_retried(world: World) -> None:
    api = world.api
    api.fail_next("sendMessage", status=502, times=2)
    await world.step(REP, lambda: api.user_text(REP, "/start"), "Selamat datang")


async def test_markup_typed_by_a_person_is_shown_verbatim(world: World) -> None:
    api = world.api
    await world.step(REP, lambda: api.user_text(REP, "/ajukan"), "Apa nama organisasi")
    await world.step(REP, lambda: api.user_text(REP, "<b>Karang</b> *Taruna* _[x](y)_"), "Apa jenis organisasi")
    await world.step(REP, lambda: api.user_text(REP, "/kembali"), "<b>Karang</b> *Taruna* _[x](y)_")


async def test_letter_files_too_large_or_of_another_type_are_refused(world: World) -> None:
    api = world.api
    await request_audience_until_letter(world)
    await world.step(
        REP,
        lambda: api.user_document(REP, "surat.docx", "application/msword", content=b"x"),
        "Hanya berkas PDF, JPEG, atau PNG yang dapat diterima",
    )
    await world.step(
        REP, lambda: api.user_document(REP, "surat.pdf", "application/pdf", size=11 * 1024 * 1024), "melebihi 10 MB"
    )
    await world.step(REP, lambda: api.user_photo(REP), "Mohon periksa kembali")


async def request_audience_until_letter(w: World) -> None:
    api = w.api
    await w.step(REP, lambda: api.user_text(REP, "/ajukan"), "Apa nama organisasi")
    for said, expected in (
        *FORM_TO_ATTENDEES,
        ("5", "tiga waktu"),
        ("1", "Waktu yang masih kosong"),  # the first date (typed, as its number)
        ("9", "pukul 09.00 WITA — benar?"),  # a typed hour at the times: Telegram's buttons carry no numbers
        ("Ya, benar", "Sudah dipilih"),
        ("Selesai", "nomor surat"),
        ("005/12/KT/2026", "Mohon kirim surat"),
    ):
        await w.step(REP, lambda said=said: api.user_text(REP, said), expected)


async def test_a_deep_link_preselects_the_official(world: World) -> None:
    api = world.api
    await world.step(REP, lambda: api.user_text(REP, "/start wakil-walikota"), "Wakil Wali Kota Makassar")
    for said, expected in (
        ("Karang Taruna Maccini", "jenis"),
        ("4", "registrasi"),
        ("lewati", "nama lengkap"),
        ("Andi Rahmat", "jabatan"),
        ("Ketua", "telepon"),
    ):
        await world.step(REP, lambda said=said: api.user_text(REP, said), expected)
    await world.step(REP, lambda: api.user_text(REP, "0812-3456-7890"), "Apa perihal")


async def test_the_webhook_checks_its_secret_and_handles_a_redelivered_update_once(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    from bot.web import create_web_app

    async with (
        running_bot(telegram_api, tmp_path, FakeClock(START), polling=False) as w,
        serving(create_web_app(w.app, w.channel, deliver=False)) as base_url,
    ):
        url = f"{base_url}/telegram/webhook"
        update = telegram_api.make_text_update(REP, "/start")
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=update)
            wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "salah"})
            assert (refused.status_code, wrong.status_code) == (403, 403)
            assert telegram_api.messages_to(REP) == []
            async with w.app.sessions() as session:
                assert await count_rows(session, ProcessedEventRow) == 0
                assert await count_rows(session, ConversationRow) == 0
            headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            first = await client.post(url, json=update, headers=headers)
            second = await client.post(url, json=update, headers=headers)
            assert (first.status_code, second.status_code) == (200, 200)
            assert (await client.post(url, content=b"{not json", headers=headers)).status_code == 400
            health = await client.get(f"{base_url}/healthz")
            assert health.json() == {"status": "ok"}
        welcomes = [m for m in telegram_api.messages_to(REP) if "Selamat datang" in m.text]
        assert len(welcomes) == 1


async def test_replies_are_kept_while_telegram_is_down_and_sent_when_it_is_back(world: World) -> None:
    api = world.api
    api.fail_next("sendMessage", status=502, times=8)  # longer than the immediate retries
    api.user_text(REP, "/start")
    await api.wait_for(lambda: len([r for r in api.requests if r.method == "sendMessage"]) >= 8, timeout=15)
    assert not any("Selamat datang" in m.text for m in api.messages_to(REP))

    async def failure_recorded() -> bool:  # its retry time counts from the failure: move the clock only after it
        async with world.app.sessions() as session:
            rows = (await session.execute(select(OutboxRow))).scalars().all()  # type: ignore[arg-type]
        return any(r.kind == "reply" and r.state == "pending" and r.last_error for r in rows)

    for _ in range(200):
        if await failure_recorded():
            break
        await asyncio.sleep(0.05)
    world.clock.advance(minutes=10)  # the delivery loop's backoff has passed
    await api.wait_for_message(REP, "Selamat datang", timeout=10)
    await api.wait_for_message(REP, "Apa yang ingin Bapak/Ibu lakukan?", timeout=10)


async def test_the_cli_sets_the_webhook_with_its_secret(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT
    from tests.e2e.telegram_world import settings_for

    settings = settings_for(telegram_api, tmp_path)
    env = {
        **os.environ,
        "AUDIENSI_TELEGRAM_TOKEN": telegram_api.token,
        "AUDIENSI_TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "AUDIENSI_TELEGRAM_FILE_BASE_URL": settings.telegram_file_base_url,
        "AUDIENSI_TELEGRAM_WEBHOOK_URL": "https://audiensi.example.go.id/telegram/webhook",
        "AUDIENSI_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUDIENSI_TELEGRAM_STAFF_CHAT_ID": str(STAFF_GROUP),
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
    }
    command = [sys.executable, "-m", "bot", "telegram", "set-webhook"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert telegram_api.webhook()["url"] == "https://audiensi.example.go.id/telegram/webhook"
    assert telegram_api.webhook()["secret_token"] == WEBHOOK_SECRET
    assert telegram_api.token not in done.stdout + done.stderr  # the token never reaches the logs
    assert_command_menus(telegram_api)


async def test_staff_can_use_the_queue_in_a_private_chat_too(world: World) -> None:
    api = world.api
    await request_audience(world)
    queue = await world.step(PROTOKOL_ID, lambda: api.user_text(PROTOKOL_ID, "/antrian"), "dimulai dari yang terlama")
    card = await world.step(
        PROTOKOL_ID, lambda: api.user_press_button(PROTOKOL_ID, labels(queue)[0]), "Status: Menunggu keputusan"
    )
    assert labels(card)[:3] == ["Setujui", "Tolak", "Minta Info"]
    # A representative typing the same command is not shown the queue.
    reply = await world.step(REP, lambda: api.user_text(REP, "/antrian"), "tidak dikenal")
    assert "AUD-2026-000001" not in reply.text


async def test_the_reminder_arrives_the_working_day_before_with_buttons_that_work(world: World) -> None:
    from datetime import datetime

    from tests.harness import MAKASSAR

    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await approve_first_preferred_time(world, card)
    await api.wait_for_message(REP, "telah disetujui")
    world.clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=MAKASSAR))  # the working day before, at 09.00 WITA
    reminder = await api.wait_for(
        lambda: next((m for m in api.messages_to(REP) if "Hadir" in labels(m)), None), timeout=8
    )
    assert "AUD-2026-000001" in reminder.text and "Rabu, 25 November 2026 pukul 09.00 WITA" in reminder.text
    assert "Ruang Kerja Wakil Wali Kota" in reminder.text
    thanks = await world.step(REP, lambda: api.user_press_button(REP, "Hadir"), "Terima kasih")
    assert "Rabu, 25 November 2026" in thanks.text


async def test_the_agenda_goes_to_the_group_and_to_an_aide_in_private(world: World) -> None:
    from datetime import datetime

    from tests.harness import MAKASSAR

    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await approve_first_preferred_time(world, card)
    world.clock.set(datetime(2026, 11, 24, 16, 0, tzinfo=MAKASSAR))  # the afternoon before the audience
    async with world.app.new_uow() as uow:
        await world.app.service.reminders.run_digests(uow, world.clock.now())
        await uow.commit()
    group = await api.wait_for_message(STAFF_GROUP, "Agenda besok")
    # Kesbangpol's officer acts for the Kesbangpol head and the Wakil Wali Kota: the agenda reaches them in private.
    aide = await api.wait_for_message(KESBANGPOL_ID, "Agenda besok")
    for digest in (group, aide):
        assert "Karang Taruna Kelurahan Maccini" in digest.text and "5 orang" in digest.text


# ---- failures, limits and concurrency ----------------------------------------------------------------------


async def seed_requests(w: World, count: int, *, official: str = "wakil-walikota") -> None:
    """Pending requests stored directly (as if made earlier), all for 25 November 2026 09.00 WITA."""
    from datetime import datetime, timedelta

    from handlers.domain.model import Address
    from handlers.usecases.requests import submit_request
    from tests.harness import MAKASSAR

    moment = datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR)
    async with w.app.new_uow() as uow:
        for number in range(count):
            answers = {"org_name": f"Organisasi Uji {number + 1:03d}", "org_type": "karang_taruna",
                       "rep_name": f"Perwakilan {number}", "rep_phone": "+6281234567890", "rep_position": "Ketua",
                       "official": official, "subject": "Silaturahmi pengurus baru",
                       "description": "Pelaporan pengurus baru organisasi", "attendees": 5,
                       "preferred_times": [moment.isoformat()]}  # fmt: skip
            await submit_request(uow, contact=Address("telegram", str(60000 + number)), answers=answers,
                                 now=w.clock.now() - timedelta(minutes=count - number), tz=MAKASSAR)  # fmt: skip
        await uow.commit()


async def outbox_rows(w: World) -> list[tuple[str, str, str, str | None]]:
    from sqlalchemy import select

    from storage.tables import OutboxRow

    async with w.app.sessions() as session:
        rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().all()  # type: ignore[arg-type]
        return [(r.kind, r.external_id, r.state, r.last_error) for r in rows]


async def at_the_organization_type(w: World, user: int = REP) -> SentMessage:
    await w.step(user, lambda: w.api.user_text(user, "/ajukan"), "Apa nama organisasi")
    return await w.step(user, lambda: w.api.user_text(user, "Karang Taruna Kelurahan Maccini"), "Apa jenis organisasi")


async def test_a_press_is_followed_by_its_next_question_even_when_answering_it_and_closing_fail(world: World) -> None:
    api = world.api
    await at_the_organization_type(world)
    api.fail_next("answerCallbackQuery", status=502, times=4)
    api.fail_next("editMessageText", status=502, times=4)
    await world.step(REP, lambda: api.user_press_button(REP, "Karang Taruna"), "nomor registrasi")


async def test_a_press_that_cannot_be_handled_gets_an_apology_and_no_personal_data_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    api = world.api
    await at_the_organization_type(world)
    async with world.app.engine.begin() as connection:  # the database refuses to save conversations
        await connection.execute(text("CREATE TRIGGER refuse BEFORE UPDATE ON conversation "
                                      "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"))  # fmt: skip
    with caplog.at_level(logging.INFO):
        api.user_press_button(REP, "Karang Taruna")
        alert = await api.wait_for(lambda: next((a for a in api.callback_answers() if a.get("show_alert")), None))
    assert "Mohon maaf, terjadi kendala" in alert["text"]
    assert api.unanswered_callback_queries() == []
    assert "could not be handled" in caplog.text
    assert "Maccini" not in caplog.text  # what the person typed stays out of the logs
    async with world.app.engine.begin() as connection:
        await connection.execute(text("DROP TRIGGER refuse"))
    await world.step(REP, lambda: api.user_press_button(REP, "Karang Taruna"), "nomor registrasi")
    # A typed message that fails is answered with the same apology in the chat.
    async with world.app.engine.begin() as connection:
        await connection.execute(text("CREATE TRIGGER refuse BEFORE UPDATE ON conversation "
                                      "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"))  # fmt: skip
    await world.step(REP, lambda: api.user_text(REP, "lewati"), "Mohon maaf, terjadi kendala")


async def test_a_database_error_in_the_logs_shows_no_personal_data(world: World) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    personal = '{"rep_name": "Andi Rahmat Hidayat", "rep_phone": "+6281234567890"}'
    with pytest.raises(DBAPIError) as failed:
        async with world.app.engine.begin() as connection:
            await connection.execute(text("UPDATE conversation SET no_such_column = :state"), {"state": personal})
    logged = str(failed.value)
    assert "UPDATE conversation" in logged and "hidden" in logged
    assert "Andi Rahmat" not in logged and "6281234567890" not in logged


async def test_removing_the_bot_from_the_staff_group_fails_its_notices_once_without_a_loop(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    api = world.api
    api.remove_bot_from_group(STAFF_GROUP)
    with caplog.at_level(logging.INFO):
        await request_audience(world)
        for _ in range(100):
            rows = await outbox_rows(world)
            if any(k == "new_request" and e == str(STAFF_GROUP) and s == "failed" for k, e, s, _ in rows):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # several delivery rounds
    rows = await outbox_rows(world)
    to_group = [r for r in rows if r[1] == str(STAFF_GROUP)]
    assert [(k, s) for k, _, s, _ in to_group] == [("new_request", "failed")]
    assert "Forbidden" in (to_group[0][3] or "")
    assert not [r for r in rows if r[0] == "unreachable"]
    assert len([c for c in api.calls("sendMessage") if c["chat_id"] == STAFF_GROUP]) == 1
    logged = [r for r in caplog.records if "cannot write to staff chat" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR


async def test_polling_goes_on_after_a_409_conflict_and_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    api = world.api
    with caplog.at_level(logging.WARNING):
        conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        api.fail_next("getUpdates", status=409, description=conflict)
        await api.wait_for(lambda: api.calls("getUpdates", ok=False) or None)
        api.fail_next("getUpdates", status=429, retry_after=1)
        await world.step(REP, lambda: api.user_text(REP, "/start"), "Selamat datang", wait_seconds=12)
    assert "another process is polling with this bot token, or a webhook is set" in caplog.text


async def test_a_staff_group_that_became_a_supergroup_still_gets_its_cards(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    api = world.api
    supergroup = -1009876543210
    api.migrate_group(STAFF_GROUP, supergroup)
    with caplog.at_level(logging.WARNING):
        reference = await request_audience(world)
        card = await api.wait_for_message(supergroup, f"Permohonan audiensi {reference}")
    assert labels(card)[:2] == ["Setujui", "Tolak"]
    assert f"AUDIENSI_TELEGRAM_STAFF_CHAT_ID={supergroup}" in caplog.text


async def test_a_row_that_cannot_be_sent_is_failed_with_its_reason_and_the_next_ones_still_go(world: World) -> None:
    from handlers.domain.model import Address
    from handlers.messages import Choice, Option, Text

    service = world.app.service
    too_long = Choice("Pilih salah satu.", (Option("x" * 70, "Tombol"),))
    await service.owe(Address("telegram", str(REP)), [too_long])
    await service.owe(Address("telegram", str(REP)), [Text("Pesan berikutnya tetap terkirim.")])
    await world.api.wait_for_message(REP, "Pesan berikutnya tetap terkirim.")
    for _ in range(500):  # the row is marked once Telegram's answer is back, a moment after the message arrived
        rows = await outbox_rows(world)
        if rows[1][2] == "sent":
            break
        await asyncio.sleep(0.01)
    assert rows[0][2] == "failed" and "callback data over 64 bytes" in (rows[0][3] or "")
    assert rows[1][2] == "sent"


async def test_a_deleted_card_is_posted_again_and_later_notices_edit_the_new_one(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    question = await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Minta Info"), STAFF_GROUP),
        "Informasi apa",
    )
    api.delete_message(STAFF_GROUP, card.message_id)  # an admin tidies the group
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(PROTOKOL_ID, STAFF_GROUP, question.message_id, "Mohon kirim SK kepengurusan."),
        "Kirim pertanyaan ini kepada perwakilan",
    )
    await world.step(
        STAFF_GROUP, lambda: api.user_press_button(PROTOKOL_ID, "Kirim pertanyaan", STAFF_GROUP), "Keputusan tersimpan"
    )

    def new_card() -> SentMessage | None:
        visible = api.messages_to(STAFF_GROUP, include_deleted=False)
        heading = f"Permohonan audiensi {reference}\n"
        return next((m for m in visible if m.message_id != card.message_id and heading in m.text), None)

    posted = await api.wait_for(new_card, description="a new card")
    assert "Mohon kirim SK kepengurusan." in posted.text
    await api.wait_for_message(REP, "Mohon kirim SK kepengurusan")
    await world.step(REP, lambda: api.user_press_button(REP, "Jawab"), "Mohon ketik jawaban")
    await world.step(REP, lambda: api.user_text(REP, "SK nomor 12/KT/2026 kami kirim lewat surel."), "diteruskan")
    await api.wait_for(
        lambda: next(
            (
                m
                for m in api.messages_to(STAFF_GROUP)
                if m.message_id == posted.message_id and "Menunggu keputusan" in m.text and labels(m)
            ),
            None,
        ),
        description="the new card edited",
    )


async def test_a_long_queue_shows_twenty_buttons_and_how_to_open_the_others(world: World) -> None:
    api = world.api
    await seed_requests(world, 60)  # the queue lists the oldest 50
    queue = await world.step(STAFF_GROUP, lambda: api.user_text(PROTOKOL_ID, "/antrian", STAFF_GROUP), "tanpa tombol")
    assert len(labels(queue)) == 20 and labels(queue)[0].startswith("AUD-2026-000001")
    shown = "\n".join(m.text for m in api.messages_to(STAFF_GROUP))
    assert "30 lainnya tercantum di bawah tanpa tombol: mohon balas pesan ini dengan nomor" in shown
    assert "25. AUD-2026-000025 — Organisasi Uji 025" in shown
    await world.step(
        STAFF_GROUP,
        lambda: api.user_reply(PROTOKOL_ID, STAFF_GROUP, queue.message_id, "25"),
        "Permohonan audiensi AUD-2026-000025",
    )


async def test_a_long_card_is_shortened_and_keeps_its_status_lines(world: World) -> None:
    api = world.api
    await seed_requests(world, 30)  # 30 clashes listed on the card
    words = "Kami ingin melaporkan susunan pengurus baru serta menjajaki kerja sama program kepemudaan."
    reference = await request_audience(world, description=(words + " ") * 16)
    card = await card_of(world, reference)
    assert len(card.text) <= 4096
    assert "Status: Menunggu keputusan" in card.text and "Diajukan:" in card.text
    assert "…" in card.text and card.text.rstrip().endswith("meminta waktu yang sama.")
    await approve_first_preferred_time(world, card)
    edited = await api.wait_for(
        lambda: next(
            (
                m
                for m in api.messages_to(STAFF_GROUP)
                if m.message_id == card.message_id and "Keputusan terakhir oleh Petugas Protokol" in m.text
            ),
            None,
        ),
    )
    assert len(edited.text) <= 4096


async def test_a_staff_member_can_type_a_time_in_the_group_and_is_told_to_reply(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    times = await world.step(
        STAFF_GROUP,
        lambda: api.user_press(PROTOKOL_ID, card.message_id, card.button_data("Setujui"), STAFF_GROUP),
        "pilih salah satu waktu",
    )
    assert "balas pesan ini" in times.text
    # With privacy mode off (or the bot an admin) plain text arrives too: it is this staff member's answer.
    await world.step(STAFF_GROUP, lambda: api.user_text(PROTOKOL_ID, "Kamis depan jam 10", STAFF_GROUP), "benar?")
    # Someone else chatting in the group is not taken as an answer.
    before = len(api.messages_to(STAFF_GROUP))
    api.user_text(KESBANGPOL_ID, "Baik, saya ikut hadir.", STAFF_GROUP)
    await asyncio.sleep(0.5)
    assert len(api.messages_to(STAFF_GROUP)) == before


async def test_the_web_mode_refuses_to_start_without_a_webhook_secret(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    for command in (["run"], ["web", "--port", "0"]):
        done = await run_cli(telegram_api, tmp_path, command, secret=None)
        assert done.returncode == 2, done.stderr
        assert "AUDIENSI_TELEGRAM_WEBHOOK_SECRET is not set" in done.stderr


async def run_cli(
    api: FakeTelegramAPI, tmp_path: Path, command: list[str], *, secret: str | None = WEBHOOK_SECRET
) -> Any:
    import os
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT
    from tests.e2e.telegram_world import settings_for

    settings = settings_for(api, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIENSI_")}
    env.update({
        "AUDIENSI_TELEGRAM_TOKEN": api.token,
        "AUDIENSI_TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "AUDIENSI_TELEGRAM_FILE_BASE_URL": settings.telegram_file_base_url,
        "AUDIENSI_TELEGRAM_WEBHOOK_URL": "https://audiensi.example.go.id/telegram/webhook",
        "AUDIENSI_TELEGRAM_STAFF_CHAT_ID": str(STAFF_GROUP),
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **({"AUDIENSI_TELEGRAM_WEBHOOK_SECRET": secret} if secret else {}),
    })  # fmt: skip
    argv = [sys.executable, "-m", "bot", *command]
    return await asyncio.to_thread(
        subprocess.run, argv, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )


async def test_the_web_process_sets_the_command_menus(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT
    from tests.e2e.telegram_world import settings_for

    settings = settings_for(telegram_api, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIENSI_")}
    env.update({
        "AUDIENSI_TELEGRAM_TOKEN": telegram_api.token,
        "AUDIENSI_TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "AUDIENSI_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUDIENSI_TELEGRAM_STAFF_CHAT_ID": str(STAFF_GROUP),
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
    })  # fmt: skip
    argv = [sys.executable, "-m", "bot", "web", "--host", "127.0.0.1", "--port", "0"]
    process = await asyncio.to_thread(
        subprocess.Popen, argv, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        await telegram_api.wait_for(
            lambda: telegram_api.commands({"type": "chat", "chat_id": STAFF_GROUP}, "id") or None, timeout=30
        )
        assert_command_menus(telegram_api)
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.communicate, timeout=20)


async def test_an_english_speaking_person_uses_the_menu_in_english(world: World) -> None:
    api = world.api
    menu = await world.step(REP, lambda: api.user_text(REP, "/start", language_code="en"), "What would you like")
    assert any("Welcome" in m.text for m in api.messages_to(REP))  # the very first reply is in English too
    assert not any("Selamat datang" in m.text for m in api.messages_to(REP))
    assert menu.reply_markup is not None
    assert next(b["text"] for row in menu.reply_markup["keyboard"] for b in row) == "Request an audience"
    await world.step(REP, lambda: api.user_text(REP, "Request an audience"), "name of your organization")
    # The menu's keyboard stays: its English labels work at any step, not as the organization's name.
    await world.step(REP, lambda: api.user_text(REP, "Request status"), "no audience requests yet")


async def test_a_viewer_pressing_a_card_button_is_refused_and_nothing_changes(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    api.user_press(VIEWER_ID, card.message_id, card.button_data("Setujui"), STAFF_GROUP)
    alert = await api.wait_for(lambda: next((a for a in api.callback_answers() if a.get("show_alert")), None))
    assert "tidak berwenang" in alert["text"]
    async with world.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.status is RequestStatus.SUBMITTED


async def test_a_timeout_on_send_message_is_retried(world: World) -> None:
    api = world.api
    api.delay_next("sendMessage", 6.0)  # longer than the client waits (5 s): TimedOut, then a retry
    await world.step(REP, lambda: api.user_text(REP, "/start"), "Apa yang ingin Bapak/Ibu lakukan?", wait_seconds=20)


async def test_a_redelivered_callback_query_acts_once(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    from bot.web import create_web_app

    async with (
        running_bot(telegram_api, tmp_path, FakeClock(START)) as w,
        serving(create_web_app(w.app, w.channel, deliver=False)) as base_url,
    ):
        await at_the_organization_type(w)
        asked = telegram_api.last_message_to(REP)
        assert asked is not None
        press = telegram_api.make_press_update(REP, asked.message_id, asked.button_data("Karang Taruna"))
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        async with httpx.AsyncClient(timeout=20) as client:
            for _ in range(2):
                assert (
                    await client.post(f"{base_url}/telegram/webhook", json=press, headers=headers)
                ).status_code == 200
        questions = [m for m in telegram_api.messages_to(REP) if "nomor registrasi" in m.text]
        assert len(questions) == 1
        assert (
            len([a for a in telegram_api.callback_answers() if a["callback_query_id"] == press["callback_query"]["id"]])
            == 1
        )


async def test_two_presses_at_the_same_instant_through_the_webhook_make_one_decision(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    from bot.web import create_web_app

    api = telegram_api
    async with (
        running_bot(api, tmp_path, FakeClock(START)) as w,
        serving(create_web_app(w.app, w.channel, deliver=False)) as base_url,
    ):
        reference = await request_audience(w)
        card = await card_of(w, reference)
        summaries = []
        for staff_id in (PROTOKOL_ID, KESBANGPOL_ID):
            await w.step(STAFF_GROUP, lambda staff_id=staff_id: api.user_press(staff_id, card.message_id,
                         card.button_data("Tolak"), STAFF_GROUP), "alasannya")  # fmt: skip
            question = api.last_message_to(STAFF_GROUP)
            assert question is not None
            summaries.append(await w.step(STAFF_GROUP, lambda staff_id=staff_id, question=question: api.user_reply(
                staff_id, STAFF_GROUP, question.message_id, "Jadwal pejabat penuh."), "Tolak permohonan"))  # fmt: skip
        presses = [
            api.make_press_update(staff_id, summary.message_id, summary.button_data("Tolak"), STAFF_GROUP)
            for staff_id, summary in zip((PROTOKOL_ID, KESBANGPOL_ID), summaries, strict=True)
        ]
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post(f"{base_url}/telegram/webhook", json=press, headers=headers) for press in presses)
            )
        assert [a.status_code for a in answers] == [200, 200]
        saved = [m for m in api.messages_to(STAFF_GROUP) if "Keputusan tersimpan" in m.text]
        assert len(saved) == 1
        refused = [a for a in api.callback_answers() if a.get("show_alert")]
        assert len(refused) == 1 and "sudah ditangani" in refused[0]["text"]
        async with w.app.new_uow() as uow:
            request = await uow.requests.get_by_reference(reference)
        assert request is not None and request.status is RequestStatus.REJECTED


async def test_a_representative_is_not_kept_waiting_behind_the_staff_group(world: World) -> None:
    api = world.api
    for _ in range(22):  # more than the 20 messages a minute Telegram allows in one group
        api.user_text(PROTOKOL_ID, "/antrian", STAFF_GROUP)
    await api.wait_for(lambda: len(api.messages_to(STAFF_GROUP)) == 20, description="the group's 20 for this minute")
    await world.step(REP, lambda: api.user_text(REP, "/start"), "Apa yang ingin Bapak/Ibu lakukan?")
    # The representative was answered while the group's last two replies wait for the next minute.
    assert len(api.messages_to(STAFF_GROUP)) == 20
