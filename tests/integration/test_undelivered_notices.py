"""A notice to the representative that fails for good is shown to staff, whatever the channel: a line on the
request's card, and the card sent to staff again (once); a staff address is only logged, without the address."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlmodel import col

from handlers.messages import PressIn
from storage.database import session_factory
from storage.outbox import OutboxStore
from storage.tables import OutboxRow
from tests.harness import PROTOKOL, Harness
from tests.integration.test_reminders import approved
from tests.integration.test_request_dialog import REP
from tests.integration.test_staff_decisions import notices_text

LINE = "Pemberitahuan keputusan tidak terkirim melalui Console: failed (131049: Not delivered)"


async def test_a_failed_decision_notice_is_on_the_card_and_told_to_staff_once(sql_h: Harness) -> None:
    h = sql_h
    request_id = await approved(h)
    sessions = session_factory(h.engine)  # type: ignore[arg-type]
    async with sessions() as session:
        mine = select(OutboxRow).where(col(OutboxRow.kind) == "decision", col(OutboxRow.external_id) == REP.external_id)
        decision = (await session.execute(mine)).scalars().one()
    assert decision.id is not None
    outbox = OutboxStore(sessions)
    reason = "failed (131049: Not delivered)"
    assert await outbox.fail_for_good(decision.id, reason)
    assert not await outbox.fail_for_good(decision.id, reason)  # a second receipt: nobody is told twice
    before = await notices_text(h, PROTOKOL)
    await h.service.report_undelivered(REP, request_id, reason)
    told = (await notices_text(h, PROTOKOL)).removeprefix(before)
    assert "Pemberitahuan kepada perwakilan untuk AUD-2026-000001 tidak dapat disampaikan melalui Console" in told
    assert LINE in told  # the card that follows carries the line
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert LINE in card


async def test_a_staff_address_that_fails_is_logged_without_the_address(
    sql_h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = await approved(sql_h)
    before = await notices_text(sql_h, PROTOKOL)
    with caplog.at_level(logging.INFO):
        await sql_h.service.report_unreachable(PROTOKOL, "blocked the bot", request_id)
        await sql_h.service.report_undelivered(PROTOKOL, request_id, "failed (131049)")
    assert await notices_text(sql_h, PROTOKOL) == before  # never warned about itself
    assert caplog.records and not [r for r in caplog.records if PROTOKOL.external_id in r.getMessage()]
