"""The audience-request domain: who asks, whom they ask, and what happens to the request.

Plain dataclasses with no knowledge of chat platforms or databases. Status changes happen only through
:meth:`AudienceRequest.apply`, which consults the transition table and returns the audit event to record.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from handlers.i18n import N_


class OrganizationType(enum.StrEnum):
    ORMAS = "ormas"
    LSM = "lsm"
    YAYASAN = "yayasan"
    KARANG_TARUNA = "karang_taruna"
    PILAR_SOSIAL = "pilar_sosial"
    DPRD = "dprd"
    INSTANSI = "instansi"
    LAINNYA = "lainnya"


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    COUNTER_OFFERED = "counter_offered"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    # An approved audience whose representative asked to move it: the original time stays booked meanwhile.
    RESCHEDULE_REQUESTED = "reschedule_requested"
    # The official postponed an approved audience: its time is freed and the representative picks a new one.
    POSTPONED = "postponed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES

    @property
    def awaits_staff(self) -> bool:
        return self in (RequestStatus.SUBMITTED, RequestStatus.RESCHEDULE_REQUESTED)


_FINAL_STATUSES = frozenset(
    {
        RequestStatus.REJECTED,
        RequestStatus.CANCELLED,
        RequestStatus.EXPIRED,
        RequestStatus.COMPLETED,
        RequestStatus.NO_SHOW,
    }
)


class Action(enum.StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    PROPOSE_TIME = "propose_time"
    ACCEPT_PROPOSAL = "accept_proposal"
    DECLINE_PROPOSAL = "decline_proposal"
    CANCEL = "cancel"
    EXPIRE = "expire"
    COMPLETE = "complete"
    MARK_NO_SHOW = "mark_no_show"
    HAND_OVER = "hand_over"  # disposisi: another official receives the representative
    POSTPONE = "postpone"
    REQUEST_RESCHEDULE = "request_reschedule"
    DECLINE_RESCHEDULE = "decline_reschedule"
    # Not a status change: the representative's rating and comment after the audience, kept in the audit trail.
    FEEDBACK = "feedback"


S = RequestStatus
A = Action

# The whole status machine. Anything not listed here is illegal and raises IllegalTransition.
TRANSITIONS: dict[tuple[RequestStatus, Action], RequestStatus] = {
    (S.SUBMITTED, A.APPROVE): S.APPROVED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.SUBMITTED, A.REQUEST_INFO): S.INFO_REQUESTED,
    (S.SUBMITTED, A.PROPOSE_TIME): S.COUNTER_OFFERED,
    (S.SUBMITTED, A.CANCEL): S.CANCELLED,
    (S.SUBMITTED, A.EXPIRE): S.EXPIRED,
    (S.INFO_REQUESTED, A.PROVIDE_INFO): S.SUBMITTED,
    (S.INFO_REQUESTED, A.REJECT): S.REJECTED,
    (S.INFO_REQUESTED, A.CANCEL): S.CANCELLED,
    (S.INFO_REQUESTED, A.EXPIRE): S.EXPIRED,
    (S.COUNTER_OFFERED, A.ACCEPT_PROPOSAL): S.APPROVED,
    (S.COUNTER_OFFERED, A.DECLINE_PROPOSAL): S.SUBMITTED,
    (S.COUNTER_OFFERED, A.CANCEL): S.CANCELLED,
    (S.COUNTER_OFFERED, A.EXPIRE): S.EXPIRED,
    (S.SUBMITTED, A.HAND_OVER): S.SUBMITTED,
    # Disposisi of an approved audience: another official receives them at the same time.
    (S.APPROVED, A.HAND_OVER): S.APPROVED,
    (S.APPROVED, A.CANCEL): S.CANCELLED,
    (S.APPROVED, A.COMPLETE): S.COMPLETED,
    (S.APPROVED, A.MARK_NO_SHOW): S.NO_SHOW,
    (S.APPROVED, A.POSTPONE): S.POSTPONED,
    (S.APPROVED, A.REQUEST_RESCHEDULE): S.RESCHEDULE_REQUESTED,
    (S.RESCHEDULE_REQUESTED, A.APPROVE): S.APPROVED,
    (S.RESCHEDULE_REQUESTED, A.DECLINE_RESCHEDULE): S.APPROVED,
    (S.RESCHEDULE_REQUESTED, A.POSTPONE): S.POSTPONED,
    (S.RESCHEDULE_REQUESTED, A.CANCEL): S.CANCELLED,
    # A move staff never decided: the original time stood, so its outcome is recorded as for an approved one.
    (S.RESCHEDULE_REQUESTED, A.COMPLETE): S.COMPLETED,
    (S.RESCHEDULE_REQUESTED, A.MARK_NO_SHOW): S.NO_SHOW,
    (S.POSTPONED, A.ACCEPT_PROPOSAL): S.APPROVED,
    (S.POSTPONED, A.REQUEST_RESCHEDULE): S.SUBMITTED,
    (S.POSTPONED, A.CANCEL): S.CANCELLED,
    (S.POSTPONED, A.EXPIRE): S.EXPIRED,
}

# Staff decisions: they record who decided and when, so a second decision is refused by name.
STAFF_DECISIONS = frozenset({
    A.APPROVE, A.REJECT, A.REQUEST_INFO, A.PROPOSE_TIME, A.HAND_OVER, A.POSTPONE, A.DECLINE_RESCHEDULE,
    A.COMPLETE, A.MARK_NO_SHOW,
})  # fmt: skip


class DomainError(Exception):
    """Base for refusals the conversation turns into a polite message."""


class IllegalTransition(DomainError):
    def __init__(self, status: RequestStatus, action: Action) -> None:
        super().__init__(f"cannot {action.value} a request that is {status.value}")
        self.status = status
        self.action = action


class NotAuthorized(DomainError):
    pass


class SlotUnavailable(DomainError):
    """A time cannot be booked. ``reason`` is an availability RefusalReason value ("taken", "holiday", …)."""

    def __init__(self, reason: str, detail: str | None = None, at: datetime | None = None) -> None:
        super().__init__(f"slot unavailable: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail
        self.at = at


class SlotTaken(SlotUnavailable):
    """Another approved audience of the same official already occupies the time (or its buffer)."""

    def __init__(self, at: datetime | None = None) -> None:
        super().__init__("taken", None, at)


@dataclass(frozen=True)
class Booking:
    """An approved audience occupying an official's time: ``[starts_at, ends_at)``, blocked until the buffer ends.

    The storage guarantees two bookings of one official never overlap on ``[starts_at, blocked_until)``.
    """

    request_id: int
    official_key: str
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime


@dataclass(frozen=True)
class DayOffEntry:
    """A day staff blocked (regional holiday, changed decree, out-of-town agenda); no official = all of them.

    With ``opens`` it is the opposite: a working day although the `holidays` package closes it (a cuti bersama
    moved by a new decree, an estimated date — "perkiraan" — that proved wrong); ``reason`` says why.
    """

    official_key: str | None
    day: date
    reason: str
    added_by: str
    id: int | None = None
    opens: bool = False


class ActorKind(enum.StrEnum):
    REPRESENTATIVE = "representative"
    STAFF = "staff"
    SYSTEM = "system"


# The bot itself (expiring overdue requests): stored as this message id and translated wherever it is shown.
SYSTEM_ACTOR_NAME = N_("System")


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    name: str  # as stored; for the system actor a message id: show it with presenters.actor_name()

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "system", SYSTEM_ACTOR_NAME)


@dataclass(frozen=True)
class Organization:
    name: str
    type: OrganizationType
    registration_number: str | None = None
    id: int | None = None

    @property
    def is_registered(self) -> bool:
        return bool(self.registration_number)


@dataclass(frozen=True)
class Representative:
    full_name: str
    phone: str
    id: int | None = None


@dataclass(frozen=True)
class Official:
    key: str
    name: str
    title: str
    office: str
    room: str
    active: bool = True

    @property
    def display(self) -> str:
        return f"{self.title} ({self.name})"


class Permission(enum.StrEnum):
    VIEW = "view"
    DECIDE = "decide"


class StaffRole(enum.StrEnum):
    """What a staff member may do. Units (Protokol, Bagian Umum, Kesbangpol, ajudan) are free text."""

    ADMIN = "admin"
    DECIDER = "pemutus"
    VIEWER = "pemantau"

    @property
    def permissions(self) -> frozenset[Permission]:
        if self is StaffRole.VIEWER:
            return frozenset({Permission.VIEW})
        return frozenset({Permission.VIEW, Permission.DECIDE})


@dataclass(frozen=True)
class StaffMember:
    key: str
    name: str
    unit: str
    roles: tuple[StaffRole, ...]
    # Empty means every official; an ajudan is usually limited to the official they serve.
    officials: tuple[str, ...] = ()
    telegram_user_id: int | None = None
    whatsapp_id: str | None = None

    def may(self, permission: Permission, official_key: str) -> bool:
        if self.officials and official_key not in self.officials and StaffRole.ADMIN not in self.roles:
            return False
        return any(permission in role.permissions for role in self.roles)

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind.STAFF, self.key, self.name)


@dataclass(frozen=True)
class FileRef:
    """A file a person sent, kept by reference to the channel that holds it."""

    channel: str
    file_id: str
    name: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class Address:
    """Where a person (or a staff group) is reached: a channel and that channel's id for them."""

    channel: str
    external_id: str


@dataclass(frozen=True)
class AuditEvent:
    request_id: int
    at: datetime
    actor: Actor
    action: Action
    from_status: RequestStatus | None
    to_status: RequestStatus
    note: str | None = None


@dataclass(frozen=True)
class AudienceRequest:
    reference: str
    status: RequestStatus
    organization: Organization
    representative: Representative
    position: str
    official_key: str
    subject: str
    description: str
    attendees: int
    preferred_times: tuple[datetime, ...]
    contact: Address
    created_at: datetime
    letter_number: str | None = None
    letter_file: FileRef | None = None
    scheduled_at: datetime | None = None
    place: str | None = None
    info_question: str | None = None
    decision_note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    # Times staff proposed (counter-offer) or offered after a postponement; the representative taps one.
    proposed_times: tuple[datetime, ...] = ()
    # Disposisi: the official first asked for, when another official receives the representative instead.
    handed_over_from: str | None = None
    # The representative's last word to staff (declining a proposal, asking to move, cancelling).
    representative_note: str | None = None
    updated_at: datetime | None = None
    id: int | None = None
    version: int = 0
    history: tuple[AuditEvent, ...] = field(default=(), compare=False)

    def apply(
        self,
        action: Action,
        actor: Actor,
        at: datetime,
        note: str | None = None,
        **changes: object,
    ) -> tuple[AudienceRequest, AuditEvent]:
        """Move to the status the transition table gives, or raise IllegalTransition.

        Returns the changed request and the audit event that records the change; the caller stores both
        in one transaction.
        """
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            raise IllegalTransition(self.status, action)
        if self.id is None:
            raise ValueError("a request must be stored before its status changes")
        decided: dict[str, object] = {}
        if action in STAFF_DECISIONS:
            decided = {"decided_by": actor.name, "decided_at": at}
        updated = replace(self, status=target, updated_at=at, **decided, **changes)  # type: ignore[arg-type]
        event = AuditEvent(self.id, at, actor, action, self.status, target, note)
        return updated, event

    def may(self, action: Action) -> bool:
        return (self.status, action) in TRANSITIONS
