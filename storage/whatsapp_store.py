"""WhatsApp's inbox (webhook events stored, then processed) and its record of sent messages."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage.tables import ConversationRow, WhatsAppAliasRow, WhatsAppInboxRow, WhatsAppSentRow

# The longest WhatsApp id we keep (a business-scoped user id is a country code, a period, up to 128 letters and
# digits, "ENT." for a parent one): the width of every column that holds one (migration 0009).
MAX_KEY = 192
MAX_EVENT_ID = 160  # whatsapp_inbox.event_id
_RECEIPT_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(frozen=True)
class InboxEvent:
    event_id: str
    sender: str
    kind: str  # message | status | other (fields and errors we only record)
    payload: dict[str, Any]
    id: int | None = None
    attempts: int = 0
    sent_at: datetime | None = None  # a message's own time (its `timestamp`), when Meta gives one


@dataclass(frozen=True)
class SentRecord:
    wamid: str
    recipient: str
    outbox_id: int | None
    request_id: int | None
    kind: str
    template: bool
    notice: str | None = None
    part: int | None = None  # which part of its outbox row (several messages, or a text split in parts)


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
                        state="recorded" if event.kind == "other" else "pending",
                        received_at=now,
                        # never later than we got it: a clock ahead of ours must not stretch the 24-hour window
                        sent_at=min(event.sent_at, now) if event.sent_at is not None else None,
                    )
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(col(WhatsAppInboxRow.id))
                )
                if (await session.execute(statement)).first() is not None:
                    stored += 1
        return stored

    async def claim(self, now: datetime, limit: int = 20) -> list[InboxEvent]:
        """Pending events due now, oldest first; each is taken by one processor (SKIP LOCKED on PostgreSQL)."""
        due = or_(col(WhatsAppInboxRow.retry_at).is_(None), col(WhatsAppInboxRow.retry_at) <= now)
        async with self._sessions() as session, session.begin():
            rows = (
                (
                    await session.execute(
                        select(WhatsAppInboxRow)
                        .where(col(WhatsAppInboxRow.state) == "pending", due)
                        .order_by(col(WhatsAppInboxRow.id))
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                row.state, row.claimed_at, row.attempts = "processing", now, row.attempts + 1
            return [_event(r) for r in rows]

    async def finish(self, event_id: int, state: str, now: datetime, error: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WhatsAppInboxRow)
                .where(col(WhatsAppInboxRow.id) == event_id)
                .values(state=state, processed_at=now, claimed_at=None, last_error=error[:500] if error else None)
            )

    async def retry(self, event_id: int, at: datetime, error: str) -> None:
        """A failed attempt: back to pending, not before `at`."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WhatsAppInboxRow)
                .where(col(WhatsAppInboxRow.id) == event_id)
                .values(state="pending", retry_at=at, claimed_at=None, last_error=error[:500])
            )

    async def release_stuck(self, older_than: datetime, max_attempts: int) -> int:
        """Events a killed processor had taken (claimed before `older_than`) go back to pending — processing is
        idempotent — or, after `max_attempts` claims, are given up as failed. Returns how many were released."""
        stuck = and_(col(WhatsAppInboxRow.state) == "processing", col(WhatsAppInboxRow.claimed_at) < older_than)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(WhatsAppInboxRow)
                .where(stuck, col(WhatsAppInboxRow.attempts) >= max_attempts)
                .values(state="failed", claimed_at=None, last_error="abandoned by a processor, too many attempts")
            )
            released = await session.execute(
                update(WhatsAppInboxRow).where(stuck).values(state="pending", claimed_at=None, retry_at=None)
            )
            return int(released.rowcount or 0)  # type: ignore[attr-defined]

    # ---- identities ----------------------------------------------------------------------------------

    async def resolve_sender(self, wa_id: str | None, user_id: str | None, now: datetime) -> str | None:
        """The key a person is kept under. A business-scoped user id first seen beside a phone number (wa_id)
        that already has a conversation or messages stays with that number, so nothing splits."""
        if not user_id:
            return wa_id
        async with self._sessions() as session, session.begin():
            alias = await session.get(WhatsAppAliasRow, user_id)
            if alias is not None:
                return alias.key
            if not wa_id or wa_id == user_id or await self._known(session, user_id):
                return user_id
            if not await self._known(session, wa_id):
                return user_id
            session.add(WhatsAppAliasRow(user_id=user_id, key=wa_id, created_at=now))
            return wa_id

    @staticmethod
    async def _known(session: AsyncSession, key: str) -> bool:
        conversation = exists().where(col(ConversationRow.channel) == "whatsapp",
                                      col(ConversationRow.external_id) == key)  # fmt: skip
        inbox = exists().where(col(WhatsAppInboxRow.sender) == key, col(WhatsAppInboxRow.kind) == "message")
        return bool((await session.execute(select(or_(conversation, inbox)))).scalar())

    async def last_inbound(self, sender: str) -> datetime | None:
        """The last time this person wrote to us: the start of WhatsApp's 24-hour customer-service window. A
        message's own time when Meta gave it (a redelivery may reach us hours after it was written)."""
        written = func.coalesce(col(WhatsAppInboxRow.sent_at), col(WhatsAppInboxRow.received_at))
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(func.max(written)).where(
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
            return [_event(r) for r in rows]

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
                    notice=record.notice,
                    part=record.part,
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
            return SentRecord(row.wamid, row.recipient, row.outbox_id, row.request_id, row.kind, row.template,
                              row.notice, row.part)  # fmt: skip

    async def parts_accepted(self, outbox_id: int) -> tuple[set[int], bool]:
        """Of an outbox row: the parts Meta accepted and has not reported failed, and whether its template was."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(col(WhatsAppSentRow.part), col(WhatsAppSentRow.template)).where(
                    col(WhatsAppSentRow.outbox_id) == outbox_id, col(WhatsAppSentRow.status) != "failed"
                )
            )
            parts, template = set(), False
            for part, is_template in rows:
                if is_template:
                    template = True
                elif part is not None:
                    parts.add(int(part))
            return parts, template

    async def template_sent_for(self, outbox_id: int) -> bool:
        async with self._sessions() as session:
            found = await session.execute(
                select(col(WhatsAppSentRow.wamid)).where(
                    col(WhatsAppSentRow.outbox_id) == outbox_id, col(WhatsAppSentRow.template).is_(True)
                )
            )
            return found.first() is not None

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


def _event(row: WhatsAppInboxRow) -> InboxEvent:
    return InboxEvent(row.event_id, row.sender, row.kind, dict(row.payload), row.id, row.attempts, row.sent_at)


_SUFFIXES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


class MediaFiles:
    """Letters people sent, kept on disk for staff: `<files_dir>/whatsapp/<media id><.pdf|.jpg|.png>`."""

    def __init__(self, files_dir: Path) -> None:
        self._dir = files_dir / "whatsapp"

    def path(self, media_id: str, mime_type: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", media_id) or "media"
        return self._dir / f"{safe}{_SUFFIXES.get(mime_type, '.bin')}"

    def save(self, media_id: str, mime_type: str, content: bytes) -> Path:
        """Write atomically (a temporary file renamed), so staff never open half a letter."""
        target = self.path(media_id, mime_type)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
        temporary.write_bytes(content)
        temporary.replace(target)
        return target
