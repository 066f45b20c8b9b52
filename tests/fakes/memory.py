"""In-memory implementations of handlers/ports.py, behaving like the SQL ones (transactions included)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Self

from handlers.conversation.state import ConversationState
from handlers.domain.model import (
    Address,
    AudienceRequest,
    AuditEvent,
    Booking,
    DayOffEntry,
    Organization,
    Representative,
    RequestStatus,
    SlotTaken,
)
from handlers.messages import Notification
from handlers.ports import ConcurrencyConflict, ScheduledMessage


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        assert start.tzinfo is not None
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


@dataclass
class OutboxEntry:
    id: int
    notification: Notification
    due_at: datetime
    created_at: datetime
    state: str = "pending"
    key: str | None = None
    last_error: str | None = None


@dataclass
class MemoryData:
    requests: dict[int, AudienceRequest] = field(default_factory=dict)
    organizations: list[Organization] = field(default_factory=list)
    representatives: dict[int, Representative] = field(default_factory=dict)
    identities: dict[Address, int] = field(default_factory=dict)
    conversations: dict[Address, dict[str, object]] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    counters: dict[int, int] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    events: set[tuple[str, str]] = field(default_factory=set)
    unreachable: dict[Address, tuple[datetime, str]] = field(default_factory=dict)
    bookings: dict[int, Booking] = field(default_factory=dict)
    days_off: dict[int, DayOffEntry] = field(default_factory=dict)
    next_id: int = 1


class MemoryDatabase:
    """Committed data plus a lock: one unit of work at a time, like SQLite's BEGIN IMMEDIATE."""

    def __init__(self) -> None:
        self.data = MemoryData()
        self.lock = asyncio.Lock()

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    @property
    def notifications(self) -> list[Notification]:
        return [entry.notification for entry in self.data.outbox]


class MemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._work: MemoryData | None = None

    async def __aenter__(self) -> Self:
        await self._db.lock.acquire()
        self._work = copy.deepcopy(self._db.data)
        work = self._work
        self.requests = _Requests(work)
        self.organizations = _Organizations(work)
        self.representatives = _Representatives(work)
        self.conversations = _Conversations(work)
        self.audit = _Audit(work)
        self.references = _References(work)
        self.outbox = _Outbox(work)
        self.events = _Events(work)
        self.contacts = _Contacts(work)
        self.bookings = _Bookings(work)
        self.days_off = _DaysOff(work)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._work = None
        self._db.lock.release()

    async def commit(self) -> None:
        assert self._work is not None
        self._db.data = self._work
        self._work = copy.deepcopy(self._work)


def _new_id(data: MemoryData) -> int:
    value = data.next_id
    data.next_id += 1
    return value


class _Requests:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def add(self, request: AudienceRequest) -> AudienceRequest:
        if any(r.reference == request.reference for r in self._d.requests.values()):
            raise ConcurrencyConflict(request.reference)
        stored = replace(request, id=_new_id(self._d), version=0)
        self._d.requests[stored.id] = stored  # type: ignore[index]
        return stored

    async def get(self, request_id: int) -> AudienceRequest | None:
        return self._d.requests.get(request_id)

    async def get_by_reference(self, reference: str) -> AudienceRequest | None:
        return next((r for r in self._d.requests.values() if r.reference == reference), None)

    async def save_transition(self, request: AudienceRequest, expected_version: int) -> AudienceRequest:
        assert request.id is not None
        current = self._d.requests.get(request.id)
        if current is None or current.version != expected_version:
            raise ConcurrencyConflict(request.reference)
        stored = replace(request, version=expected_version + 1)
        self._d.requests[request.id] = stored
        return stored

    async def list_by_status(self, statuses: Sequence[RequestStatus], limit: int = 50) -> list[AudienceRequest]:
        found = [r for r in self._d.requests.values() if r.status in statuses]
        return sorted(found, key=lambda r: (r.created_at, r.id or 0))[:limit]

    async def list_for_contact(self, contact: Address, limit: int = 20) -> list[AudienceRequest]:
        found = [r for r in self._d.requests.values() if r.contact == contact]
        return sorted(found, key=lambda r: (r.created_at, r.id or 0), reverse=True)[:limit]

    async def list_for_official(
        self, official_key: str, statuses: Sequence[RequestStatus], limit: int = 100
    ) -> list[AudienceRequest]:
        found = [r for r in self._d.requests.values() if r.official_key == official_key and r.status in statuses]
        return sorted(found, key=lambda r: (r.created_at, r.id or 0))[:limit]


class _Organizations:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def find_or_add(self, organization: Organization) -> Organization:
        for index, known in enumerate(self._d.organizations):
            if known.name.casefold() == organization.name.casefold() and known.type == organization.type:
                if organization.registration_number and known.registration_number != organization.registration_number:
                    known = replace(known, registration_number=organization.registration_number)
                    self._d.organizations[index] = known
                return known
        stored = replace(organization, id=_new_id(self._d))
        self._d.organizations.append(stored)
        return stored


class _Representatives:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def find_or_add(
        self, contact: Address, full_name: str, phone: str, organization: Organization, position: str
    ) -> Representative:
        person_id = self._d.identities.get(contact)
        if person_id is None:
            person_id = _new_id(self._d)
            self._d.identities[contact] = person_id
        person = Representative(full_name, phone, person_id)
        self._d.representatives[person_id] = person
        return person


class _Conversations:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def load(self, address: Address) -> ConversationState | None:
        stored = self._d.conversations.get(address)
        return ConversationState.from_dict(copy.deepcopy(stored)) if stored is not None else None  # type: ignore[arg-type]

    async def save(self, address: Address, state: ConversationState) -> None:
        self._d.conversations[address] = state.to_dict()


class _Audit:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def add(self, event: AuditEvent) -> None:
        self._d.audit.append(event)

    async def for_request(self, request_id: int) -> list[AuditEvent]:
        return [e for e in self._d.audit if e.request_id == request_id]


class _References:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def next_value(self, year: int) -> int:
        self._d.counters[year] = self._d.counters.get(year, 0) + 1
        return self._d.counters[year]


class _Outbox:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def enqueue(
        self, notification: Notification, due_at: datetime, *, key: str | None = None, skipped: str | None = None
    ) -> bool:
        if key is not None and any(e.key == key for e in self._d.outbox):
            return False
        self._d.outbox.append(
            OutboxEntry(
                _new_id(self._d), notification, due_at, due_at, "skipped" if skipped else "pending", key, skipped
            )
        )
        return True

    async def cancel_pending(self, request_id: int, kinds: Collection[str], reason: str) -> int:
        cancelled = 0
        for entry in self._d.outbox:
            n = entry.notification
            if n.request_id == request_id and n.kind in kinds and entry.state == "pending":
                entry.state, entry.last_error = "cancelled", reason
                cancelled += 1
        return cancelled

    async def for_request(self, request_id: int) -> list[ScheduledMessage]:
        found = [e for e in self._d.outbox if e.notification.request_id == request_id]
        return [
            ScheduledMessage(e.id, e.notification.kind, e.notification.channel, e.notification.external_id, e.state,
                             e.due_at, 0, e.last_error, None)
            for e in sorted(found, key=lambda e: (e.due_at, e.id))
        ]  # fmt: skip


class _Events:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def first_time(self, channel: str, event_id: str) -> bool:
        if (channel, event_id) in self._d.events:
            return False
        self._d.events.add((channel, event_id))
        return True

    async def forget_before(self, cutoff: datetime) -> int:
        return 0  # the memory backend keeps no times; it lives for one test


class _Contacts:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def unreachable(self, address: Address) -> tuple[datetime, str] | None:
        return self._d.unreachable.get(address)

    async def mark_unreachable(self, address: Address, reason: str, at: datetime) -> None:
        self._d.unreachable.setdefault(address, (at, reason))

    async def mark_reachable(self, address: Address) -> None:
        self._d.unreachable.pop(address, None)


class _Bookings:
    """Like the SQL table with its exclusion constraint: overlapping bookings of one official are refused."""

    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def lock_official(self, official_key: str) -> None:
        return None  # one unit of work at a time already

    async def book(self, booking: Booking) -> None:
        for other in self._d.bookings.values():
            if (
                other.official_key == booking.official_key
                and other.request_id != booking.request_id
                and other.starts_at < booking.blocked_until
                and booking.starts_at < other.blocked_until
            ):
                raise SlotTaken(booking.starts_at)
        self._d.bookings[booking.request_id] = booking

    async def release(self, request_id: int) -> bool:
        return self._d.bookings.pop(request_id, None) is not None

    async def for_official(self, official_key: str, start: datetime, end: datetime) -> list[Booking]:
        found = [
            b for b in self._d.bookings.values()
            if b.official_key == official_key and b.starts_at < end and b.blocked_until > start
        ]  # fmt: skip
        return sorted(found, key=lambda b: b.starts_at)

    async def for_request(self, request_id: int) -> Booking | None:
        return self._d.bookings.get(request_id)


class _DaysOff:
    def __init__(self, data: MemoryData) -> None:
        self._d = data

    async def add(self, entry: DayOffEntry) -> DayOffEntry:
        for known in self._d.days_off.values():
            if known.official_key == entry.official_key and known.day == entry.day:
                updated = replace(known, reason=entry.reason, added_by=entry.added_by, opens=entry.opens)
                self._d.days_off[known.id] = updated  # type: ignore[index]
                return updated
        stored = replace(entry, id=_new_id(self._d))
        self._d.days_off[stored.id] = stored  # type: ignore[index]
        return stored

    async def remove(self, entry_id: int) -> DayOffEntry | None:
        return self._d.days_off.pop(entry_id, None)

    async def between(self, first: date, last: date, official_key: str | None = None) -> list[DayOffEntry]:
        found = [
            e for e in self._d.days_off.values()
            if first <= e.day <= last and (official_key is None or e.official_key in (None, official_key))
        ]  # fmt: skip
        return sorted(found, key=lambda e: (e.day, e.id or 0))
