"""Use cases on audience requests. Each runs inside the caller's unit of work and raises domain errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.availability import SlotFree
from handlers.domain.model import (
    Action,
    Actor,
    ActorKind,
    Address,
    AudienceRequest,
    AuditEvent,
    DomainError,
    FileRef,
    NotAuthorized,
    Organization,
    OrganizationType,
    Permission,
    RequestStatus,
    SlotUnavailable,
    StaffMember,
)
from handlers.ports import SlotSuggester, UnitOfWork
from handlers.scheduling import offer_token, time_token
from handlers.usecases import reminders


class RequestNotFound(DomainError):
    pass


class NotYetHeld(DomainError):
    """An audience cannot be marked held or not attended before its time."""

    def __init__(self, request: AudienceRequest) -> None:
        super().__init__(f"{request.reference} has not taken place yet")
        self.request = request


class OfferChanged(DomainError):
    """A button of an earlier offer: the times it names are no longer the ones offered. Nothing changes."""

    def __init__(self, request: AudienceRequest) -> None:
        super().__init__(f"{request.reference}: the offered times have changed")
        self.request = request


class AudienceTimePassed(DomainError):
    """The representative cannot cancel, move or confirm an audience whose time has passed: staff record what
    happened (held or not attended)."""

    def __init__(self, request: AudienceRequest, verb: str) -> None:
        super().__init__(f"{request.reference}: its time has passed ({verb})")
        self.request = request
        self.verb = verb  # "cancel", "reschedule" or "attend"


def ensure_time_ahead(request: AudienceRequest, now: datetime, verb: str) -> None:
    """A booked audience (approved, or with a move asked for) whose start has passed is beyond the representative."""
    booked = request.status in (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED)
    if booked and request.scheduled_at is not None and request.scheduled_at <= now:
        raise AudienceTimePassed(request, verb)


class AlreadyDecided(DomainError):
    """The request is no longer in a state that allows this action: say who moved it, and when."""

    def __init__(self, request: AudienceRequest) -> None:
        super().__init__(f"{request.reference} is {request.status.value}")
        self.request = request


def reference_code(year: int, number: int) -> str:
    return f"AUD-{year}-{number:06d}"


async def submit_request(
    uow: UnitOfWork, *, contact: Address, answers: Mapping[str, Any], now: datetime, tz: ZoneInfo
) -> AudienceRequest:
    given = Organization(
        name=answers["org_name"],
        type=OrganizationType(answers["org_type"]),
        registration_number=answers.get("org_registration"),
    )
    known = await uow.organizations.find_or_add(given)
    # The request keeps the organization as the representative gave it now (the stored row may be spelled
    # differently or carry an older registration number); the id links it to the organization's history.
    organization = replace(given, id=known.id)
    representative = await uow.representatives.find_or_add(
        contact, answers["rep_name"], answers["rep_phone"], organization, answers["rep_position"]
    )
    year = now.astimezone(tz).year
    number = await uow.references.next_value(year)
    letter = answers.get("letter_file")
    request = AudienceRequest(
        reference=reference_code(year, number),
        status=RequestStatus.SUBMITTED,
        organization=organization,
        representative=representative,
        position=answers["rep_position"],
        official_key=answers["official"],
        subject=answers["subject"],
        description=answers["description"],
        attendees=int(answers["attendees"]),
        preferred_times=tuple(sorted(datetime.fromisoformat(v) for v in answers["preferred_times"])),
        contact=contact,
        created_at=now,
        updated_at=now,
        letter_number=answers.get("letter_number"),
        letter_file=FileRef(**letter) if letter else None,
    )
    stored = await uow.requests.add(request)
    assert stored.id is not None
    actor = Actor(ActorKind.REPRESENTATIVE, str(representative.id), representative.full_name)
    await uow.audit.add(AuditEvent(stored.id, now, actor, Action.SUBMIT, None, RequestStatus.SUBMITTED))
    return stored


async def load(uow: UnitOfWork, request_id: int) -> AudienceRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise RequestNotFound(str(request_id))
    return request


def ensure_staff_may_decide(staff: StaffMember, request: AudienceRequest) -> None:
    if not staff.may(Permission.DECIDE, request.official_key):
        raise NotAuthorized(staff.key)


async def check_decidable(uow: UnitOfWork, staff: StaffMember, request_id: int, action: Action) -> AudienceRequest:
    """Before a staff member starts a decision flow: are they allowed, and is the request still open to it?"""
    request = await load(uow, request_id)
    ensure_staff_may_decide(staff, request)
    if not request.may(action):
        raise AlreadyDecided(request)
    return request


async def transition(
    uow: UnitOfWork,
    request: AudienceRequest,
    action: Action,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    **changes: object,
) -> AudienceRequest:
    if not request.may(action):
        raise AlreadyDecided(request)
    updated, event = request.apply(action, actor, now, note, **changes)
    saved = await uow.requests.save_transition(updated, expected_version=request.version)
    await uow.audit.add(event)
    await reminders.after_transition(uow, request, saved, now)
    return saved


async def decide(
    uow: UnitOfWork,
    *,
    staff: StaffMember,
    request_id: int,
    action: Action,
    now: datetime,
    answers: Mapping[str, Any],
    calendars: SlotSuggester,
) -> AudienceRequest:
    """A staff decision made through a flow; times are checked against the calendar once more, under lock."""
    request = await load(uow, request_id)
    ensure_staff_may_decide(staff, request)
    if not request.may(action):
        raise AlreadyDecided(request)
    actor = staff.actor
    if action is Action.APPROVE:
        when = datetime.fromisoformat(answers["time"])
        place = answers["place"]
        await book(uow, calendars, request, when, now)
        return await transition(uow, request, action, actor, now, note=f"{when.isoformat()} {place}",
                                scheduled_at=when, place=place)  # fmt: skip
    if action is Action.REJECT:
        reason = answers["reason"]
        return await transition(uow, request, action, actor, now, note=reason, decision_note=reason)
    if action is Action.REQUEST_INFO:
        question = answers["question"]
        return await transition(uow, request, action, actor, now, note=question, info_question=question)
    if action is Action.PROPOSE_TIME:
        times = await free_times_only(uow, calendars, request, [datetime.fromisoformat(v) for v in answers["times"]],
                                      now)  # fmt: skip
        message = answers.get("message")
        return await transition(uow, request, action, actor, now, note=_note_times(times, message),
                                proposed_times=times, decision_note=message, representative_note=None)  # fmt: skip
    if action is Action.POSTPONE:
        times = await free_times_only(uow, calendars, request, [datetime.fromisoformat(v) for v in answers["times"]],
                                      now)  # fmt: skip
        reason = answers["reason"]
        await uow.bookings.release(request_id)
        return await transition(uow, request, action, actor, now, note=_note_times(times, reason),
                                proposed_times=times, decision_note=reason, representative_note=None)  # fmt: skip
    if action is Action.HAND_OVER:
        target = answers["official"]
        if target == request.official_key:
            raise AlreadyDecided(request)
        message = answers.get("message")
        changes: dict[str, Any] = {}
        if request.status is RequestStatus.APPROVED and request.scheduled_at is not None:
            # The same time with the receiving official: it must be free in their calendar too.
            await book(uow, calendars, replace(request, official_key=target), request.scheduled_at, now)
            changes["place"] = answers.get("place") or request.place
        return await transition(uow, request, action, actor, now, note=f"{request.official_key} -> {target}",
                                official_key=target, handed_over_from=request.handed_over_from or request.official_key,
                                decision_note=message, **changes)  # fmt: skip
    if action is Action.DECLINE_RESCHEDULE:
        reason = answers["reason"]
        original = await uow.bookings.for_request(request_id)
        kept = (original.starts_at,) if original else request.preferred_times
        return await transition(uow, request, action, actor, now, note=reason, decision_note=reason,
                                preferred_times=kept)  # fmt: skip
    raise ValueError(f"not a decision this use case makes: {action}")


async def mark_outcome(
    uow: UnitOfWork, *, staff: StaffMember, request_id: int, action: Action, now: datetime
) -> AudienceRequest:
    """Held (selesai) or not attended (tidak hadir): only once the audience's time has come."""
    request = await load(uow, request_id)
    ensure_staff_may_decide(staff, request)
    if not request.may(action):
        raise AlreadyDecided(request)
    if request.scheduled_at is None or request.scheduled_at > now:
        raise NotYetHeld(request)
    return await transition(uow, request, action, staff.actor, now)


def _note_times(times: Sequence[datetime], message: str | None) -> str:
    listed = ", ".join(t.isoformat() for t in times)
    return f"{listed}: {message}" if message else listed


async def book(
    uow: UnitOfWork, calendars: SlotSuggester, request: AudienceRequest, when: datetime, now: datetime
) -> None:
    """Occupy the official's time for the request (moving its booking if it has one), or refuse politely.

    The official is locked first, so the calendar read here is the one the booking is checked against; the
    database's constraint still refuses an overlap that slips past (another process, another code path).
    """
    assert request.id is not None
    await uow.bookings.lock_official(request.official_key)
    calendar = (await calendars.calendar(uow, request.official_key, now)).ignoring(request.id).for_staff()
    result = calendar.check(when)
    if not isinstance(result, SlotFree):
        raise SlotUnavailable(result.reason.value, result.detail, when)
    await uow.bookings.book(calendar.booking(request.id, when))


async def free_times_only(
    uow: UnitOfWork, calendars: SlotSuggester, request: AudienceRequest, times: Sequence[datetime], now: datetime
) -> tuple[datetime, ...]:
    """Times offered to a representative must still be free now; the first that is not is refused by name."""
    calendar = (await calendars.calendar(uow, request.official_key, now)).ignoring(request.id).for_staff()
    for when in times:
        result = calendar.check(when)
        if not isinstance(result, SlotFree):
            raise SlotUnavailable(result.reason.value, result.detail, when)
    return tuple(sorted(times))


def _representative(request: AudienceRequest) -> Actor:
    return Actor(ActorKind.REPRESENTATIVE, str(request.representative.id), request.representative.full_name)


async def accept_proposal(
    uow: UnitOfWork, *, contact: Address, request_id: int, at: datetime | None, place: str, calendars: SlotSuggester,
    now: datetime,
) -> AudienceRequest:  # fmt: skip
    """The representative taps one of the offered times: the audience is approved at that time, if still free.

    `at` is the time the button names; a time no longer among those offered (a button of an earlier offer), or
    None (a button that named no time), raises OfferChanged and changes nothing.
    """
    request = await owned_request(uow, contact, request_id)
    if not request.may(Action.ACCEPT_PROPOSAL):
        raise AlreadyDecided(request)
    when = next((m for m in request.proposed_times if at is not None and time_token(m) == time_token(at)), None)
    if when is None:
        raise OfferChanged(request)
    await book(uow, calendars, request, when, now)
    return await transition(uow, request, Action.ACCEPT_PROPOSAL, _representative(request), now,
                            note=when.isoformat(), scheduled_at=when, place=place, proposed_times=())  # fmt: skip


def check_offer(request: AudienceRequest, offer: str | None) -> None:
    """A decline answers the offer its button came with (its :func:`offer_token`); any other raises OfferChanged."""
    if not request.may(Action.DECLINE_PROPOSAL):
        raise AlreadyDecided(request)
    if offer != offer_token(request.proposed_times):
        raise OfferChanged(request)


async def decline_proposal(
    uow: UnitOfWork, *, contact: Address, request_id: int, offer: str | None, message: str | None, now: datetime
) -> AudienceRequest:
    request = await owned_request(uow, contact, request_id)
    check_offer(request, offer)
    return await transition(uow, request, Action.DECLINE_PROPOSAL, _representative(request), now, note=message,
                            representative_note=message, proposed_times=())  # fmt: skip


async def cancel(uow: UnitOfWork, *, contact: Address, request_id: int, reason: str, now: datetime) -> AudienceRequest:
    """The representative cancels (pending or approved); an approved audience's time becomes free."""
    request = await owned_request(uow, contact, request_id)
    if not request.may(Action.CANCEL):
        raise AlreadyDecided(request)
    ensure_time_ahead(request, now, "cancel")
    await uow.bookings.release(request_id)
    return await transition(uow, request, Action.CANCEL, _representative(request), now, note=reason,
                            representative_note=reason)  # fmt: skip


async def request_reschedule(
    uow: UnitOfWork, *, contact: Address, request_id: int, times: Sequence[str], message: str | None, now: datetime
) -> AudienceRequest:
    """Ask to move an approved (or postponed) audience; an approved one keeps its time until staff approve."""
    request = await owned_request(uow, contact, request_id)
    if not request.may(Action.REQUEST_RESCHEDULE):
        raise AlreadyDecided(request)
    ensure_time_ahead(request, now, "reschedule")
    preferred = tuple(sorted(datetime.fromisoformat(v) for v in times))
    return await transition(uow, request, Action.REQUEST_RESCHEDULE, _representative(request), now,
                            note=_note_times(preferred, message), preferred_times=preferred,
                            representative_note=message, proposed_times=())  # fmt: skip


async def provide_info(
    uow: UnitOfWork, *, contact: Address, request_id: int, answer: str, now: datetime
) -> AudienceRequest:
    request = await owned_request(uow, contact, request_id)
    return await transition(uow, request, Action.PROVIDE_INFO, _representative(request), now, note=answer)


async def owned_request(uow: UnitOfWork, contact: Address, request_id: int) -> AudienceRequest:
    request = await load(uow, request_id)
    if request.contact != contact:
        raise NotAuthorized(str(request_id))
    return request


def with_history(request: AudienceRequest, events: list[AuditEvent]) -> AudienceRequest:
    return replace(request, history=tuple(events))
