"""Claiming and marking outbox rows, for whatever delivers them (console, Telegram, WhatsApp, the worker).

A row is claimed by moving it to "sending" with a lease; a deliverer that dies leaves the lease to expire and
the row is claimed again. On PostgreSQL claims use FOR UPDATE SKIP LOCKED so several workers never take the
same row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handlers.domain.model import RequestStatus
from handlers.messages import Outbound, outbound_from_dict
from storage.tables import AudienceRequestRow, OutboxRow

HEAD_PAGE = 200  # due rows read at a time when looking for each recipient's oldest
PENDING, SENDING, SENT, FAILED, SKIPPED, CANCELLED = "pending", "sending", "sent", "failed", "skipped", "cancelled"


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str
    external_id: str
    kind: str
    request_id: int | None
    messages: tuple[Outbound, ...]
    extra: dict[str, Any]
    attempts: int
    due_at: datetime


class OutboxStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim(
        self,
        now: datetime,
        *,
        channel: str | None = None,
        external_id: str | None = None,
        limit: int = 50,
        lease: timedelta = timedelta(minutes=2),
        one_per_recipient: bool = False,
        exclude: Collection[int] = (),
    ) -> list[OutboxItem]:
        """Claim due rows, oldest first.

        `one_per_recipient`: only the oldest due row of each recipient, and none of a recipient whose row is being
        sent (by this process or another) — so one person's messages leave in order while several people's go
        side by side, and a recipient held up by its rate limit holds up nobody else.
        `exclude`: rows not to claim now (they failed earlier in the deliverer's round).
        """
        if one_per_recipient:
            return await self._claim_heads(now, channel, limit, lease, set(exclude))
        conditions = [_due(OutboxRow, now)]
        if channel is not None:
            conditions.append(col(OutboxRow.channel) == channel)
        if external_id is not None:
            conditions.append(col(OutboxRow.external_id) == external_id)
        if exclude:
            conditions.append(col(OutboxRow.id).not_in(list(exclude)))
        async with self._sessions() as session, session.begin():
            query = (
                select(OutboxRow)
                .where(*conditions)
                .order_by(col(OutboxRow.due_at), col(OutboxRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            return _lease((await session.execute(query)).scalars().all(), now + lease)

    async def _claim_heads(
        self, now: datetime, channel: str | None, limit: int, lease: timedelta, exclude: set[int]
    ) -> list[OutboxItem]:
        """The oldest due row of each recipient with no row on its way (see `claim`).

        Due rows are read in (due time, id) order a page at a time, through the (state, due_at) index: a
        recipient's first row in that order is its oldest, and the rows after it are not heads. Recipients with a
        row being sent (a live lease) are left out. The heads found are then locked — SKIP LOCKED: one another
        process is claiming is simply not ours — and the due condition checked again on the locked rows, so a
        row claimed meanwhile by another process is not claimed twice. The cost follows the rows read, not the
        size of the queue.
        """
        async with self._sessions() as session, session.begin():
            where = [_due(OutboxRow, now)]
            if channel is not None:
                where.append(col(OutboxRow.channel) == channel)
            busy_query = select(OutboxRow.channel, OutboxRow.external_id).where(  # type: ignore[call-overload]
                col(OutboxRow.state) == SENDING, col(OutboxRow.claimed_until) >= now
            )
            firsts: list[tuple[int, tuple[str, str]]] = []  # each recipient's first due row, in order
            seen: set[tuple[str, str]] = set()
            heads: list[int] = []
            after: tuple[datetime, int] | None = None
            while True:
                page_query = select(OutboxRow.id, OutboxRow.channel, OutboxRow.external_id, OutboxRow.due_at).where(  # type: ignore[call-overload]
                    *where
                )
                if after is not None:
                    due_at, row_id = col(OutboxRow.due_at), col(OutboxRow.id)
                    page_query = page_query.where(or_(due_at > after[0], and_(due_at == after[0], row_id > after[1])))
                page_query = page_query.order_by(col(OutboxRow.due_at), col(OutboxRow.id)).limit(HEAD_PAGE)
                page = (await session.execute(page_query)).all()
                for row_id, row_channel, external_id, _due_at in page:
                    if (row_channel, external_id) not in seen:  # its later rows wait for this one
                        seen.add((row_channel, external_id))
                        firsts.append((row_id, (row_channel, external_id)))
                # Who is being sent to, read *after* the rows: a row another process claimed between the two reads
                # shows here, so its recipient's next row is never taken for a head (read before, it could be).
                busy = {(c, e) for c, e in (await session.execute(busy_query)).all()}
                heads = [r for r, who in firsts if who not in busy and r not in exclude][:limit]
                if len(heads) >= limit or len(page) < HEAD_PAGE:
                    break
                after = (page[-1][3], page[-1][0])
            if not heads:
                return []
            query = (
                select(OutboxRow)
                .where(col(OutboxRow.id).in_(heads), _due(OutboxRow, now))
                .order_by(col(OutboxRow.due_at), col(OutboxRow.id))
                .with_for_update(skip_locked=True)
            )
            return _lease((await session.execute(query)).scalars().all(), now + lease)

    async def mark_sent(self, item_id: int, now: datetime) -> None:
        await self._set(item_id, state=SENT, sent_at=now, claimed_until=None, last_error=None)

    async def mark_failed(self, item_id: int, error: str, *, retry_at: datetime | None = None) -> None:
        """Record why a delivery failed; with retry_at it goes back to pending for that time."""
        if retry_at is not None:
            await self._set(item_id, state=PENDING, due_at=retry_at, claimed_until=None, last_error=error[:500])
        else:
            await self._set(item_id, state=FAILED, claimed_until=None, last_error=error[:500])

    async def fail_for_good(self, item_id: int, error: str) -> bool:
        """Failed, not to be tried again. True only the first time (the row was not failed yet), so that whoever
        tells staff about it tells them once, however many failure receipts arrive."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == item_id, col(OutboxRow.state) != FAILED)
                .values(state=FAILED, claimed_until=None, last_error=error[:500])
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def attempts_of(self, item_id: int) -> int | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, item_id)
            return row.attempts if row else None

    async def mark_skipped(self, item_id: int, reason: str) -> None:
        """Not sent on purpose (a reminder for an audience already past); recorded with the reason."""
        await self._set(item_id, state=SKIPPED, claimed_until=None, last_error=reason[:500])

    async def defer(self, item_id: int, until: datetime, note: str) -> None:
        """Back to pending until `until` (quiet hours); not a failed attempt."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == item_id)
                .values(
                    state=PENDING,
                    due_at=until,
                    claimed_until=None,
                    last_error=note[:500],
                    attempts=col(OutboxRow.attempts) - 1,
                )
            )

    async def _set(self, item_id: int, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(OutboxRow).where(col(OutboxRow.id) == item_id).values(**values))

    async def request_facts(self, request_id: int) -> tuple[RequestStatus, datetime | None] | None:
        """The request's status and time as they are now (what a planned message is checked against)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(AudienceRequestRow.status, AudienceRequestRow.scheduled_at).where(  # type: ignore[call-overload]
                        col(AudienceRequestRow.id) == request_id
                    )
                )
            ).first()
        return (RequestStatus(row[0]), row[1]) if row is not None else None

    async def states_for(self, request_id: int) -> list[tuple[str, str, str, str | None]]:
        """(kind, recipient, state, last error) of every message about one request, oldest first."""
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(OutboxRow).where(col(OutboxRow.request_id) == request_id).order_by(col(OutboxRow.id))
                    )
                )
                .scalars()
                .all()
            )
            return [(r.kind, f"{r.channel}:{r.external_id}", r.state, r.last_error) for r in rows]


def _due(table: Any, now: datetime) -> Any:
    """Pending and due, or claimed by a deliverer whose lease has run out (it died mid-send)."""
    return or_(
        and_(table.state == PENDING, table.due_at <= now),
        and_(table.state == SENDING, table.claimed_until < now),
    )


def _lease(rows: Collection[OutboxRow], until: datetime) -> list[OutboxItem]:
    """Mark locked rows as on their way until `until`, counting the attempt."""
    for row in rows:
        row.state = SENDING
        row.claimed_until = until
        row.attempts += 1
    return [_item(row) for row in rows]


def _item(row: OutboxRow) -> OutboxItem:
    assert row.id is not None
    payload = row.payload
    return OutboxItem(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        kind=row.kind,
        request_id=row.request_id,
        messages=tuple(outbound_from_dict(m) for m in payload.get("messages", [])),
        extra=dict(payload.get("extra", {})),
        attempts=row.attempts,
        due_at=row.due_at,
    )
