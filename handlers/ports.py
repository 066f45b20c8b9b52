"""The interfaces handlers/ needs from the world. storage/ and bot/ implement them; tests use fakes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from handlers.conversation.state import ConversationState
from handlers.domain.model import (
    Address,
    AudienceRequest,
    AuditEvent,
    Booking,
    DayOffEntry,
    Official,
    Organization,
    Representative,
    RequestStatus,
    StaffMember,
)
from handlers.messages import Notification
from handlers.scheduling import OfficialCalendar


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class ConcurrencyConflict(Exception):
    """Another transaction changed the same data first; the use case reloads and decides again."""


class RequestRepository(Protocol):
    async def add(self, request: AudienceRequest) -> AudienceRequest: ...
    async def get(self, request_id: int) -> AudienceRequest | None: ...
    async def get_by_reference(self, reference: str) -> AudienceRequest | None: ...

    async def save_transition(self, request: AudienceRequest, expected_version: int) -> AudienceRequest:
        """Store a changed request only if nobody changed it since `expected_version` was read.

        Raises ConcurrencyConflict otherwise, so exactly one of two simultaneous decisions wins.
        """
        ...

    async def list_by_status(self, statuses: Sequence[RequestStatus], limit: int = 50) -> list[AudienceRequest]: ...
    async def list_for_contact(self, contact: Address, limit: int = 20) -> list[AudienceRequest]: ...
    async def list_for_official(
        self, official_key: str, statuses: Sequence[RequestStatus], limit: int = 100
    ) -> list[AudienceRequest]: ...


class OrganizationRepository(Protocol):
    async def find_or_add(self, organization: Organization) -> Organization: ...


class RepresentativeRepository(Protocol):
    async def find_or_add(
        self, contact: Address, full_name: str, phone: str, organization: Organization, position: str
    ) -> Representative:
        """The person behind `contact`, created or updated, linked to the organization they represent now."""
        ...


class ConversationRepository(Protocol):
    async def load(self, address: Address) -> ConversationState | None: ...
    async def save(self, address: Address, state: ConversationState) -> None: ...


class AuditRepository(Protocol):
    async def add(self, event: AuditEvent) -> None: ...
    async def for_request(self, request_id: int) -> list[AuditEvent]: ...


class ReferenceSequence(Protocol):
    async def next_value(self, year: int) -> int:
        """The next number for `year`; never returns the same number twice, even after a rollback elsewhere."""
        ...


@dataclass(frozen=True)
class ScheduledMessage:
    """One outbox row as staff see it: what, to whom, when, and how it went."""

    id: int
    kind: str
    channel: str
    external_id: str
    state: str  # pending, sending, sent, failed, skipped, cancelled
    due_at: datetime
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class Outbox(Protocol):
    async def enqueue(
        self, notification: Notification, due_at: datetime, *, key: str | None = None, skipped: str | None = None
    ) -> bool:
        """Queue a message for `due_at`. With `key`, at most one row ever exists for it: False when it did already
        (another worker made today's digest first). With `skipped`, the row is recorded as skipped for that reason.
        """
        ...

    async def cancel_pending(self, request_id: int, kinds: Collection[str], reason: str) -> int:
        """Cancel the request's rows of these kinds that have not been sent yet; how many were cancelled."""
        ...

    async def for_request(self, request_id: int) -> list[ScheduledMessage]:
        """Every message about one request, by due time."""
        ...


class EventLog(Protocol):
    async def first_time(self, channel: str, event_id: str) -> bool:
        """Record an inbound event; False when it was recorded before (a redelivery to ignore)."""
        ...

    async def forget_before(self, cutoff: datetime) -> int:
        """Forget events received before `cutoff` (no platform redelivers them that late); returns how many."""
        ...


class ContactStatus(Protocol):
    async def unreachable(self, address: Address) -> tuple[datetime, str] | None: ...
    async def mark_unreachable(self, address: Address, reason: str, at: datetime) -> None: ...
    async def mark_reachable(self, address: Address) -> None: ...


class BookingRepository(Protocol):
    """Approved audiences occupying officials' time. Two bookings of one official never overlap (with buffers)."""

    async def lock_official(self, official_key: str) -> None:
        """Serialize booking changes for one official until this transaction ends (re-check, then book)."""
        ...

    async def book(self, booking: Booking) -> None:
        """Insert the request's booking, or move it when the request has one already.

        Raises SlotTaken when ``[starts_at, blocked_until)`` overlaps another booking of the same official —
        guaranteed by the database even for two transactions booking at the same instant.
        """
        ...

    async def release(self, request_id: int) -> bool:
        """Free the request's time; False when it held none."""
        ...

    async def for_official(self, official_key: str, start: datetime, end: datetime) -> list[Booking]:
        """Bookings of the official that start before `end` and are blocked past `start`, by start time."""
        ...

    async def for_request(self, request_id: int) -> Booking | None: ...


class DayOffRepository(Protocol):
    """Days staff blocked, per official or for all officials (official_key None)."""

    async def add(self, entry: DayOffEntry) -> DayOffEntry:
        """Store the day; the same official and day again only updates the reason."""
        ...

    async def remove(self, entry_id: int) -> DayOffEntry | None:
        """Delete the entry; None when it did not exist (already removed)."""
        ...

    async def between(self, first: date, last: date, official_key: str | None = None) -> list[DayOffEntry]:
        """Entries with first <= day <= last, by day; with `official_key`, that official's and all-officials ones."""
        ...


class UnitOfWork(Protocol):
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def organizations(self) -> OrganizationRepository: ...
    @property
    def representatives(self) -> RepresentativeRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def references(self) -> ReferenceSequence: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def events(self) -> EventLog: ...
    @property
    def contacts(self) -> ContactStatus: ...
    @property
    def bookings(self) -> BookingRepository: ...
    @property
    def days_off(self) -> DayOffRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Directory(Protocol):
    """The officials and staff the city configured."""

    def officials(self) -> Sequence[Official]: ...
    def official(self, key: str) -> Official | None: ...
    def staff_by_key(self, key: str) -> StaffMember | None: ...
    def staff_for(self, address: Address) -> StaffMember | None: ...
    def staff_addresses(self) -> Sequence[Address]: ...
    def aide_addresses(self) -> Sequence[Address]:
        """Private chats of staff limited to some officials (ajudan): their officials' agendas go there too."""
        ...


class SlotSuggester(Protocol):
    """An official's calendar as it stands in this transaction: rules, holidays, days off and bookings."""

    async def calendar(self, uow: UnitOfWork, official_key: str, now: datetime) -> OfficialCalendar:
        """A snapshot the (pure) flows and use cases ask about free days, free times and single times."""
        ...

    async def suggest(self, uow: UnitOfWork, official_key: str, now: datetime, limit: int) -> Sequence[datetime]:
        """The first `limit` free start times a representative may pick."""
        ...


JSON = dict[str, Any]
