"""WhatsApp end to end, when things go wrong: crashes, Graph failures, late failure receipts, malformed webhooks,
pacing, identities. Signed webhooks in Meta's format to our web app; replies at the fake Graph API server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from handlers.messages import Choice, Notification, Option, Text
from storage.repositories import count_rows
from storage.tables import ConversationRow, OutboxRow, WhatsAppInboxRow
from tests.conftest import BACKENDS, START
from tests.e2e.whatsapp_world import REP, STAFF_WA, WaWorld, running_whatsapp, shown, to_the_letter, whole_request
from tests.fakes.graph_api import FakeGraphAPI, encode_webhook, sign
from tests.fakes.memory import FakeClock
from tests.harness import empty_database_url

BSUID = "ID.1234567890123456"
STRANGER = "6289999999999"
SEND_AGAIN = "berkas Bapak/Ibu tidak dapat kami terima"
NOT_HERE = "Pilihan tersebut tidak tersedia di sini."


@pytest.fixture
async def wa(graph_api: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[WaWorld]:
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START)) as world:
        yield world


async def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:  # noqa: ASYNC109
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def refused(w: WaWorld, status: int) -> int:
    return len([r for r in w.graph.requests if r[2] == status])


async def outbox_row(w: WaWorld, request_id: int, kind: str) -> Any:
    async with w.app.new_uow() as uow:
        rows = await uow.outbox.for_request(request_id)
    return next(r for r in rows if r.kind == kind)


async def delivered(w: WaWorld, to: str, text: str) -> dict[str, Any]:
    """Wait until a notice showing `text` reached the Graph API and our record of it is written."""
    record = await w.graph.wait_for_sent(to, lambda r: text in shown(r))

    async def recorded() -> bool:
        return record["id"] in [wamid for wamid, *_rest in await w.channel.store.sent_to(to)]

    await until(recorded, "the record of the send")
    return record


async def enqueue(w: WaWorld, to: str, kind: str, body: str, request_id: int | None = None) -> None:
    async with w.app.new_uow() as uow:
        await uow.outbox.enqueue(Notification("whatsapp", to, kind, (Text(body),), request_id), w.clock.now())
        await uow.commit()


# ---- 1. stored, then processed: nothing is lost -----------------------------------------------------------


async def test_an_event_left_processing_by_a_killed_process_is_handled_after_the_lease(wa: WaWorld) -> None:
    message = wa.graph.webhooks.text_message(REP, "/mulai")["entry"][0]["changes"][0]["value"]["messages"][0]
    async with wa.app.sessions() as session, session.begin():  # what a web process killed mid-event leaves
        session.add(WhatsAppInboxRow(event_id=f"m:{message['id']}", sender=REP, kind="message", payload=message,
                                     state="processing", received_at=wa.clock.now(), claimed_at=wa.clock.now(),
                                     attempts=1))  # fmt: skip
    await asyncio.sleep(1.5)  # the processing loop has had its rounds: inside the lease nobody takes it
    assert wa.graph.sent(REP) == []
    wa.clock.advance(minutes=6)  # past the 5-minute lease
    welcome = await wa.graph.wait_for_sent(REP, lambda r: "Ajukan Audiensi" in shown(r), timeout=8)
    assert welcome["type"] == "interactive"


async def test_an_event_that_fails_is_retried_with_backoff(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await wa.say(hooks.text_message(REP, "/ajukan"), REP, "Apa nama organisasi")
    media = wa.graph.add_media(b"\xff\xd8\xff" + b"0" * 100, "image/jpeg", None)
    before = refused(wa, 500)
    wa.graph.fail_next_http(500)  # the media lookup meets a Graph outage once
    assert (await wa.post(hooks.image_message(REP, media, "image/jpeg", "0" * 64))).status_code == 200
    await until(lambda: refused(wa, 500) > before, "the 500")
    await asyncio.sleep(0.3)
    assert [r for r in wa.graph.sent(REP) if "dalam bentuk teks" in shown(r)] == []  # not yet: backing off
    wa.clock.advance(seconds=10)
    reply = await wa.graph.wait_for_sent(REP, lambda r: "dalam bentuk teks" in shown(r))
    assert "Apa nama organisasi" in shown(reply)  # handled on the second attempt: the same question again


async def test_a_letter_whose_media_cannot_be_fetched_is_asked_for_again_at_the_same_step(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await to_the_letter(wa)
    gone = hooks.document_message(REP, "1999999999999999", "surat.pdf", "application/pdf", "0" * 64)  # unknown id
    again = await wa.say(gone, REP, SEND_AGAIN)
    assert again["type"] == "text"
    media = wa.graph.add_media(b"%PDF-1.4 surat yang benar", "application/pdf", "surat.pdf")
    summary = await wa.say(hooks.document_message(REP, media, "surat.pdf", "application/pdf", "0" * 64), REP, "Kirim")
    assert "surat.pdf" in shown(summary)  # the same step took the file: the summary follows
    kept = wa.app.settings.files_dir / "whatsapp" / f"{media}.pdf"
    assert kept.read_bytes() == b"%PDF-1.4 surat yang benar"  # downloaded and kept where staff can get it


async def test_a_letter_whose_media_stays_unavailable_is_given_up_politely(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await to_the_letter(wa)
    media = wa.graph.add_media(b"%PDF-1.4 surat", "application/pdf", "surat.pdf")
    wa.graph.fail_next_http(503, times=5)
    await wa.post(hooks.document_message(REP, media, "surat.pdf", "application/pdf", "0" * 64))
    for attempt in range(1, 5):

        async def backing_off(n: int = attempt) -> bool:
            return [e.attempts for e in await wa.channel.store.states("pending")] == [n]

        await until(backing_off, f"attempt {attempt} failed")
        wa.clock.advance(minutes=6)
    await wa.graph.wait_for_sent(REP, lambda r: SEND_AGAIN in shown(r))
    failed = await until(lambda: wa.channel.store.states("failed"), "the event given up")
    assert [e.payload["type"] for e in failed] == ["document"]


async def test_a_letter_over_ten_megabytes_is_refused_and_not_downloaded(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await to_the_letter(wa)
    media = wa.graph.add_media(b"%PDF" + b"0" * (10 * 1024 * 1024), "application/pdf", "besar.pdf")
    reply = await wa.say(hooks.document_message(REP, media, "besar.pdf", "application/pdf", "0" * 64), REP, "10 MB")
    assert "Mohon kirim surat" in shown(reply) or "10 MB" in shown(reply)
    assert not [r for r in wa.graph.requests if r[1].startswith("/media-download/")]
    assert not (wa.app.settings.files_dir / "whatsapp").exists()


# ---- 2. malformed webhooks: 4xx, never 500 ------------------------------------------------------------------


async def test_a_non_ascii_signature_is_403_and_signed_odd_bodies_are_recorded_and_answered_200(
    wa: WaWorld,
) -> None:
    url = f"{wa.url}/whatsapp/webhook"
    body = encode_webhook(wa.graph.webhooks.text_message(REP, "/mulai"))
    forged = ("sha256=" + "é" * 64).encode("utf-8")
    answer = await wa.client.post(url, content=body, headers={"X-Hub-Signature-256": forged,
                                                               "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 403
    odd = (
        b"[1, 2]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": "x"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [1]}]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": {"a": 1}}}]}]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"statuses": ["x"]}}]}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe not json",
    )
    for bad in odd:
        # Signed, so Meta's (or someone's with our secret): kept for the operator, and answered 200 so that
        # Meta does not deliver it again for days.
        signed = {"X-Hub-Signature-256": sign(bad, "fake-app-secret"), "Content-Type": "application/json"}
        answer = await wa.client.post(url, content=bad, headers=signed)
        assert answer.status_code == 200, (bad[:60], answer.status_code)
    recorded = await wa.channel.store.states("recorded")
    assert len(recorded) == len(odd)
    # why each is kept: unreadable, or (a change without metadata) not known to be for our number
    assert all(e.payload.get("unreadable") or "not_ours" in e.payload for e in recorded), [e.payload for e in recorded]
    await asyncio.sleep(0.3)
    assert wa.graph.sent(REP) == []


async def test_one_odd_change_does_not_cost_the_rest_of_the_batch(wa: WaWorld) -> None:
    payload = wa.graph.webhooks.text_message(REP, "/mulai")
    payload["entry"][0]["changes"].insert(0, {"field": "messages", "value": {"messages": "not a list"}})
    await wa.say(payload, REP, "Ajukan Audiensi")
    assert len(await wa.channel.store.states("recorded")) == 1


async def test_a_body_over_meta_s_largest_is_refused_unread(wa: WaWorld) -> None:
    from bot.web import MAX_WEBHOOK_BYTES

    url = f"{wa.url}/whatsapp/webhook"
    huge = b"{" + b" " * MAX_WEBHOOK_BYTES + b"}"
    answer = await wa.client.post(url, content=huge, headers={"X-Hub-Signature-256": sign(huge, "fake-app-secret")})
    assert answer.status_code == 413

    async def chunks() -> Any:  # no Content-Length: counted as it comes
        for _ in range(5):
            yield b" " * (MAX_WEBHOOK_BYTES // 4)

    answer = await wa.client.post(url, content=chunks(), headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert answer.status_code == 413
    async with wa.app.sessions() as session:
        assert await count_rows(session, WhatsAppInboxRow) == 0


async def test_a_webhook_for_another_phone_number_is_recorded_and_not_answered(wa: WaWorld) -> None:
    """An app may serve several business numbers: their webhooks reach us too, signed with the same secret."""
    from tests.fakes.graph_api import WebhookBuilder

    other = WebhookBuilder(phone_number_id="999999999999999")
    failed = other.status_event(STRANGER, "wamid.OTHER", "failed", errors=[{"code": 131026}])
    for payload in (other.text_message(STRANGER, "/mulai"), failed):
        assert (await wa.post(payload)).status_code == 200
    recorded = await wa.channel.store.states("recorded")
    assert [e.payload["not_ours"] for e in recorded] == ["999999999999999"] * 2
    await asyncio.sleep(0.5)
    assert wa.graph.sent(STRANGER) == []  # our number never answers another number's sender
    async with wa.app.sessions() as session:
        assert await count_rows(session, ConversationRow) == 0
    await wa.say(wa.graph.webhooks.text_message(STRANGER, "/mulai"), STRANGER, "Ajukan Audiensi")  # ours: answered


async def test_request_welcome_gets_the_welcome_and_a_number_change_is_not_answered(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    welcome = await wa.say(hooks.request_welcome(REP), REP, "Ajukan Audiensi")
    assert welcome["type"] == "interactive"
    before = len(wa.graph.sent(REP))
    assert (await wa.post(hooks.system_message(REP, "6281299999999"))).status_code == 200
    ignored = await until(lambda: wa.channel.store.states("ignored"), "the system message kept")
    assert [e.payload["type"] for e in ignored] == ["system"]
    await asyncio.sleep(0.3)
    assert len(wa.graph.sent(REP)) == before  # no "cannot read this kind of message"


# ---- 3. staff act on a template outside the window; strangers cannot ---------------------------------------


async def test_staff_outside_the_window_open_the_request_from_the_template_and_decide(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    # The staff member never wrote: the new request's card reaches them as the template.
    card = await wa.graph.wait_for_sent(STAFF_WA, lambda r: r["type"] == "template")
    buttons = [c for c in card["payload"]["template"]["components"] if c.get("type") == "button"]
    payload = buttons[0]["parameters"][0]["payload"]
    assert payload == "g:open:1"
    opened = await wa.say(hooks.template_button_reply(STAFF_WA, payload, "Lihat status"), STAFF_WA, "Tolak")
    assert "AUD-2026-000001" in shown(opened) and "Setujui" in shown(opened)  # the card with its decisions
    await wa.say(hooks.button_reply(STAFF_WA, "g:reject:1", "Tolak"), STAFF_WA, "alasannya")


async def test_a_stranger_pressing_staff_buttons_changes_nothing_and_sees_nothing(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    opened = await wa.say(hooks.template_button_reply(STRANGER, "g:open:1", "Lihat status"), STRANGER, NOT_HERE)
    approve = await wa.say(hooks.button_reply(STRANGER, "g:approve:1", "Setujui"), STRANGER, NOT_HERE)
    for reply in (opened, approve):
        assert "Karang Taruna" not in shown(reply) and "AUD-2026-000001" not in shown(reply)
    async with wa.app.new_uow() as uow:
        request = await uow.requests.get(1)
    assert request is not None and request.status.value == "submitted"


# ---- 4. late failure receipts are visible --------------------------------------------------------------------


async def test_a_late_failure_marks_the_notice_failed_with_its_code_for_staff_and_operators(
    wa: WaWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import _messages

    hooks = wa.graph.webhooks
    reference = await whole_request(wa)
    await enqueue(wa, REP, "reminder_day_before", "Pengingat: audiensi besok pukul 10.00 WITA.", request_id=1)
    notice = await delivered(wa, REP, "Pengingat: audiensi besok")
    assert notice["type"] == "text"  # inside the window
    failed = hooks.status_event(REP, notice["id"], "failed", errors=[{"code": 131049, "title": "Not delivered"}])
    assert (await wa.post(failed)).status_code == 200

    async def row_failed() -> Any:
        row = await outbox_row(wa, 1, "reminder_day_before")
        return row if row.state == "failed" else None

    row = await until(row_failed, "the outbox row failed")
    assert "131049" in (row.last_error or "")
    assert await _messages(wa.app.settings, reference) == 0
    listing = capsys.readouterr().out
    assert "reminder_day_before" in listing and "failed" in listing and "131049" in listing
    # The staff card says so too.
    await wa.say(hooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, lambda r: r["type"] == "interactive")
    card = await wa.say(hooks.list_reply(STAFF_WA, "g:open:1", reference), STAFF_WA, "gagal")
    assert "131049" in shown(card)


async def test_a_late_window_failure_resends_the_reminder_as_the_template_with_its_content(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    reminder = "Pengingat: audiensi Rabu, 25 November 2026 pukul 10.00 WITA di Ruang Kerja Wakil Wali Kota."
    await enqueue(wa, REP, "reminder_day_before", reminder, request_id=1)
    notice = await delivered(wa, REP, "Pengingat: audiensi Rabu")
    await wa.post(hooks.status_event(REP, notice["id"], "failed", errors=[{"code": 131047}]))
    template = await wa.graph.wait_for_sent(REP, lambda r: r["type"] == "template")
    assert "AUD-2026-000001" in shown(template)
    assert "Rabu, 25 November 2026 pukul 10.00 WITA" in shown(template) and "Ruang Kerja" in shown(template)


async def test_pair_rate_131056_puts_the_notice_back_for_a_few_seconds(wa: WaWorld) -> None:
    await wa.say(wa.graph.webhooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    before = refused(wa, 400)
    wa.graph.fail_next(code=131056)
    await enqueue(wa, REP, "decision", "Pemberitahuan uji laju pasangan")
    await until(lambda: refused(wa, 400) > before, "the 131056")
    await asyncio.sleep(0.3)
    assert not [r for r in wa.graph.sent(REP) if "uji laju pasangan" in shown(r)]
    wa.clock.advance(seconds=7)
    await wa.graph.wait_for_sent(REP, lambda r: "Pemberitahuan uji laju pasangan" in shown(r))


async def test_a_late_undeliverable_receipt_marks_the_notice_failed_and_warns_staff(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    await enqueue(wa, REP, "reminder_2h", "Pengingat: audiensi dua jam lagi.", request_id=1)
    notice = await delivered(wa, REP, "dua jam lagi")
    await wa.post(hooks.status_event(REP, notice["id"], "failed", errors=[{"code": 131026}]))

    async def row_failed() -> Any:
        row = await outbox_row(wa, 1, "reminder_2h")
        return row if row.state == "failed" else None

    row = await until(row_failed, "the outbox row failed")
    assert "131026" in (row.last_error or "")
    # The staff member (outside their window) gets the card again as the template; its button opens it.
    notices = await until(lambda: [r for r in wa.graph.sent(STAFF_WA) if r["type"] == "template"][1:], "a notice")
    assert "AUD-2026-000001" in shown(notices[0])
    card = await wa.say(hooks.template_button_reply(STAFF_WA, "g:open:1", "Lihat status"), STAFF_WA,
                        "tidak dapat dihubungi")  # fmt: skip
    assert "WhatsApp" in shown(card)


async def staff_card(w: WaWorld, expect: str) -> str:
    """What the staff member sees when they open request 1 (writing first, so their window is open)."""
    await w.say(w.graph.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, lambda r: r["type"] == "interactive")
    return shown(await w.say(w.graph.webhooks.list_reply(STAFF_WA, "g:open:1", "AUD-2026-000001"), STAFF_WA, expect))


NOT_DELIVERED = "Pemberitahuan keputusan tidak terkirim melalui WhatsApp"
STAFF_TOLD = "tidak dapat disampaikan melalui WhatsApp"


async def test_a_decision_notice_that_fails_for_good_is_shown_to_staff(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    await enqueue(wa, REP, "decision", "Kabar baik, permohonan Bapak/Ibu disetujui.", request_id=1)
    notice = await delivered(wa, REP, "permohonan Bapak/Ibu disetujui")
    failed = hooks.status_event(REP, notice["id"], "failed", errors=[{"code": 131049, "title": "Not delivered"}])
    assert (await wa.post(failed)).status_code == 200
    told = await wa.graph.wait_for_sent(STAFF_WA, lambda r: STAFF_TOLD in shown(r))  # staff are told at once
    assert "AUD-2026-000001" in shown(told) and "131049" in shown(told)
    card = await staff_card(wa, NOT_DELIVERED)  # and the card says so whenever it is opened
    assert f"{NOT_DELIVERED}: failed (131049: Not delivered)" in card
    assert len([r for r in wa.graph.sent(STAFF_WA) if STAFF_TOLD in shown(r)]) == 1


async def test_a_template_meta_does_not_know_fails_the_notice_and_staff_see_it(wa: WaWorld) -> None:
    await whole_request(wa)
    wa.channel._template = "audiensi_tidak_ada"  # a wrong or not (yet) approved template name: 132001
    wa.clock.advance(hours=25)  # the representative's window has closed: only the template may go
    await wa.say(wa.graph.webhooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, lambda r: r["type"] == "interactive")
    await enqueue(wa, REP, "decision", "Kabar baik, permohonan Bapak/Ibu disetujui.", request_id=1)

    async def row_failed() -> Any:
        row = await outbox_row(wa, 1, "decision")
        return row if row.state == "failed" else None

    row = await until(row_failed, "the notice failed")
    assert row.attempts == 1 and "132001" in (row.last_error or "")  # not tried again: it would fail the same way
    told = await wa.graph.wait_for_sent(STAFF_WA, lambda r: STAFF_TOLD in shown(r))
    assert "132001" in shown(told) and NOT_DELIVERED in shown(told)  # the line, and the card below it


async def test_a_notice_in_parts_resumes_after_the_parts_already_sent(wa: WaWorld) -> None:
    await wa.say(wa.graph.webhooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    first, second = "Bagian pertama. " + "kata " * 900, "Bagian kedua. " + "kata " * 300
    messages = (Text(first + "\n\n" + second), Choice("Lihat rinciannya:", (Option("g:status", "Lihat status"),)))
    wa.graph.fail_next(code=130429, after=1)  # the first part goes, the second meets the throughput limit
    async with wa.app.new_uow() as uow:
        await uow.outbox.enqueue(Notification("whatsapp", REP, "decision", messages), wa.clock.now())
        await uow.commit()
    await wa.graph.wait_for_sent(REP, lambda r: "Bagian pertama" in shown(r))
    await until(lambda: refused(wa, 400), "the 130429")
    wa.clock.advance(minutes=6)
    await wa.graph.wait_for_sent(REP, lambda r: "Lihat status" in shown(r))
    texts = [shown(r) for r in wa.graph.sent(REP)]
    assert len([t for t in texts if "Bagian pertama" in t]) == 1  # not sent again
    assert len([t for t in texts if "Bagian kedua" in t]) == 1
    assert len([t for t in texts if "Lihat status" in t]) == 1


async def test_a_late_rate_limit_receipt_sends_only_that_part_again(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await wa.say(hooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    first, second = "Bagian pertama. " + "kata " * 900, "Bagian kedua. " + "kata " * 300
    await enqueue(wa, REP, "decision", first + "\n\n" + second)
    await delivered(wa, REP, "Bagian pertama")
    part_two = await delivered(wa, REP, "Bagian kedua")
    await wa.post(hooks.status_event(REP, part_two["id"], "failed", errors=[{"code": 131056}]))

    async def put_back() -> bool:
        async with wa.app.sessions() as session:
            row = (await session.execute(select(OutboxRow).where(col(OutboxRow.kind) == "decision"))).scalar_one()
        return row.state == "pending" and row.last_error == "rate limited (131056)"

    await until(put_back, "the notice put back by the receipt")
    wa.clock.advance(seconds=7)
    await wa.graph.wait_for_sent(REP, lambda r: "Bagian kedua" in shown(r) and r["id"] != part_two["id"])
    await asyncio.sleep(0.5)
    texts = [shown(r) for r in wa.graph.sent(REP)]
    assert len([t for t in texts if "Bagian pertama" in t]) == 1 and len([t for t in texts if "Bagian kedua" in t]) == 2


async def test_rate_limits_are_tried_a_bounded_number_of_times(wa: WaWorld) -> None:
    await whole_request(wa)
    wa.graph.fail_next(code=130429, times=100)
    await enqueue(wa, REP, "decision", "Pemberitahuan yang selalu dibatasi", request_id=1)
    for attempt in range(1, 8):

        async def backing_off(n: int = attempt) -> bool:
            row = await outbox_row(wa, 1, "decision")
            return row.state == "pending" and row.attempts == n

        await until(backing_off, f"attempt {attempt} rate limited")
        wa.clock.advance(minutes=6)

    async def row_failed() -> Any:
        row = await outbox_row(wa, 1, "decision")
        return row if row.state == "failed" else None

    row = await until(row_failed, "the notice given up")
    assert row.last_error == "rate limited (130429) after 8 attempts"


async def test_a_blank_notice_goes_with_a_sensible_text_and_a_refused_one_fails_at_once(wa: WaWorld) -> None:
    await enqueue(wa, REP, "decision", "  \n\t ")  # no request, outside the window: as the template
    template = await wa.graph.wait_for_sent(REP, lambda r: r["type"] == "template")
    parameters = [p["text"] for c in template["payload"]["template"]["components"] if c["type"] == "body"
                  for p in c["parameters"]]  # fmt: skip
    assert parameters == ["ke Pemerintah Kota Makassar",  # "… permohonan audiensi ke Pemerintah Kota Makassar: …"
                          "Ada pemberitahuan baru mengenai permohonan audiensi Bapak/Ibu."]  # fmt: skip
    await wa.say(wa.graph.webhooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    refused_here = (Text("Pilih:"), Choice("Pilih:", (Option("x" * 300, "Ya"),)))  # a button id over 256
    async with wa.app.new_uow() as uow:
        await uow.outbox.enqueue(Notification("whatsapp", REP, "decision", refused_here), wa.clock.now())
        await uow.commit()

    async def failed_rows() -> Any:
        async with wa.app.sessions() as session:
            rows = (await session.execute(select(OutboxRow).where(col(OutboxRow.state) == "failed"))).scalars().all()
        return rows

    (row,) = await until(failed_rows, "the refused notice failed")
    assert row.attempts == 1 and (row.last_error or "").startswith("refused before sending: button id")


async def test_a_failure_receipt_for_a_message_we_never_sent_is_kept_quietly(
    wa: WaWorld, caplog: pytest.LogCaptureFixture
) -> None:
    receipt = wa.graph.webhooks.status_event(REP, "wamid.NEVERSENT", "failed", errors=[{"code": 131049}])
    assert (await wa.post(receipt)).status_code == 200
    for attempt in (1, 2):

        async def waiting(n: int = attempt) -> bool:
            return [e.attempts for e in await wa.channel.store.states("pending")] == [n]

        await until(waiting, f"look {attempt}")  # it may overtake our record of the send: looked at again
        wa.clock.advance(seconds=10)
    await until(lambda: wa.channel.store.states("unknown"), "the receipt kept as unknown")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]


async def test_the_window_starts_when_the_message_was_written(wa: WaWorld) -> None:
    """Meta may deliver a message hours late (it retries for days): WhatsApp's 24 hours run from its timestamp."""
    written = wa.clock.now().timestamp() - (23 * 3600 + 30 * 60)
    late = wa.graph.webhooks.text_message(REP, "/mulai", timestamp=int(written))
    await wa.say(late, REP, "Ajukan Audiensi")  # still inside: answered as usual
    wa.clock.advance(hours=1)  # 24.5 hours after they wrote, 1 hour after we received it
    await enqueue(wa, REP, "decision", "Pemberitahuan setelah jendela tutup")
    notice = await wa.graph.wait_for_sent(REP, lambda r: "setelah jendela tutup" in shown(r))
    assert notice["type"] == "template"


# ---- 5. pacing -----------------------------------------------------------------------------------------------


async def test_one_recipient_at_their_pair_rate_does_not_hold_up_others(wa: WaWorld) -> None:
    await wa.say(wa.graph.webhooks.text_message(REP, "/mulai"), REP, "Ajukan Audiensi")
    await wa.say(wa.graph.webhooks.text_message(STRANGER, "/mulai"), STRANGER, "Ajukan Audiensi")
    for n in range(45):  # REP's burst is used up (the welcome was one of them)
        await wa.channel.send(REP, Text(f"Pesan ke-{n}"))
    await enqueue(wa, REP, "decision", "Pemberitahuan untuk yang sedang dibatasi")
    await enqueue(wa, STRANGER, "decision", "Pemberitahuan untuk orang lain")
    started = time.monotonic()
    await wa.graph.wait_for_sent(STRANGER, lambda r: "untuk orang lain" in shown(r), timeout=10)
    assert time.monotonic() - started < 3  # not after REP's six seconds
    assert not [r for r in wa.graph.sent(REP) if "sedang dibatasi" in shown(r)]
    await asyncio.sleep(6)
    wa.clock.advance(seconds=10)
    await wa.graph.wait_for_sent(REP, lambda r: "sedang dibatasi" in shown(r), timeout=10)
    assert len(wa.channel._per_person) <= 2


# ---- 6. one person, one key ------------------------------------------------------------------------------------


async def test_someone_first_seen_by_number_keeps_their_conversation_when_meta_adds_the_user_id(
    wa: WaWorld,
) -> None:
    hooks = wa.graph.webhooks
    await wa.say(hooks.text_message(REP, "/ajukan"), REP, "Apa nama organisasi")
    both = hooks.text_message(REP, "Karang Taruna Kelurahan Maccini", user_id=BSUID)
    await wa.say(both, REP, "Apa jenis organisasi")  # the same conversation, at the next step
    only_user_id = hooks.list_reply(None, "karang_taruna", "Karang Taruna", user_id=BSUID)
    await wa.say(only_user_id, REP, "nomor registrasi")  # later without the number: still the same person
    async with wa.app.sessions() as session:
        assert await count_rows(session, ConversationRow) == 1
    assert wa.graph.sent(BSUID) == []


async def test_someone_new_with_both_ids_is_kept_under_the_user_id(wa: WaWorld) -> None:
    await wa.say(wa.graph.webhooks.text_message(REP, "/mulai", user_id=BSUID), BSUID, "Ajukan Audiensi")
    assert wa.graph.sent(REP) == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=BACKENDS[2].marks)])
async def wa_db(request: pytest.FixtureRequest, graph_api: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[WaWorld]:
    """The WhatsApp world on SQLite and on PostgreSQL (which enforces the columns' lengths)."""
    url = await empty_database_url(request.param)
    async with running_whatsapp(graph_api, tmp_path, FakeClock(START), database_url=url) as world:
        yield world


async def test_a_business_scoped_id_of_140_characters_is_kept_wherever_a_person_is(wa_db: WaWorld) -> None:
    """ "A two-letter country code, a period, and up to 128 alphanumeric characters" (and "ENT." for a parent id):
    stored in the inbox, the conversation, the identity, the request, the outbox, the record of what was sent and
    the alias of someone first known by their number."""
    wa = wa_db
    long_id = "ID.ENT." + ("Ab3" * 50)[:133]
    assert len(long_id) == 140
    reference = await whole_request(wa, long_id)
    async with wa.app.new_uow() as uow:
        request = await uow.requests.get_by_reference(reference)
    assert request is not None and request.contact.external_id == long_id
    await enqueue(wa, long_id, "decision", "Pemberitahuan untuk pengenal panjang", request_id=request.id)
    await delivered(wa, long_id, "untuk pengenal panjang")
    other_long = "ID." + "7" * 137
    await wa.say(wa.graph.webhooks.text_message(STRANGER, "/mulai"), STRANGER, "Ajukan Audiensi")
    await wa.say(wa.graph.webhooks.text_message(STRANGER, "/mulai", user_id=other_long), STRANGER, "Ajukan Audiensi")
    # Longer than any id WhatsApp gives: recorded, not answered, and never a 500 (which Meta would retry for days).
    absurd = "ID." + "9" * 300
    assert (await wa.post(wa.graph.webhooks.text_message(None, "/mulai", user_id=absurd))).status_code == 200
    recorded = await until(lambda: wa.channel.store.states("recorded"), "the absurd id recorded")
    assert [e.payload["unreadable"] for e in recorded] == ["an id longer than WhatsApp's"]
    await asyncio.sleep(0.3)
    assert wa.graph.sent(absurd) == []


# ---- 9. reactions and other fields ---------------------------------------------------------------------------------


async def test_a_reaction_is_recorded_and_not_answered(wa: WaWorld) -> None:
    await wa.post(wa.graph.webhooks.unknown_message(REP, type="reaction"))
    ignored = await until(lambda: wa.channel.store.states("ignored"), "the reaction recorded")
    assert [e.payload["type"] for e in ignored] == ["reaction"]
    await asyncio.sleep(0.3)
    assert wa.graph.sent(REP) == []


async def test_other_fields_and_errors_are_recorded(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    other = hooks.envelope({"event": "VERIFIED_ACCOUNT"})
    other["entry"][0]["changes"][0]["field"] = "account_update"
    errors = hooks.envelope({"errors": [{"code": 131000, "title": "Something went wrong"}]})
    for payload in (other, errors):
        assert (await wa.post(payload)).status_code == 200
    recorded = await wa.channel.store.states("recorded")
    assert len(recorded) == 2
    assert recorded[0].payload["recorded"]["field"] == "account_update"


# ---- 10. typing a number back to a long list ---------------------------------------------------------------------


async def test_staff_type_a_number_back_to_a_queue_of_more_than_ten(wa: WaWorld) -> None:
    hooks = wa.graph.webhooks
    await whole_request(wa)
    async with wa.app.new_uow() as uow:
        first = await uow.requests.get(1)
        assert first is not None
        for n in range(2, 13):
            await uow.requests.add(replace(first, id=None, reference=f"AUD-2026-{n:06d}", subject=f"Perihal {n}"))
        await uow.commit()
    listing = await wa.say(hooks.text_message(STAFF_WA, "/antrian"), STAFF_WA, "AUD-2026-000012")
    assert listing["type"] == "text" and "12. AUD-2026-000012" in shown(listing)
    # The card is long: its text first, then its decision buttons (other notices may arrive in between).
    await wa.say(hooks.text_message(STAFF_WA, "11"), STAFF_WA, "Perihal 11")
    sent = wa.graph.sent(STAFF_WA)
    card = next(n for n, r in enumerate(sent) if "Perihal 11" in shown(r))

    def decisions() -> bool:
        return any("Setujui" in shown(r) and "Minta Info" in shown(r) for r in wa.graph.sent(STAFF_WA)[card + 1 :])

    await until(decisions, "the card's decision buttons")
    assert "AUD-2026-000011" in shown(sent[card])


async def test_the_worker_process_delivers_whatsapp_notices(graph_api: FakeGraphAPI, tmp_path: Path) -> None:
    """`audiensi worker` with only WhatsApp configured sends a due notice (as the template: no window)."""
    import os
    import sys

    from bot.bootstrap import application
    from bot.settings import PROJECT_ROOT
    from tests.e2e.whatsapp_world import TEMPLATE, wa_settings

    graph_api.register_template(TEMPLATE, "id", 2, quick_reply_count=1)
    settings = wa_settings(graph_api, tmp_path, None)
    async with application(settings) as app, app.new_uow() as uow:
        await uow.outbox.enqueue(Notification("whatsapp", REP, "decision", (Text("Pemberitahuan dari worker"),)),
                                 app.clock.now())  # fmt: skip
        await uow.commit()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "AUDIENSI_CONFIG_FILE": str(settings.config_file),
        "AUDIENSI_FILES_DIR": str(tmp_path / "files"),
        "AUDIENSI_WHATSAPP_ACCESS_TOKEN": graph_api.access_token,
        "AUDIENSI_WHATSAPP_PHONE_NUMBER_ID": graph_api.phone_number_id,
        "AUDIENSI_WHATSAPP_APP_SECRET": "fake-app-secret",
        "AUDIENSI_WHATSAPP_GRAPH_BASE_URL": graph_api.base_url,
        "AUDIENSI_WHATSAPP_API_VERSION": graph_api.api_version,
        "AUDIENSI_QUIET_START": "00:00",
        "AUDIENSI_QUIET_END": "00:00",
    }
    env.pop("AUDIENSI_TELEGRAM_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        sent = await graph_api.wait_for_sent(REP, lambda r: "Pemberitahuan dari worker" in shown(r), timeout=30)
        assert sent["type"] == "template"
    finally:
        process.terminate()
        output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert graph_api.access_token not in output and REP not in output
    assert "client has been closed" not in output
