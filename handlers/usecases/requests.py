"""Use cases on audience requests. Each runs inside the caller's unit of work and raises domain errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
    StaffMember,
)
from handlers.ports import UnitOfWork
from handlers.usecases import reminders


class RequestNotFound(DomainError):
    pass


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
    organization = await uow.organizations.find_or_add(
        Organization(
            name=answers["org_name"],
            type=OrganizationType(answers["org_type"]),
            registration_number=answers.get("org_registration"),
        )
    )
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
) -> AudienceRequest:
    request = await load(uow, request_id)
    ensure_staff_may_decide(staff, request)
    if action is Action.APPROVE:
        when = datetime.fromisoformat(answers["time"])
        return await transition(
            uow, request, action, staff.actor, now, note=answers["place"], scheduled_at=when, place=answers["place"]
        )
    if action is Action.REJECT:
        reason = answers["reason"]
        return await transition(uow, request, action, staff.actor, now, note=reason, decision_note=reason)
    if action is Action.REQUEST_INFO:
        question = answers["question"]
        return await transition(uow, request, action, staff.actor, now, note=question, info_question=question)
    raise ValueError(f"not a decision this use case makes: {action}")


async def provide_info(
    uow: UnitOfWork, *, contact: Address, request_id: int, answer: str, now: datetime
) -> AudienceRequest:
    request = await load(uow, request_id)
    if request.contact != contact:
        raise NotAuthorized(str(request_id))
    actor = Actor(ActorKind.REPRESENTATIVE, str(request.representative.id), request.representative.full_name)
    return await transition(uow, request, Action.PROVIDE_INFO, actor, now, note=answer)


async def owned_request(uow: UnitOfWork, contact: Address, request_id: int) -> AudienceRequest:
    request = await load(uow, request_id)
    if request.contact != contact:
        raise NotAuthorized(str(request_id))
    return request


def with_history(request: AudienceRequest, events: list[AuditEvent]) -> AudienceRequest:
    return replace(request, history=tuple(events))
