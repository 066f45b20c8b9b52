"""What every deliverer asks before sending a due outbox row: now, later (quiet hours), or never (pointless)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from handlers.ports import Clock
from handlers.reminders import PLANNED_KINDS, Defer, ReminderPolicy, Skip, gate, no_longer_fits
from storage.outbox import OutboxItem, OutboxStore

log = logging.getLogger(__name__)

# Told when a message to a representative is skipped after failed tries (lost to an outage): (kind, request id).
LostReporter = Callable[[str, int | None], Awaitable[None]]


class DeliveryGate:
    def __init__(
        self, outbox: OutboxStore, policy: ReminderPolicy, clock: Clock, *, lost: LostReporter | None = None
    ) -> None:
        self._outbox = outbox
        self.policy = policy
        self._clock = clock
        self._lost = lost

    async def allow(self, item: OutboxItem) -> bool:
        """True: send it now. False: the row was put back until later, or recorded as skipped."""
        audience_at = _instant(item.extra.get("audience_at"))
        made_on = item.extra.get("made_on")
        decision = gate(item.kind, audience_at, self._clock.now(), self.policy,
                        made_on=date.fromisoformat(made_on) if isinstance(made_on, str) else None)  # fmt: skip
        if isinstance(decision, Defer):
            await self._outbox.defer(item.id, decision.until, "quiet hours")
            return False
        if isinstance(decision, Skip):
            log.info("outbox %s (%s) skipped: %s", item.id, item.kind, decision.reason)
            await self._outbox.mark_skipped(item.id, decision.reason)
            if item.attempts > 1 and self._lost is not None:  # it failed before: an outage made it too late
                await self._lost(item.kind, item.request_id)
            return False
        if item.kind in PLANNED_KINDS and item.request_id is not None and audience_at is not None:  # as planned
            facts = await self._outbox.request_facts(item.request_id)
            reason = no_longer_fits(item.kind, *facts, audience_at) if facts is not None else "request deleted"
            if reason is not None:
                log.info("outbox %s (%s) skipped: %s", item.id, item.kind, reason)
                await self._outbox.mark_skipped(item.id, reason)
                return False
        return True


def _instant(raw: object) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None
