"""After the request, on Telegram: counter-offers, cancelling, moving, disposisi, postponing and days off.

The real bot client against the fake Bot API server on loopback. Staff decide in the staff group, the
representative answers in their private chat; each step asserts what the person sees in their chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from handlers.domain.model import RequestStatus
from tests.conftest import START
from tests.e2e.telegram_world import KESBANGPOL_ID, PROTOKOL_ID, STAFF_GROUP, World, running_bot
from tests.e2e.test_telegram import REP, approve_first_preferred_time, card_of, labels, request_audience
from tests.fakes.memory import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

GROUP = STAFF_GROUP
WED_0800 = "Rabu, 25 November 2026 pukul 08.00 WITA"
WED_0900 = "Rabu, 25 November 2026 pukul 09.00 WITA"
WAKIL_ROOM = "Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota"


@pytest.fixture
async def world(telegram_api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[World]:
    async with running_bot(telegram_api, tmp_path, FakeClock(START)) as running:
        yield running


# ---- helpers: one person's move, and what their chat shows next ---------------------------------------------


async def step(w: World, chat: int, action: Callable[[], Any], expect: str, *, asks: bool = False) -> SentMessage:
    """Do something, then wait for a new (or newly edited) message in `chat` showing `expect`; with `asks`, one
    that also offers buttons (the next question, not the closed keyboard of the one just answered)."""
    before = {m.message_id: (m.text, m.reply_markup) for m in w.api.messages_to(chat)}
    action()

    def arrived() -> SentMessage | None:
        for message in w.api.messages_to(chat, include_deleted=False):
            if (
                message.text is not None
                and expect in message.text
                and before.get(message.message_id) != (message.text, message.reply_markup)
                and (labels(message) or not asks)
            ):
                return message
        return None

    return await w.api.wait_for(arrived, timeout=8, description=f"{expect!r} in chat {chat}")


async def tap(w: World, user: int, label: str, expect: str, chat: int | None = None, *, asks: bool = False
              ) -> SentMessage:  # fmt: skip
    """`user` taps the newest button labelled `label` in `chat` (their private chat by default)."""
    where = user if chat is None else chat
    return await step(w, where, lambda: w.api.user_press_button(user, label, where), expect, asks=asks)


async def type_(w: World, user: int, text: str, expect: str, chat: int | None = None, *, asks: bool = False
                ) -> SentMessage:  # fmt: skip
    where = user if chat is None else chat
    return await step(w, where, lambda: w.api.user_text(user, text, chat), expect, asks=asks)


async def answer(w: World, user: int, question: SentMessage, text: str, expect: str) -> SentMessage:
    """A staff member answers the bot's question in the group by replying to it ("balas pesan ini")."""
    return await w.step(GROUP, lambda: w.api.user_reply(user, GROUP, question.message_id, text), expect)


async def press_on(w: World, user: int, message: SentMessage, label: str, expect: str) -> SentMessage:
    """`user` presses the button `label` on one particular message in the group."""
    data = message.button_data(label)
    return await w.step(GROUP, lambda: w.api.user_press(user, message.message_id, data, GROUP), expect)


async def card_showing(w: World, card: SentMessage, text: str) -> SentMessage:
    """The request's card in the group, once it has been edited to show `text`."""
    return await w.api.wait_for(
        lambda: next((m for m in w.api.messages_to(GROUP) if m.message_id == card.message_id and text in m.text), None),
        description=f"the card showing {text!r}",
    )


async def status_of(w: World, reference: str) -> RequestStatus:
    async with w.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None
    return request.status


async def propose_two_times(w: World, card: SentMessage) -> SentMessage:
    """Staff press "Usulkan Waktu Lain" on the card, pick two free times with buttons and send them."""
    offered = await press_on(w, PROTOKOL_ID, card, "Usulkan Waktu Lain", "Usulkan waktu lain untuk AUD-2026-000001")
    assert WED_0800 in labels(offered)
    second = await tap(w, PROTOKOL_ID, WED_0800, "Sudah dipilih", GROUP, asks=True)
    assert WED_0800 not in labels(second)  # a time already picked is not offered again
    await tap(w, PROTOKOL_ID, labels(second)[0], "Sudah dipilih", GROUP, asks=True)
    message = await tap(w, PROTOKOL_ID, "Selesai", "Pesan untuk perwakilan", GROUP)
    await answer(w, PROTOKOL_ID, message, "Pada waktu yang diminta Wakil Wali Kota ada agenda lain.", "Kirim usulan")
    return await tap(w, PROTOKOL_ID, "Kirim usulan", "Keputusan tersimpan", GROUP)


# ---- Usulkan Waktu Lain -------------------------------------------------------------------------------------


async def test_staff_propose_times_in_the_group_and_the_representative_taps_one(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await propose_two_times(world, card)
    await card_showing(world, card, "Diusulkan waktu lain")
    offer = await api.wait_for_message(REP, "Petugas mengusulkan waktu lain")
    assert "Pada waktu yang diminta Wakil Wali Kota ada agenda lain." in offer.text
    assert labels(offer)[0] == WED_0800 and labels(offer)[-1] == "Tolak usulan"

    told = await world.step(REP, lambda: api.user_press(REP, offer.message_id, offer.button_data(WED_0800)),
                            "telah disetujui")  # fmt: skip
    assert WED_0800 in told.text and WAKIL_ROOM in told.text
    edited = await card_showing(world, card, "Disetujui")
    assert labels(edited) == ["Terlaksana", "Tidak hadir", "Ditunda", "Disposisi"]
    assert await status_of(world, reference) is RequestStatus.APPROVED
    # The representative's answer is a reply to the card, not a second card.
    note = await api.wait_for_message(GROUP, "Perwakilan menerima waktu yang diusulkan untuk AUD-2026-000001")
    assert note.message_id != card.message_id and not labels(note)


async def test_the_representative_declines_the_proposal_and_staff_read_the_message_on_the_card(world: World) -> None:
    api = world.api
    reference = await request_audience(world)
    card = await card_of(world, reference)
    await propose_two_times(world, card)
    await api.wait_for_message(REP, "Petugas mengusulkan waktu lain")
    await tap(world, REP, "Tolak usulan", "menolak waktu yang diusulkan untuk AUD-2026-000001")
    await type_(world, REP, "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi.", "Petugas telah diberi tahu")
    edited = await card_showing(
        world, card, "Pesan dari perwakilan: Hari Rabu kami ada kegiatan; mohon hari Kamis pagi."
    )
    assert "Status: Menunggu keputusan" in edited.text
    assert labels(edited) == ["Setujui", "Tolak", "Minta Info", "Usulkan Waktu Lain", "Disposisi"]
    await api.wait_for_message(GROUP, "Perwakilan menolak waktu yang diusulkan untuk AUD-2026-000001")
    assert await status_of(world, reference) is RequestStatus.SUBMITTED
