"""Where a channel posted a message about a request (the staff card), so it is edited in place later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage.tables import ChannelMessageRow


class ChannelMessages:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def remember(
        self, channel: str, chat_id: str, message_id: str, request_id: int, kind: str, at: datetime
    ) -> None:
        async with self._sessions() as session, session.begin():
            session.add(ChannelMessageRow(channel=channel, chat_id=chat_id, message_id=message_id,
                                          request_id=request_id, kind=kind, created_at=at))  # fmt: skip

    async def latest(self, channel: str, chat_id: str, request_id: int, kind: str) -> str | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ChannelMessageRow)
                    .where(
                        col(ChannelMessageRow.channel) == channel,
                        col(ChannelMessageRow.chat_id) == chat_id,
                        col(ChannelMessageRow.request_id) == request_id,
                        col(ChannelMessageRow.kind) == kind,
                    )
                    .order_by(col(ChannelMessageRow.id).desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            return row.message_id if row else None

    async def posted_in(self, channel: str, chat_id: str, kind: str) -> bool:
        """Whether a message of this kind (a staff card) was ever posted in the chat."""
        async with self._sessions() as session:
            found = await session.execute(
                select(col(ChannelMessageRow.id))
                .where(
                    col(ChannelMessageRow.channel) == channel,
                    col(ChannelMessageRow.chat_id) == chat_id,
                    col(ChannelMessageRow.kind) == kind,
                )
                .limit(1)
            )
            return found.first() is not None
