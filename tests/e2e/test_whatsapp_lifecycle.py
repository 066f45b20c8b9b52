"""After the request, on WhatsApp: a counter-offer taken up with a tap, a cancellation, a staff decision.

Signed webhooks in Meta's format to our web app, replies to the fake Graph API server on loopback. Every tap is
the id the bot itself put on a reply button or list row (stamped to its question), read from what was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.domain.model import RequestStatus
from tests.conftest import START
from tests.e2e.whatsapp_world import REP, STAFF_WA, WaWorld, running_whatsapp, shown, whole_request
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.memory import FakeClock

Record = dict[str, Any]


@pytest.fixture
async def wa(graph_api: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[WaWorld]:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START)) as world:
        yield world


def choices(record: Record) -> dict[str, str]:
    """The reply buttons or list rows a message shows: title -> id."""
    action = record["payload"].get("interactive", {}).get("action", {})
    found = {b["reply"]["title"]: b["reply"]["id"] for b in action.get("buttons", [])}
    for section in action.get("sections", []):
        found |= {row["title"]: row["id"] for row in section["rows"]}
    return found


async def tap(w: WaWorld, who: str, record: Record, title: str, expect: str) -> Record:
    """`who` taps the button or list row titled `title` (or starting with it) on the message `record`."""
    shown_choices = choices(record)
    chosen = next((t for t in shown_choices if t == title), None) or next(
        (t for t in shown_choices if t.startswith(title)), None
    )
    assert chosen is not None, f"no {title!r} among {list(shown_choices)}"
    hooks = w.graph.webhooks
    if record["payload"]["interactive"]["type"] == "list":
        inbound = hooks.list_reply(who, shown_choices[chosen], chosen, context_message_id=record["id"])
    else:
        inbound = hooks.button_reply(who, shown_choices[chosen], chosen, context_message_id=record["id"])
    return await w.say(inbound, who, expect)


async def write(w: WaWorld, who: str, text: str, expect: str) -> Record:
    return await w.say(w.graph.webhooks.text_message(who, text), who, expect)


async def status_of(w: WaWorld, reference: str) -> RequestStatus:
    async with w.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None
    return request.status


async def staff_open_the_card(w: WaWorld) -> Record:
    """The staff member on WhatsApp never wrote: the new card comes as the template; its button opens the card."""
    template = await w.graph.wait_for_sent(STAFF_WA, lambda r: r["type"] == "template")
    button = next(c for c in template["payload"]["template"]["components"] if c.get("type") == "button")
    payload = button["parameters"][0]["payload"]
    return await w.say(w.graph.webhooks.template_button_reply(STAFF_WA, payload, "Lihat status"), STAFF_WA,
                       "Permohonan audiensi AUD-2026-000001")  # fmt: skip


async def test_staff_on_whatsapp_approve_with_a_time_and_the_representative_is_told(wa: WaWorld) -> None:
    reference = await whole_request(wa)
    card = await staff_open_the_card(wa)
    assert {"Setujui", "Tolak", "Minta Info"} <= set(choices(card))
    times = await tap(wa, STAFF_WA, card, "Setujui", "pilih salah satu waktu")
    preferred = next(t for t in choices(times) if "2026" in t)
    place = await tap(wa, STAFF_WA, times, preferred, "Di mana")
    # The list of times tapped again once the question has moved on: an old button, answered as such.
    await tap(wa, STAFF_WA, times, preferred, "sehingga tidak ada yang diubah")
    summary = await tap(wa, STAFF_WA, place, "Ruang Kerja Wakil", "Setujui audiensi ini?")
    await tap(wa, STAFF_WA, summary, "Setujui", "Keputusan tersimpan")
    told = await wa.graph.wait_for_sent(REP, lambda r: "telah disetujui" in shown(r))
    assert "Rabu, 25 November 2026" in shown(told) and "Ruang Kerja Wakil Wali Kota" in shown(told)
    assert await status_of(wa, reference) is RequestStatus.APPROVED


async def propose_a_time(wa: WaWorld) -> None:
    """Staff on WhatsApp open the card and propose one other free time with a message."""
    card = await staff_open_the_card(wa)
    times = await tap(wa, STAFF_WA, card, "Usulkan Waktu Lain", "Usulkan waktu lain untuk AUD-2026-000001")
    first = next(t for t in choices(times) if "2026" in t)
    more = await tap(wa, STAFF_WA, times, first, "Sudah dipilih")
    await tap(wa, STAFF_WA, more, "Selesai", "Pesan untuk perwakilan")
    summary = await write(wa, STAFF_WA, "Pada waktu yang diminta Wakil Wali Kota ada agenda lain.", "Kirim usulan")
    await tap(wa, STAFF_WA, summary, "Kirim usulan", "Keputusan tersimpan")


async def test_a_counter_offer_is_accepted_by_tapping_one_of_the_offered_times(wa: WaWorld) -> None:
    reference = await whole_request(wa)
    await propose_a_time(wa)
    offer = await wa.graph.wait_for_sent(REP, lambda r: "Petugas mengusulkan waktu lain" in shown(r))
    assert offer["type"] == "interactive" and "ada agenda lain" in shown(offer)
    assert list(choices(offer))[-1] == "Tolak usulan"
    offered = next(t for t in choices(offer) if t != "Tolak usulan")
    told = await tap(wa, REP, offer, offered, "telah disetujui")
    assert "Ruang Kerja Wakil Wali Kota" in shown(told)
    assert await status_of(wa, reference) is RequestStatus.APPROVED
    await wa.graph.wait_for_sent(STAFF_WA, lambda r: "Perwakilan menerima waktu yang diusulkan" in shown(r))
    # The same list tapped again (an impatient finger): said so, and nothing changes.
    await tap(wa, REP, offer, offered, "statusnya “Disetujui”")
    assert await status_of(wa, reference) is RequestStatus.APPROVED


async def test_a_counter_offer_declined_with_a_message_reaches_staff(wa: WaWorld) -> None:
    reference = await whole_request(wa)
    await propose_a_time(wa)
    offer = await wa.graph.wait_for_sent(REP, lambda r: "Petugas mengusulkan waktu lain" in shown(r))
    await tap(wa, REP, offer, "Tolak usulan", "menolak waktu yang diusulkan untuk AUD-2026-000001")
    await write(wa, REP, "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi.", "Petugas telah diberi tahu")
    told = await wa.graph.wait_for_sent(STAFF_WA, lambda r: "Perwakilan menolak waktu yang diusulkan" in shown(r))
    assert "Hari Rabu kami ada kegiatan; mohon hari Kamis pagi." in shown(told)
    assert await status_of(wa, reference) is RequestStatus.SUBMITTED
    # The offer's times no longer accept anything.
    first = next(t for t in choices(offer) if t != "Tolak usulan")
    await tap(wa, REP, offer, first, "tidak dapat lagi diubah")
    assert await status_of(wa, reference) is RequestStatus.SUBMITTED


async def test_the_representative_cancels_with_a_reason_and_staff_are_told(wa: WaWorld) -> None:
    reference = await whole_request(wa)
    status = await write(wa, REP, "/status", "AUD-2026-000001")
    await tap(wa, REP, status, "Batalkan AUD-2026-000001", "mohon tuliskan alasannya")
    summary = await write(wa, REP, "Kami sudah bertemu pejabat pada acara lain.", "Batalkan permohonan audiensi ini?")
    await tap(wa, REP, summary, "Ya, batalkan", "telah dibatalkan")
    assert await status_of(wa, reference) is RequestStatus.CANCELLED
    told = await wa.graph.wait_for_sent(STAFF_WA, lambda r: "Perwakilan membatalkan AUD-2026-000001" in shown(r))
    assert "Kami sudah bertemu pejabat pada acara lain." in shown(told)
