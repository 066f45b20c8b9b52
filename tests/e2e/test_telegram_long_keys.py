"""Officials' keys as long as the city file allows (64 characters) and conversations that have asked a great many
questions: every keyboard the bot shows still fits Telegram's 64 bytes of callback data, and every button works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.conversation.state import ConversationState
from handlers.domain.model import Address
from tests.conftest import START
from tests.e2e.telegram_world import PROTOKOL_ID, STAFF_GROUP, World, city_with_telegram_staff, running_bot
from tests.e2e.test_telegram import REP, approve_first_preferred_time, card_of, labels, request_audience
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI

OFFICIALS = ("walikota", "wakil-walikota", "sekda", "kesbangpol", "dinsos")
LONGEST_KEY = 64  # bot/city_config.py: keys of 2–64 characters
SERIAL = 16**12 - 1  # far more questions than a conversation asks in a lifetime: a 12-digit stamp


def long_key(key: str) -> str:
    return (key + "-" + "x" * LONGEST_KEY)[:LONGEST_KEY]


@pytest.fixture
async def world(telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    config = city_with_telegram_staff(tmp_path)
    text = config.read_text(encoding="utf-8")
    for key in OFFICIALS:
        text = text.replace(f'"{key}"', f'"{long_key(key)}"')
    config.write_text(text, encoding="utf-8")
    async with running_bot(telegram_api, tmp_path, FakeClock(START), config_file=config) as running:
        async with running.app.new_uow() as uow:
            for address in (str(REP), f"{STAFF_GROUP}:{PROTOKOL_ID}", str(PROTOKOL_ID)):
                await uow.conversations.save(Address("telegram", address), ConversationState(serial=SERIAL))
            await uow.commit()
        yield running


def every_callback_data(api: FakeTelegramAPI) -> list[str]:
    """The callback data of every inline keyboard the bot sent or edited in, as Telegram received them."""
    found: list[str] = []
    for method in ("sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto"):
        for call in api.calls(method):
            markup: Any = call.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                found += [button["callback_data"] for button in row if "callback_data" in button]
    return found


async def test_every_keyboard_fits_with_the_longest_keys_and_a_large_serial(world: World) -> None:
    api = world.api
    # The representative's form: the official chosen by button (a 64-character key), dates, times, yes/no, the
    # summary, "change an answer" with its parts and answers, and the letter.
    reference = await request_audience(world)
    card = await card_of(world, reference)

    # Staff, in a private chat (the group's 20 messages a minute are kept for the approval below): the queue,
    # a card's buttons, a disposisi (the other officials: 64-character keys) with "change an answer", /libur.
    def press(label: str, expect: str, chat: int = PROTOKOL_ID) -> Any:
        return world.step(chat, lambda: api.user_press_button(PROTOKOL_ID, label, chat), expect)

    queue = await world.step(PROTOKOL_ID, lambda: api.user_text(PROTOKOL_ID, "/antrian"), "menunggu keputusan")
    await press(labels(queue)[0], f"Permohonan audiensi {reference}")
    officials = await press("Disposisi", "pejabat mana")
    assert "Sekretaris Daerah Kota Makassar" in labels(officials)
    await press("Sekretaris Daerah Kota Makassar", "Pesan untuk perwakilan")
    await press("Lewati", "Disposisikan permohonan ini")
    await press("Ubah jawaban", "Bagian mana")
    await press("Pejabat", "pejabat mana")
    summary = await press("Kepala Dinas Sosial", "Disposisikan permohonan ini")
    assert "Kepala Dinas Sosial" in summary.text
    await press("Batalkan", "Batalkan “Disposisi”?")
    await press("Ya, batalkan", "dibatalkan")
    await world.step(PROTOKOL_ID, lambda: api.user_text(PROTOKOL_ID, "/libur"), "libur")
    await press("Tambah hari libur", "Untuk pejabat mana")
    await press("Wakil Wali Kota Makassar", "Tanggal berapa")
    await world.step(PROTOKOL_ID, lambda: api.user_text(PROTOKOL_ID, "/batal"), "Batalkan")
    await press("Ya, batalkan", "dibatalkan")
    # In the group: the card's "Setujui", the times, the room, the confirmation.
    await approve_first_preferred_time(world, card)
    sent = every_callback_data(api)
    assert sent and all(len(data.encode()) <= 64 for data in sent), [d for d in sent if len(d.encode()) > 64]
    assert any(data.startswith("h:") for data in sent)  # the long keys did go out, hashed
    assert not [c for c in api.requests if c.status == 400]
