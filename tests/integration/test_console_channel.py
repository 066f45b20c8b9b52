"""The console channel over a real database: notices are numbered and answered by number, like replies."""

from __future__ import annotations

from bot.channels.console import ConsoleChannel
from bot.delivery import DeliveryGate
from handlers.messages import PressIn
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
