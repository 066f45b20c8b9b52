"""The SQL unit of work: one transaction, the repositories bound to it, and storage errors made domain-shaped."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.domain.model import SlotTaken
from handlers.ports import Clock, ConcurrencyConflict
from storage.repositories import (
    EXCLUSION_VIOLATION,
    SqlAudit,
    SqlBookings,
    SqlContactStatus,
    SqlConversations,
    SqlDaysOff,
    SqlEventLog,
    SqlOrganizations,
    SqlOutbox,
    SqlReferenceSequence,
    SqlRepresentatives,
    SqlRequests,
    sqlstate,
)

# PostgreSQL: serialization_failure, deadlock_detected, unique_violation on a racing insert.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "23505"}


def _is_slot_taken(error: BaseException) -> bool:
    """An exclusion violation: two bookings of one official would overlap. A refusal, not something to retry."""
    return isinstance(error, DBAPIError) and sqlstate(error) == EXCLUSION_VIOLATION


def _is_conflict(error: BaseException) -> bool:
    if _is_slot_taken(error):
        return False
    if isinstance(error, IntegrityError):
        return True
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if code in _RETRYABLE_SQLSTATES:
            return True
        return "database is locked" in str(error.orig)
    return False


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        session = self._sessions()
        session.info["now"] = self._clock.now()
        await session.begin()
        self._session = session
        self.requests = SqlRequests(session)
        self.organizations = SqlOrganizations(session)
        self.representatives = SqlRepresentatives(session)
        self.conversations = SqlConversations(session)
        self.audit = SqlAudit(session)
        self.references = SqlReferenceSequence(session)
        self.outbox = SqlOutbox(session)
        self.events = SqlEventLog(session)
        self.contacts = SqlContactStatus(session)
        self.bookings = SqlBookings(session)
        self.days_off = SqlDaysOff(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self._session
        assert session is not None
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None
        if exc is not None and _is_slot_taken(exc):
            raise SlotTaken() from exc
        if exc is not None and _is_conflict(exc):
            raise ConcurrencyConflict(str(exc)) from exc

    async def commit(self) -> None:
        assert self._session is not None
        try:
            await self._session.commit()
        except (IntegrityError, DBAPIError) as error:
            if _is_slot_taken(error):
                raise SlotTaken() from error
            if _is_conflict(error):
                raise ConcurrencyConflict(str(error)) from error
            raise

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None
        return self._session
