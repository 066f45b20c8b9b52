"""Keep the official table in step with the city's configuration (requests refer to officials by key)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.domain.model import Official
from storage.tables import OfficialRow


async def sync_officials(sessions: async_sessionmaker[AsyncSession], officials: Sequence[Official]) -> None:
    """Upsert configured officials; ones removed from the file are kept, inactive, so old requests still read."""
    async with sessions() as session, session.begin():
        existing = {row.key: row for row in (await session.execute(select(OfficialRow))).scalars().all()}
        configured = {o.key for o in officials}
        for official in officials:
            row = existing.get(official.key)
            if row is None:
                session.add(
                    OfficialRow(
                        key=official.key,
                        name=official.name,
                        title=official.title,
                        office=official.office,
                        room=official.room,
                        active=official.active,
                    )
                )
            else:
                row.name, row.title, row.office, row.room, row.active = (
                    official.name, official.title, official.office, official.room, official.active)  # fmt: skip
        for key, row in existing.items():
            if key not in configured:
                row.active = False
