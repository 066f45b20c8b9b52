"""What every deliverer asks before sending a due outbox row: now, later (quiet hours), or never (pointless)."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.ports import Clock
from handlers.reminders import Defer, ReminderPolicy, Skip, gate
from storage.outbox import OutboxItem, OutboxStore

log = logging.getLogger(__name__)


class DeliveryGate:
    def __init__(self, outbox: OutboxStore, policy: ReminderPolicy, clock: Clock) -> None:
        self._outbox = outbox
        self.policy = policy
        self._clock = clock

    async def allow(self, item: OutboxItem) -> bool:
        """True: send it now. False: the row was put back until later, or recorded as skipped."""
        raw = item.extra.get("audience_at")
        audience_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        decision = gate(item.kind, audience_at, self._clock.now(), self.policy)
        if isinstance(decision, Defer):
            await self._outbox.defer(item.id, decision.until, "quiet hours")
            return False
        if isinstance(decision, Skip):
            log.info("outbox %s (%s) skipped: %s", item.id, item.kind, decision.reason)
            await self._outbox.mark_skipped(item.id, decision.reason)
            return False
        return True
