"""SQLModel tables. Enums are stored as plain strings so migrations stay simple; JSON columns are reassigned."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# A person's id on a channel: a Telegram chat id, a WhatsApp number, or a WhatsApp business-scoped user id —
# a country code, a period and up to 128 letters and digits ("ENT." in a parent one) — with room to spare
# (migration 0009 widened these columns from 64).
EXTERNAL_ID_LENGTH = 192


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class OrganizationRow(SQLModel, table=True):
    __tablename__ = "organization"
    __table_args__ = (Index("ix_organization_lookup", "name_key", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)  # case-folded name, to recognise the same organization again
    type: str = Field(max_length=32)
    registration_number: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc()


class RepresentativeRow(SQLModel, table=True):
    __tablename__ = "representative"

    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(max_length=120)
    phone: str = Field(max_length=20)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class ChannelIdentityRow(SQLModel, table=True):
    """A representative as known to one channel; one person may write from Telegram and WhatsApp."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=EXTERNAL_ID_LENGTH)
    representative_id: int = Field(sa_column=Column(Integer, ForeignKey("representative.id"), nullable=False))


class RepresentationRow(SQLModel, table=True):
    """Who represented which organization, in which position; a person may represent several over time."""

    __tablename__ = "representation"
    __table_args__ = (UniqueConstraint("representative_id", "organization_id", name="uq_representation"),)

    id: int | None = Field(default=None, primary_key=True)
    representative_id: int = Field(sa_column=Column(Integer, ForeignKey("representative.id"), nullable=False))
    organization_id: int = Field(sa_column=Column(Integer, ForeignKey("organization.id"), nullable=False))
    position: str = Field(max_length=100)
    first_seen: datetime = _utc()
    last_seen: datetime = _utc()


class OfficialRow(SQLModel, table=True):
    """Officials as configured; kept (inactive) when removed from the configuration so history still reads."""

    __tablename__ = "official"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=120)
    title: str = Field(max_length=120)
    office: str = Field(max_length=200)
    room: str = Field(max_length=200)
    active: bool = True


class AudienceRequestRow(SQLModel, table=True):
    """An audience request. The organization and representative ids link to the people; the *_name/phone/type
    columns are the snapshot of what was given when it was submitted, which is what everyone is shown."""

    __tablename__ = "audience_request"
    __table_args__ = (Index("ix_audience_request_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True)
    status: str = Field(max_length=32)
    organization_id: int = Field(sa_column=Column(Integer, ForeignKey("organization.id"), nullable=False))
    representative_id: int = Field(sa_column=Column(Integer, ForeignKey("representative.id"), nullable=False))
    # The request as it was filed: who asked and for which organization, kept even when the same channel account
    # later files another request under another name or the organization's row changes (migration 0006).
    representative_name: str = Field(max_length=120)
    representative_phone: str = Field(max_length=20)
    position: str = Field(max_length=100)
    organization_name: str = Field(max_length=200)
    organization_type: str = Field(max_length=32)
    organization_registration_number: str | None = Field(default=None, max_length=64)
    official_key: str = Field(sa_column=Column(String(64), ForeignKey("official.key"), nullable=False))
    subject: str = Field(max_length=250)
    description: str = Field(sa_column=Column(Text, nullable=False))
    attendees: int
    preferred_times: list[str] = Field(sa_column=Column(JSON, nullable=False))
    contact_channel: str = Field(max_length=16)
    contact_external_id: str = Field(max_length=EXTERNAL_ID_LENGTH)
    letter_number: str | None = Field(default=None, max_length=64)
    letter_file: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    scheduled_at: datetime | None = _utc(nullable=True)
    place: str | None = Field(default=None, max_length=200)
    info_question: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decision_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = _utc(nullable=True)
    proposed_times: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    handed_over_from: str | None = Field(default=None, max_length=64)
    representative_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    version: int = 0


Index("ix_audience_request_contact", AudienceRequestRow.contact_channel, AudienceRequestRow.contact_external_id)


# A representative's rating of an audience is one audit event; two processes recording one at once cannot keep two.
ONE_RATING = "action = 'feedback' AND note LIKE 'rating %'"


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("uq_audit_one_rating", "request_id", unique=True, sqlite_where=text(ONE_RATING),
              postgresql_where=text(ONE_RATING)),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("audience_request.id"), nullable=False, index=True))
    at: datetime = _utc()
    actor_kind: str = Field(max_length=16)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=120)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversation"

    channel: str = Field(primary_key=True, max_length=16)
    external_id: str = Field(primary_key=True, max_length=EXTERNAL_ID_LENGTH)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc()


class ReferenceCounterRow(SQLModel, table=True):
    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_type=Integer, sa_column_kwargs={"autoincrement": False})
    last_value: int = 0


class OutboxRow(SQLModel, table=True):
    """Messages the bot owes someone: written in the same transaction as the change that causes them."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "due_at"),
        Index("ix_outbox_recipient", "channel", "external_id"),
        Index("ix_outbox_request", "request_id", "kind"),
        Index("uq_outbox_dedupe_key", "dedupe_key", unique=True),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=EXTERNAL_ID_LENGTH)
    kind: str = Field(max_length=32)
    request_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("audience_request.id"), nullable=True)
    )
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=16)
    due_at: datetime = _utc()
    attempts: int = 0
    claimed_until: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    # A message that must exist once at most (a day's digest for one recipient): the second insert is a no-op.
    dedupe_key: str | None = Field(default=None, max_length=256)


class ProcessedEventRow(SQLModel, table=True):
    """Inbound events already handled (Telegram update_id, WhatsApp message id): redeliveries are ignored."""

    __tablename__ = "processed_event"

    channel: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=160)
    received_at: datetime = _utc()


class ChannelMessageRow(SQLModel, table=True):
    """Where a message about a request was posted (a staff card), so it can be edited in place later."""

    __tablename__ = "channel_message"
    __table_args__ = (Index("ix_channel_message_request", "request_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=EXTERNAL_ID_LENGTH)
    message_id: str = Field(max_length=EXTERNAL_ID_LENGTH)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("audience_request.id"), nullable=False))
    kind: str = Field(max_length=32)
    created_at: datetime = _utc()


class ContactStatusRow(SQLModel, table=True):
    """A person the bot cannot reach any more (blocked the bot, number gone): staff see it on the card."""

    __tablename__ = "contact_status"

    channel: str = Field(primary_key=True, max_length=16)
    external_id: str = Field(primary_key=True, max_length=EXTERNAL_ID_LENGTH)
    unreachable_since: datetime = _utc()
    reason: str = Field(max_length=200)


class BookingRow(SQLModel, table=True):
    """An approved audience occupying its official's time, written in the same transaction as the approval.

    On PostgreSQL an exclusion constraint (migration 0003) keeps two bookings of one official from overlapping
    on ``[starts_at, blocked_until)``; on SQLite writers are serialized and the repository checks first.
    """

    __tablename__ = "booking"
    __table_args__ = (Index("ix_booking_official_start", "official_key", "starts_at"),)

    request_id: int = Field(
        sa_column=Column(Integer, ForeignKey("audience_request.id"), primary_key=True, autoincrement=False)
    )
    official_key: str = Field(sa_column=Column(String(64), ForeignKey("official.key"), nullable=False))
    starts_at: datetime = _utc()
    ends_at: datetime = _utc()
    blocked_until: datetime = _utc()  # end of the audience plus the official's buffer


class DayOffRow(SQLModel, table=True):
    """A day staff blocked for one official, or for all of them (official_key NULL)."""

    __tablename__ = "day_off"
    __table_args__ = (Index("ix_day_off_day", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    official_key: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("official.key"), nullable=True)
    )
    day: date = Field(sa_column=Column(Date, nullable=False))
    reason: str = Field(max_length=200)
    added_by: str = Field(max_length=120)
    created_at: datetime = _utc()
    # True: not a day off but a working day the `holidays` package closes (a changed decree, a wrong estimate).
    opens: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


class WhatsAppInboxRow(SQLModel, table=True):
    """Webhook events as Meta delivered them: stored first (the webhook answers 200 at once), then processed.

    The unique event id (the message id, or status id + status) makes a redelivery a no-op at insertion.
    """

    __tablename__ = "whatsapp_inbox"
    __table_args__ = (Index("ix_whatsapp_inbox_state", "state", "id"), Index("ix_whatsapp_inbox_sender", "sender"))

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=160, unique=True)
    sender: str = Field(max_length=EXTERNAL_ID_LENGTH)
    kind: str = Field(max_length=16)  # message | status
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # pending | processing | done | unsupported | ignored | recorded | failed
    state: str = Field(default="pending", max_length=16)
    received_at: datetime = _utc()
    # A message's own time (its `timestamp`, never later than received_at): WhatsApp's 24-hour window starts there.
    sent_at: datetime | None = _utc(nullable=True)
    processed_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    attempts: int = 0  # claims so far; an event that keeps failing is given up after a few
    claimed_at: datetime | None = _utc(nullable=True)  # the lease: a processor killed mid-event leaves it here
    retry_at: datetime | None = _utc(nullable=True)  # a failed attempt waits until then (backoff)


class WhatsAppSentRow(SQLModel, table=True):
    """What we sent (by wamid), so delivery receipts and failures reach the notice they belong to."""

    __tablename__ = "whatsapp_sent"
    __table_args__ = (Index("ix_whatsapp_sent_outbox", "outbox_id"),)

    wamid: str = Field(primary_key=True, max_length=160)
    recipient: str = Field(max_length=EXTERNAL_ID_LENGTH)
    outbox_id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    )
    request_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    kind: str = Field(max_length=32)
    template: bool = False
    status: str = Field(default="accepted", max_length=16)
    error_code: int | None = None
    sent_at: datetime = _utc()
    updated_at: datetime = _utc()
    # The notice on one line, for sending it again as the template when Meta reports 131047 late.
    notice: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Which part of its outbox row this was (a long text is split, a choice may follow it): a row tried again
    # resumes at the first part not yet accepted instead of sending the others twice.
    part: int | None = None


class WhatsAppAliasRow(SQLModel, table=True):
    """A business-scoped user id that belongs to a person first known by their phone number (wa_id)."""

    __tablename__ = "whatsapp_alias"

    user_id: str = Field(primary_key=True, max_length=EXTERNAL_ID_LENGTH)
    key: str = Field(max_length=EXTERNAL_ID_LENGTH)  # the key their conversation, requests and window are kept under
    created_at: datetime = _utc()
