"""The console channel over a real database: notices are numbered and answered by number, like replies."""

from __future__ import annotations

from bot.channels.console import ConsoleChannel
from bot.delivery import DeliveryGate
from handlers.domain.model import Address
from handlers.messages import PressIn
from handlers.service import REPRESENTATIVE, STAFF
from storage.database import session_factory
from storage.outbox import OutboxStore
from tests.harness import PROTOKOL, Harness
from tests.integration.test_request_dialog import HAPPY, REP


async def test_a_question_from_staff_is_answered_by_typing_its_number(sql_h: Harness) -> None:
    h = sql_h
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    await h.say(PROTOKOL, PressIn(f"g:open:{request.id}"), staff=True)
    await h.say(PROTOKOL, "Minta Info", staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan susunan pengurus lengkap.", staff=True)
    assert "Keputusan tersimpan" in await h.say(PROTOKOL, "Kirim", staff=True)

    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    seen: list[str] = []
    gate = DeliveryGate(outbox, h.service.reminders.policy, h.clock)
    console = ConsoleChannel(h.service, outbox, h.clock.now, address=REP, writer=seen.append, gate=gate)
    assert await console.deliver_notices() == 1
    assert "🔔" in seen[-1] and "Mohon lampirkan susunan pengurus lengkap." in seen[-1] and "1. " in seen[-1]
    reply = await console.send("1")  # the notice's first option, not the menu's
    assert "susunan pengurus lengkap" in reply and "Apa nama organisasi" not in reply
    done = await console.send("Susunan pengurus terlampir pada surat kami nomor 005/12/KT-MKS/XI/2026.")
    assert "AUD-2026-000001" in done
    assert (await h.request("AUD-2026-000001")).status.value == "submitted"


async def test_an_empty_line_is_answered_with_what_the_step_expects(sql_h: Harness) -> None:
    h = sql_h
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    console = ConsoleChannel(h.service, outbox, h.clock.now, address=REP, writer=lambda _t: None)
    await console.send("/mulai")
    assert "Apa nama organisasi" in await console.send("1")
    reply = await console.send("")
    assert "Apa nama organisasi" in reply and "Contoh" in reply


def _console(h: Harness, who: Address, seen: list[str], *, staff: bool = False) -> ConsoleChannel:
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    gate = DeliveryGate(outbox, h.service.reminders.policy, h.clock)
    persona = STAFF if staff else REPRESENTATIVE
    return ConsoleChannel(h.service, outbox, h.clock.now, address=who, persona=persona, writer=seen.append, gate=gate)


async def test_reopening_greets_briefly_and_continues_the_form_at_its_step(sql_h: Harness) -> None:
    h = sql_h
    seen: list[str] = []
    await _console(h, REP, seen).open()
    assert "Privasi" in seen[-1] and "Ajukan Audiensi" in seen[-1]  # the first time: the whole welcome
    console = _console(h, REP, seen)
    await console.send("1")
    await console.send("Karang Taruna Kelurahan Maccini")
    seen.clear()
    await _console(h, REP, seen).open()  # closed and opened again
    shown = "\n".join(seen)
    assert "Privasi" not in shown and "Selamat datang kembali" in shown
    assert "“Permohonan audiensi” masih dalam pengisian, pada bagian “Jenis”" in shown
    assert "Apa jenis organisasi tersebut?" in shown


async def test_a_notice_that_came_while_closed_is_shown_last_and_answered_by_number(sql_h: Harness) -> None:
    h = sql_h
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    await h.say(PROTOKOL, PressIn(f"g:info:{request.id}"), staff=True)
    await h.say(PROTOKOL, "Mohon lampirkan susunan pengurus lengkap.", staff=True)
    await h.say(PROTOKOL, "Kirim", staff=True)
    seen: list[str] = []
    console = _console(h, REP, seen)
    await console.open()
    assert "🔔" in seen[-1] and "Mohon lampirkan susunan pengurus lengkap." in seen[-1]  # after the menu
    assert "Ajukan Audiensi" in seen[-2]
    reply = await console.send("1")  # the notice's "Jawab", as the README promises
    assert "Petugas bertanya mengenai AUD-2026-000001" in reply and "Apa nama organisasi" not in reply


async def test_a_pending_confirmation_is_shown_again_last_so_1_answers_it(sql_h: Harness) -> None:
    """Staff had asked to abandon a decision; a new card arrived while the console was closed. On reopening,
    "1" must mean "Ya, batalkan" of the question left open, never "Setujui" on the card shown meanwhile."""
    h = sql_h
    await h.dialog(REP, HAPPY)
    [first] = await h.requests_of(REP)
    staff_seen: list[str] = []
    staff = _console(h, PROTOKOL, staff_seen, staff=True)
    await staff.deliver_notices()
    await staff.send("/antrian")
    await staff.send("1")
    await staff.send("Tolak")
    assert "Batalkan “Penolakan”?" in await staff.send("/batal")
    other = Address("console", "warga-2")  # meanwhile another request comes in
    await h.dialog(other, [*HAPPY[:-1], ("Kirim", "AUD-2026-000002")])
    staff_seen.clear()
    reopened = _console(h, PROTOKOL, staff_seen, staff=True)
    await reopened.open()
    shown = "\n".join(staff_seen)
    assert shown.index("AUD-2026-000002") < shown.index("Batalkan “Penolakan”?")  # the question last
    assert "Penolakan AUD-2026-000001" in shown  # names the request the decision was about
    reply = await reopened.send("1")
    assert "Pengisian formulir telah dibatalkan" in reply
    second = await h.request("AUD-2026-000002")
    assert second.status.value == "submitted" and (await h.request(first.reference)).status.value == "submitted"
