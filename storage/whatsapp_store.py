"""WhatsApp's inbox (webhook events stored, then processed) and its record of sent messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage.tables import WhatsAppInboxRow, WhatsAppSentRow

_RECEIPT_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(frozen=True)
class InboxEvent:
    event_id: str
    sender: str
    kind: str
    payload: dict[str, Any]
    id: int | None = None


@dataclass(frozen=True)
class SentRecord:
    wamid: str
    recipient: str
    outbox_id: int | None
    request_id: int | None
    kind: str
    template: bool


class WhatsAppStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def store(self, events: Sequence[InboxEvent], now: datetime) -> int:
        """Insert new events; those already stored (Meta's redeliveries) are ignored. Returns how many were new."""
        stored = 0
        async with self._sessions() as session, session.begin():
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            for event in events:
                statement = (
                    insert(WhatsAppInboxRow)
                    .values(
                        event_id=event.event_id,
                        sender=event.sender,
                        kind=event.kind,
                        payload=event.payload,
                        state="pending",
                        received_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(col(WhatsAppInboxRow.id))
                )
                if (await session.execute(statement)).first() is not None:
                    stored += 1
        return stored

    async def claim(self, limit: int = 20) -> list[InboxEvent]:
        """Pending events, oldest first; each is taken by one processor (SKIP LOCKED on PostgreSQL)."""
        async with self._sessions() as session, session.begin():
            rows = (
                (
                    await session.execute(
                        select(WhatsAppInboxRow)
                        .where(col(WhatsAppInboxRow.state) == "pending")
                        .order_by(col(WhatsAppInboxRow.id))
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                row.state = "processing"
            return [InboxEvent(r.event_id, r.sender, r.kind, dict(r.payload), r.id) for r in rows]

    async def finish(self, event_id: int, state: str, now: datetime, error: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WhatsAppInboxRow)
                .where(col(WhatsAppInboxRow.id) == event_id)
                .values(state=state, processed_at=now, last_error=error[:500] if error else None)
            )

    async def release_stuck(self, older_than: datetime) -> None:
        """Events a crashed processor had taken go back to pending (processing is idempotent)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WhatsAppInboxRow)
                .where(col(WhatsAppInboxRow.state) == "processing", col(WhatsAppInboxRow.received_at) < older_than)
                .values(state="pending")
            )

    async def last_inbound(self, sender: str) -> datetime | None:
        """The last time this person wrote to us: the start of WhatsApp's 24-hour customer-service window."""
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(func.max(WhatsAppInboxRow.received_at)).where(
                        col(WhatsAppInboxRow.sender) == sender, col(WhatsAppInboxRow.kind) == "message"
                    )
                )
            ).scalar_one_or_none()

    async def states(self, state: str) -> list[InboxEvent]:
        async with self._sessions() as session:
            rows = (
                (await session.execute(select(WhatsAppInboxRow).where(col(WhatsAppInboxRow.state) == state)))
                .scalars()
                .all()
            )
            return [InboxEvent(r.event_id, r.sender, r.kind, dict(r.payload), r.id) for r in rows]

    async def record_sent(self, record: SentRecord, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                WhatsAppSentRow(
                    wamid=record.wamid,
                    recipient=record.recipient,
                    outbox_id=record.outbox_id,
                    request_id=record.request_id,
                    kind=record.kind,
                    template=record.template,
                    sent_at=now,
                    updated_at=now,
                )
            )

    async def record_status(self, wamid: str, status: str, error_code: int | None, now: datetime) -> SentRecord | None:
        async with self._sessions() as session, session.begin():
            row = await session.get(WhatsAppSentRow, wamid)
            if row is None:
                return None
            # Receipts may be processed out of order (several processors, redeliveries): never move backwards.
            if _RECEIPT_ORDER.get(status, 0) >= _RECEIPT_ORDER.get(row.status, 0):
                row.status, row.error_code, row.updated_at = status, error_code, now
            return SentRecord(row.wamid, row.recipient, row.outbox_id, row.request_id, row.kind, row.template)

    async def sent_to(self, recipient: str) -> list[tuple[str, str, bool, str, int | None]]:
        """(wamid, kind, template, status, error code) of what we sent this person, oldest first."""
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(WhatsAppSentRow)
                        .where(col(WhatsAppSentRow.recipient) == recipient)
                        .order_by(col(WhatsAppSentRow.sent_at))
                    )
                )
                .scalars()
                .all()
            )
            return [(r.wamid, r.kind, r.template, r.status, r.error_code) for r in rows]
