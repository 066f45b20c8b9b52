"""SQL implementations of the repositories handlers/ports.py declares."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handlers.conversation.state import ConversationState
from handlers.domain.model import (
    Action,
    Actor,
    ActorKind,
    Address,
    AudienceRequest,
    AuditEvent,
    Booking,
    DayOffEntry,
    FileRef,
    Organization,
    OrganizationType,
    Representative,
    RequestStatus,
    SlotTaken,
)
from handlers.messages import Notification, outbound_to_dict
from handlers.ports import ConcurrencyConflict, ScheduledMessage
from storage.tables import (
    AudienceRequestRow,
    AuditEventRow,
    BookingRow,
    ChannelIdentityRow,
    ContactStatusRow,
    ConversationRow,
    DayOffRow,
    OfficialRow,
    OrganizationRow,
    OutboxRow,
    ProcessedEventRow,
    ReferenceCounterRow,
    RepresentationRow,
    RepresentativeRow,
)


def _now_of(session: AsyncSession) -> datetime:
    now: datetime = session.info["now"]
    return now


class SqlOrganizations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def find_or_add(self, organization: Organization) -> Organization:
        key = organization.name.casefold()
        row = (
            await self._s.execute(
                select(OrganizationRow)
                .where(col(OrganizationRow.name_key) == key, col(OrganizationRow.type) == organization.type.value)
                .order_by(col(OrganizationRow.id))
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            row = OrganizationRow(
                name=organization.name,
                name_key=key,
                type=organization.type.value,
                registration_number=organization.registration_number,
                created_at=_now_of(self._s),
            )
            self._s.add(row)
            await self._s.flush()
        elif organization.registration_number and row.registration_number != organization.registration_number:
            row.registration_number = organization.registration_number
            await self._s.flush()
        return _organization(row)


def _same_name(name: str) -> str:
    return " ".join(name.replace(".", " ").replace(",", " ").split()).casefold()


def _organization(row: OrganizationRow) -> Organization:
    return Organization(row.name, OrganizationType(row.type), row.registration_number, row.id)


class SqlRepresentatives:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def find_or_add(
        self, contact: Address, full_name: str, phone: str, organization: Organization, position: str
    ) -> Representative:
        now = _now_of(self._s)
        identity = (
            await self._s.execute(
                select(ChannelIdentityRow).where(
                    col(ChannelIdentityRow.channel) == contact.channel,
                    col(ChannelIdentityRow.external_id) == contact.external_id,
                )
            )
        ).scalar_one_or_none()
        person: RepresentativeRow | None = None
        if identity is not None:
            person = await self._s.get(RepresentativeRow, identity.representative_id)
        if person is not None and _same_name(person.full_name) != _same_name(full_name):
            # Another person now writes from this account (a new chairperson on the organization's phone):
            # they get their own row, and the account is theirs from now on. Earlier requests keep their own
            # snapshot of who filed them either way.
            person = None
        if person is None:
            person = RepresentativeRow(full_name=full_name, phone=phone, created_at=now, updated_at=now)
            self._s.add(person)
            await self._s.flush()
            assert person.id is not None
            if identity is None:
                self._s.add(ChannelIdentityRow(channel=contact.channel, external_id=contact.external_id,
                                               representative_id=person.id))  # fmt: skip
            else:
                identity.representative_id = person.id
        elif (person.full_name, person.phone) != (full_name, phone):
            # The same person with a new number or a corrected spelling: their latest details.
            person.full_name, person.phone, person.updated_at = full_name, phone, now
        assert person.id is not None and organization.id is not None
        link = (
            await self._s.execute(
                select(RepresentationRow).where(
                    col(RepresentationRow.representative_id) == person.id,
                    col(RepresentationRow.organization_id) == organization.id,
                )
            )
        ).scalar_one_or_none()
        if link is None:
            self._s.add(RepresentationRow(representative_id=person.id, organization_id=organization.id,
                                          position=position, first_seen=now, last_seen=now))  # fmt: skip
        else:
            link.position, link.last_seen = position, now
        await self._s.flush()
        return Representative(person.full_name, person.phone, person.id)


class SqlRequests:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, request: AudienceRequest) -> AudienceRequest:
        row = AudienceRequestRow(**_request_columns(request), version=0)
        self._s.add(row)
        await self._s.flush()
        return await self._domain(row)

    async def get(self, request_id: int) -> AudienceRequest | None:
        row = await self._s.get(AudienceRequestRow, request_id, populate_existing=True)
        return await self._domain(row) if row else None

    async def get_by_reference(self, reference: str) -> AudienceRequest | None:
        row = (
            await self._s.execute(select(AudienceRequestRow).where(col(AudienceRequestRow.reference) == reference))
        ).scalar_one_or_none()
        return await self._domain(row) if row else None

    async def save_transition(self, request: AudienceRequest, expected_version: int) -> AudienceRequest:
        assert request.id is not None
        columns = _request_columns(request)
        result = await self._s.execute(
            update(AudienceRequestRow)
            .where(col(AudienceRequestRow.id) == request.id, col(AudienceRequestRow.version) == expected_version)
            .values(**columns, version=expected_version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(request.reference)
        stored = await self.get(request.id)
        assert stored is not None
        return stored

    async def list_by_status(self, statuses: Sequence[RequestStatus], limit: int = 50) -> list[AudienceRequest]:
        rows = (
            (
                await self._s.execute(
                    select(AudienceRequestRow)
                    .where(col(AudienceRequestRow.status).in_([s.value for s in statuses]))
                    .order_by(col(AudienceRequestRow.created_at), col(AudienceRequestRow.id))
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        return [await self._domain(row) for row in rows]

    async def list_for_contact(self, contact: Address, limit: int = 20) -> list[AudienceRequest]:
        rows = (
            (
                await self._s.execute(
                    select(AudienceRequestRow)
                    .where(
                        col(AudienceRequestRow.contact_channel) == contact.channel,
                        col(AudienceRequestRow.contact_external_id) == contact.external_id,
                    )
                    .order_by(col(AudienceRequestRow.created_at).desc(), col(AudienceRequestRow.id).desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        return [await self._domain(row) for row in rows]

    async def list_for_official(
        self, official_key: str, statuses: Sequence[RequestStatus], limit: int = 100
    ) -> list[AudienceRequest]:
        rows = (
            (
                await self._s.execute(
                    select(AudienceRequestRow)
                    .where(
                        col(AudienceRequestRow.official_key) == official_key,
                        col(AudienceRequestRow.status).in_([s.value for s in statuses]),
                    )
                    .order_by(col(AudienceRequestRow.created_at), col(AudienceRequestRow.id))
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        return [await self._domain(row) for row in rows]

    async def _domain(self, row: AudienceRequestRow) -> AudienceRequest:
        # What was given when the request was submitted, not what the organization/person rows say today.
        return AudienceRequest(
            id=row.id,
            reference=row.reference,
            status=RequestStatus(row.status),
            organization=Organization(
                row.organization_name,
                OrganizationType(row.organization_type),
                row.organization_registration_number,
                row.organization_id,
            ),
            representative=Representative(row.representative_name, row.representative_phone, row.representative_id),
            position=row.position,
            official_key=row.official_key,
            subject=row.subject,
            description=row.description,
            attendees=row.attendees,
            preferred_times=tuple(datetime.fromisoformat(v) for v in row.preferred_times),
            contact=Address(row.contact_channel, row.contact_external_id),
            created_at=row.created_at,
            updated_at=row.updated_at,
            letter_number=row.letter_number,
            letter_file=FileRef(**row.letter_file) if row.letter_file else None,
            scheduled_at=row.scheduled_at,
            place=row.place,
            info_question=row.info_question,
            decision_note=row.decision_note,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            proposed_times=tuple(datetime.fromisoformat(v) for v in row.proposed_times or ()),
            handed_over_from=row.handed_over_from,
            representative_note=row.representative_note,
            version=row.version,
        )


def _request_columns(request: AudienceRequest) -> dict[str, Any]:
    assert request.organization.id is not None and request.representative.id is not None
    file = request.letter_file
    return {
        "reference": request.reference,
        "status": request.status.value,
        "organization_id": request.organization.id,
        "representative_id": request.representative.id,
        "representative_name": request.representative.full_name,
        "representative_phone": request.representative.phone,
        "organization_name": request.organization.name,
        "organization_type": request.organization.type.value,
        "organization_registration_number": request.organization.registration_number,
        "position": request.position,
        "official_key": request.official_key,
        "subject": request.subject,
        "description": request.description,
        "attendees": request.attendees,
        "preferred_times": [m.isoformat() for m in request.preferred_times],
        "contact_channel": request.contact.channel,
        "contact_external_id": request.contact.external_id,
        "letter_number": request.letter_number,
        "letter_file": (
            {
                "channel": file.channel,
                "file_id": file.file_id,
                "name": file.name,
                "mime_type": file.mime_type,
                "size": file.size,
            }
            if file
            else None
        ),
        "scheduled_at": request.scheduled_at,
        "place": request.place,
        "info_question": request.info_question,
        "decision_note": request.decision_note,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
        "proposed_times": [m.isoformat() for m in request.proposed_times] or None,
        "handed_over_from": request.handed_over_from,
        "representative_note": request.representative_note,
        "created_at": request.created_at,
        "updated_at": request.updated_at or request.created_at,
    }


class SqlAudit:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, event: AuditEvent) -> None:
        self._s.add(AuditEventRow(
            request_id=event.request_id, at=event.at, actor_kind=event.actor.kind.value, actor_id=event.actor.id,
            actor_name=event.actor.name, action=event.action.value,
            from_status=event.from_status.value if event.from_status else None, to_status=event.to_status.value,
            note=event.note))  # fmt: skip
        await self._s.flush()

    async def for_request(self, request_id: int) -> list[AuditEvent]:
        rows = (
            (
                await self._s.execute(
                    select(AuditEventRow)
                    .where(col(AuditEventRow.request_id) == request_id)
                    .order_by(col(AuditEventRow.at), col(AuditEventRow.id))
                )
            )
            .scalars()
            .all()
        )
        return [
            AuditEvent(r.request_id, r.at, Actor(ActorKind(r.actor_kind), r.actor_id, r.actor_name), Action(r.action),
                       RequestStatus(r.from_status) if r.from_status else None, RequestStatus(r.to_status), r.note)
            for r in rows
        ]  # fmt: skip


class SqlConversations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def load(self, address: Address) -> ConversationState | None:
        row = await self._s.get(ConversationRow, (address.channel, address.external_id), populate_existing=True)
        return ConversationState.from_dict(row.state) if row else None

    async def save(self, address: Address, state: ConversationState) -> None:
        row = await self._s.get(ConversationRow, (address.channel, address.external_id))
        if row is None:
            self._s.add(ConversationRow(channel=address.channel, external_id=address.external_id,
                                        state=state.to_dict(), updated_at=_now_of(self._s)))  # fmt: skip
        else:
            row.state = state.to_dict()  # reassigned, never mutated in place: JSON columns track assignment only
            row.updated_at = _now_of(self._s)
        await self._s.flush()


class SqlReferenceSequence:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def next_value(self, year: int) -> int:
        dialect = self._s.bind.dialect.name if self._s.bind else "sqlite"
        upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(ReferenceCounterRow)
        await self._s.execute(upsert.values(year=year, last_value=0).on_conflict_do_nothing(index_elements=["year"]))
        result = await self._s.execute(
            update(ReferenceCounterRow)
            .where(col(ReferenceCounterRow.year) == year)
            .values(last_value=col(ReferenceCounterRow.last_value) + 1)
            .returning(col(ReferenceCounterRow.last_value))
        )
        return int(result.scalar_one())


class SqlOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def enqueue(
        self, notification: Notification, due_at: datetime, *, key: str | None = None, skipped: str | None = None
    ) -> bool:
        payload = {"messages": [outbound_to_dict(m) for m in notification.messages], "extra": notification.extra}
        values = {
            "channel": notification.channel,
            "external_id": notification.external_id,
            "kind": notification.kind,
            "request_id": notification.request_id,
            "payload": payload,
            "state": "skipped" if skipped else "pending",
            "last_error": skipped[:500] if skipped else None,
            "due_at": due_at,
            "attempts": 0,
            "created_at": _now_of(self._s),
            "dedupe_key": key,
        }
        if key is None:
            await self._s.execute(insert(OutboxRow).values(**values))
            return True
        statement = (
            _upsert_for(self._s)(OutboxRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(col(OutboxRow.id))
        )
        return (await self._s.execute(statement)).first() is not None

    async def cancel_pending(self, request_id: int, kinds: Collection[str], reason: str) -> int:
        result = await self._s.execute(
            update(OutboxRow)
            .where(
                col(OutboxRow.request_id) == request_id,
                col(OutboxRow.kind).in_(list(kinds)),
                col(OutboxRow.state) == "pending",
            )
            .values(state="cancelled", last_error=reason[:500])
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def for_request(self, request_id: int) -> list[ScheduledMessage]:
        rows = (
            (
                await self._s.execute(
                    select(OutboxRow)
                    .where(col(OutboxRow.request_id) == request_id)
                    .order_by(col(OutboxRow.due_at), col(OutboxRow.id))
                )
            )
            .scalars()
            .all()
        )
        return [
            ScheduledMessage(r.id or 0, r.kind, r.channel, r.external_id, r.state, r.due_at, r.attempts,
                             r.last_error, r.sent_at)
            for r in rows
        ]  # fmt: skip


async def count_rows(session: AsyncSession, table: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def _upsert_for(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


class SqlEventLog:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def first_time(self, channel: str, event_id: str) -> bool:
        statement = (
            _upsert_for(self._s)(ProcessedEventRow)
            .values(channel=channel, event_id=event_id, received_at=_now_of(self._s))
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(col(ProcessedEventRow.event_id))
        )
        return (await self._s.execute(statement)).first() is not None

    async def forget_before(self, cutoff: datetime) -> int:
        result = await self._s.execute(delete(ProcessedEventRow).where(col(ProcessedEventRow.received_at) < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class SqlContactStatus:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def unreachable(self, address: Address) -> tuple[datetime, str] | None:
        row = await self._s.get(ContactStatusRow, (address.channel, address.external_id))
        return (row.unreachable_since, row.reason) if row else None

    async def mark_unreachable(self, address: Address, reason: str, at: datetime) -> None:
        row = await self._s.get(ContactStatusRow, (address.channel, address.external_id))
        if row is None:
            self._s.add(ContactStatusRow(channel=address.channel, external_id=address.external_id,
                                         unreachable_since=at, reason=reason[:200]))  # fmt: skip
            await self._s.flush()

    async def mark_reachable(self, address: Address) -> None:
        row = await self._s.get(ContactStatusRow, (address.channel, address.external_id))
        if row is not None:
            await self._s.delete(row)
            await self._s.flush()


# PostgreSQL exclusion_violation: the booking constraint refused an overlapping booking.
EXCLUSION_VIOLATION = "23P01"


def sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code) if code else None


def _booking(row: BookingRow) -> Booking:
    return Booking(row.request_id, row.official_key, row.starts_at, row.ends_at, row.blocked_until)


class SqlBookings:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    def _dialect(self) -> str:
        return self._s.bind.dialect.name if self._s.bind else "sqlite"

    async def lock_official(self, official_key: str) -> None:
        if self._dialect() == "postgresql":
            # FOR NO KEY UPDATE: serializes bookers of one official without blocking the KEY SHARE locks that
            # inserting or updating requests (foreign keys to the official) take.
            await self._s.execute(
                select(col(OfficialRow.key)).where(col(OfficialRow.key) == official_key).with_for_update(key_share=True)
            )
        # SQLite: every writing transaction already holds the database's write lock (BEGIN IMMEDIATE).

    async def book(self, booking: Booking) -> None:
        clash = (
            await self._s.execute(
                select(col(BookingRow.request_id))
                .where(
                    col(BookingRow.official_key) == booking.official_key,
                    col(BookingRow.request_id) != booking.request_id,
                    col(BookingRow.starts_at) < booking.blocked_until,
                    col(BookingRow.blocked_until) > booking.starts_at,
                )
                .limit(1)
            )
        ).first()
        if clash is not None:
            raise SlotTaken(booking.starts_at)
        try:
            # A savepoint: when the database refuses, the transaction stays usable for the polite answer.
            async with self._s.begin_nested():
                await self._s.execute(delete(BookingRow).where(col(BookingRow.request_id) == booking.request_id))
                await self._s.execute(
                    insert(BookingRow).values(
                        request_id=booking.request_id,
                        official_key=booking.official_key,
                        starts_at=booking.starts_at,
                        ends_at=booking.ends_at,
                        blocked_until=booking.blocked_until,
                    )
                )
        except DBAPIError as error:
            if sqlstate(error) == EXCLUSION_VIOLATION:
                raise SlotTaken(booking.starts_at) from error
            raise

    async def release(self, request_id: int) -> bool:
        result = await self._s.execute(delete(BookingRow).where(col(BookingRow.request_id) == request_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def for_official(self, official_key: str, start: datetime, end: datetime) -> list[Booking]:
        rows = (
            (
                await self._s.execute(
                    select(BookingRow)
                    .where(
                        col(BookingRow.official_key) == official_key,
                        col(BookingRow.starts_at) < end,
                        col(BookingRow.blocked_until) > start,
                    )
                    .order_by(col(BookingRow.starts_at))
                )
            )
            .scalars()
            .all()
        )
        return [_booking(row) for row in rows]

    async def for_request(self, request_id: int) -> Booking | None:
        row = await self._s.get(BookingRow, request_id, populate_existing=True)
        return _booking(row) if row else None


def _day_off(row: DayOffRow) -> DayOffEntry:
    return DayOffEntry(row.official_key, row.day, row.reason, row.added_by, row.id, row.opens)


class SqlDaysOff:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, entry: DayOffEntry) -> DayOffEntry:
        same_official = (
            col(DayOffRow.official_key).is_(None)
            if entry.official_key is None
            else col(DayOffRow.official_key) == entry.official_key
        )
        row = (
            await self._s.execute(select(DayOffRow).where(same_official, col(DayOffRow.day) == entry.day).limit(1))
        ).scalar_one_or_none()
        if row is None:
            row = DayOffRow(official_key=entry.official_key, day=entry.day, reason=entry.reason,
                            added_by=entry.added_by, created_at=_now_of(self._s), opens=entry.opens)  # fmt: skip
            self._s.add(row)
        else:
            row.reason, row.added_by, row.opens = entry.reason, entry.added_by, entry.opens
        await self._s.flush()
        return _day_off(row)

    async def remove(self, entry_id: int) -> DayOffEntry | None:
        row = await self._s.get(DayOffRow, entry_id)
        if row is None:
            return None
        removed = _day_off(row)
        await self._s.delete(row)
        await self._s.flush()
        return removed

    async def between(self, first: date, last: date, official_key: str | None = None) -> list[DayOffEntry]:
        query = select(DayOffRow).where(col(DayOffRow.day) >= first, col(DayOffRow.day) <= last)
        if official_key is not None:
            query = query.where(or_(col(DayOffRow.official_key).is_(None), col(DayOffRow.official_key) == official_key))
        rows = (await self._s.execute(query.order_by(col(DayOffRow.day), col(DayOffRow.id)))).scalars().all()
        return [_day_off(row) for row in rows]
