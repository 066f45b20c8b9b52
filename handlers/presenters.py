"""How requests read to people: the staff card, a status line, decision notices. Plain text on every channel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handlers.availability import SlotRefused
from handlers.domain.model import (
    SYSTEM_ACTOR_NAME,
    Action,
    Actor,
    ActorKind,
    AudienceRequest,
    AuditEvent,
    Official,
    Permission,
    RequestStatus,
    StaffMember,
)
from handlers.flows.request_audience import ORGANIZATION_TYPE_LABELS, show_letter_file
from handlers.i18n import N_, Translator
from handlers.messages import Choice, Option, Outbound, Text
from handlers.scheduling import (
    OfficialCalendar,
    describe_times,
    offer_token,
    refusal_text,
    time_token,
    times_overlap,
)
from handlers.validators import show_phone

STATUS_LABELS: dict[RequestStatus, str] = {
    RequestStatus.SUBMITTED: N_("Awaiting decision"),
    RequestStatus.INFO_REQUESTED: N_("Information requested"),
    RequestStatus.COUNTER_OFFERED: N_("Another time proposed"),
    RequestStatus.APPROVED: N_("Approved"),
    RequestStatus.REJECTED: N_("Rejected"),
    RequestStatus.CANCELLED: N_("Cancelled"),
    RequestStatus.EXPIRED: N_("Expired"),
    RequestStatus.COMPLETED: N_("Held"),
    RequestStatus.NO_SHOW: N_("Not attended"),
    RequestStatus.RESCHEDULE_REQUESTED: N_("New time requested"),
    RequestStatus.POSTPONED: N_("Postponed by the official"),
}
HELD_BY_ANOTHER = N_("Held — received by another official")

ACTION_LABELS: dict[Action, str] = {
    Action.APPROVE: N_("Approve"),
    Action.REJECT: N_("Reject"),
    Action.REQUEST_INFO: N_("Ask for information"),
    Action.PROPOSE_TIME: N_("Propose another time"),
    Action.HAND_OVER: N_("Disposisi"),
    Action.COMPLETE: N_("Held"),
    Action.MARK_NO_SHOW: N_("Not attended"),
    Action.POSTPONE: N_("Postponed"),
    Action.DECLINE_RESCHEDULE: N_("Keep the current time"),
}

# Staff card buttons: the global key word (g:<word>:<id>) for each action; keys stay far below 64 bytes.
ACTION_KEYS: dict[Action, str] = {
    Action.APPROVE: "approve",
    Action.REJECT: "reject",
    Action.REQUEST_INFO: "info",
    Action.PROPOSE_TIME: "propose",
    Action.HAND_OVER: "handover",
    Action.COMPLETE: "held",
    Action.MARK_NO_SHOW: "noshow",
    Action.POSTPONE: "postpone",
    Action.DECLINE_RESCHEDULE: "keep",
}

CARD_ACTIONS: dict[RequestStatus, tuple[Action, ...]] = {
    RequestStatus.SUBMITTED: (
        Action.APPROVE,
        Action.REJECT,
        Action.REQUEST_INFO,
        Action.PROPOSE_TIME,
        Action.HAND_OVER,
    ),
    # A move asked for: the new time, the current one, or neither (the official postpones; new times are offered).
    # (Once the original time has passed its outcome can be recorded too, with the outcome prompt's buttons.)
    RequestStatus.RESCHEDULE_REQUESTED: (Action.APPROVE, Action.DECLINE_RESCHEDULE, Action.POSTPONE),
    RequestStatus.APPROVED: (Action.COMPLETE, Action.MARK_NO_SHOW, Action.POSTPONE, Action.HAND_OVER),
}


def status_label(status: RequestStatus, t: Translator) -> str:
    return t(STATUS_LABELS[status])


def request_status_label(request: AudienceRequest, t: Translator) -> str:
    """The status as people read it; an audience held by the official it was handed to says so."""
    if request.status is RequestStatus.COMPLETED and request.handed_over_from:
        return t(HELD_BY_ANOTHER)
    return status_label(request.status, t)


def actor_name(actor: Actor, t: Translator) -> str:
    """Who did something, as the reader reads it: people by their name, the bot itself in the reader's language."""
    return t(SYSTEM_ACTOR_NAME) if actor.kind is ActorKind.SYSTEM else actor.name


def decider_name(decided_by: str, t: Translator) -> str:
    return t(SYSTEM_ACTOR_NAME) if decided_by == SYSTEM_ACTOR_NAME else decided_by


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words and marked with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.–—-") + "…"


def line_start(text: str) -> str:
    """A line of the card begins with a capital, whatever the phrase it starts with ("pengingat …")."""
    return text[:1].upper() + text[1:]


def official_name(official: Official | None, key: str) -> str:
    return official.display if official else key


def place_with_address(place: str | None, officials: Iterable[Official | None]) -> str:
    """Where the representative goes: an official's room is followed by that official's building and address
    (the city's file: "Balai Kota Makassar, Jl. Ahmad Yani No. 2"); a place staff typed reads as typed."""
    if not place:
        return "—"
    for official in officials:
        if official is not None and official.room == place and official.office and official.office not in place:
            return f"{place} ({official.office})"
    return place


@dataclass(frozen=True)
class InfoExchange:
    """A question staff asked the representative, and the answer when it came (from the audit trail)."""

    asked_by: str
    asked_at: datetime
    question: str
    answered_at: datetime | None = None
    answer: str | None = None


def info_exchanges(events: Sequence[AuditEvent]) -> list[InfoExchange]:
    """Every question staff asked about a request (`request_info` events) with the answer that followed it
    (`provide_info`), oldest first, so whoever decides later reads what was asked and said."""
    found: list[InfoExchange] = []
    for event in sorted(events, key=lambda e: e.at):
        if event.action is Action.REQUEST_INFO and event.note:
            found.append(InfoExchange(event.actor.name, event.at, event.note))
        elif event.action is Action.PROVIDE_INFO and found and found[-1].answer is None:
            found[-1] = replace(found[-1], answered_at=event.at, answer=event.note or "")
    return found


def exchange_lines(exchanges: Sequence[InfoExchange], t: Translator) -> list[str]:
    if not exchanges:
        return []
    lines = [t("Questions to the representative:")]
    for item in exchanges:
        lines.append("   • " + t("{who}, {when}: “{question}”", who=item.asked_by, when=t.datetime(item.asked_at),
                                  question=item.question))  # fmt: skip
        if item.answer is not None and item.answered_at is not None:
            lines.append("     " + t("Answer, {when}: “{answer}”", when=t.datetime(item.answered_at),
                                     answer=item.answer))  # fmt: skip
        else:
            lines.append("     " + t("(not answered yet)"))
    return lines


def request_card(
    request: AudienceRequest,
    official: Official | None,
    t: Translator,
    officials: Mapping[str, Official] | None = None,
    reminders: Sequence[str] = (),
    exchanges: Sequence[InfoExchange] | None = None,
) -> str:
    """The staff card. `exchanges`: the questions asked and answered (None: only an open question is shown)."""
    org = request.organization
    registration = (
        t("registered, no. {number}", number=org.registration_number)
        if org.registration_number
        else t("not registered")
    )
    times = "\n".join(f"   • {t.datetime(moment)}" for moment in request.preferred_times)
    lines = [
        t("Audience request {reference}", reference=request.reference),
        t("Status: {status}", status=request_status_label(request, t)),
        "",
        t("Organization: {name} — {type}; {registration}", name=org.name,
          type=t(ORGANIZATION_TYPE_LABELS[org.type]), registration=registration),
        t("Representative: {name}, {position}; phone {phone}", name=request.representative.full_name,
          position=request.position, phone=show_phone(request.representative.phone)),
        t("Official: {official}", official=official_name(official, request.official_key)),
        t("Subject: {subject}", subject=request.subject),
        t("Description: {description}", description=request.description),
        t.plural("Attendees: {n} person", "Attendees: {n} people", request.attendees),
        t("Preferred times:\n{times}", times=times),
    ]  # fmt: skip
    letter = request.letter_number or t("none")
    if request.letter_file:
        file = request.letter_file
        letter += " — " + show_letter_file(
            {"name": file.name, "mime_type": file.mime_type, "size": file.size},
            _Ctx(t),  # type: ignore[arg-type]
        )
    lines.append(t("Request letter: {letter}", letter=letter))
    lines.append(t("Submitted: {when}", when=t.datetime(request.created_at)))
    lines.extend(outcome_lines(request, t, officials, with_question=exchanges is None))
    lines.extend(exchange_lines(exchanges or (), t))
    lines.extend(line_start(line) for line in reminders)
    return "\n".join(lines)


class _Ctx:
    """Just enough of a StepContext for the file formatter shared with the flow."""

    def __init__(self, t: Translator) -> None:
        self.t = t


def outcome_lines(
    request: AudienceRequest, t: Translator, officials: Mapping[str, Official] | None = None, *,
    with_question: bool = True,
) -> list[str]:  # fmt: skip
    lines: list[str] = []
    status = request.status
    if request.handed_over_from:
        source = (officials or {}).get(request.handed_over_from)
        lines.append(
            t("Disposisi: handed over from {official}", official=official_name(source, request.handed_over_from))
        )
    if with_question and status is RequestStatus.INFO_REQUESTED and request.info_question:
        lines.append(t("Question to the representative: {question}", question=request.info_question))
    if request.scheduled_at and status in (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED,
                                           RequestStatus.COMPLETED, RequestStatus.NO_SHOW):  # fmt: skip
        lines.append(t("Scheduled: {when}, {place}", when=t.datetime(request.scheduled_at), place=request.place))
    if status is RequestStatus.RESCHEDULE_REQUESTED:
        lines.append(t("The representative asks to move it; new preferred times above. The current time stays "
                       "reserved until a new one is approved."))  # fmt: skip
    if status in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED) and request.proposed_times:
        lines.append(
            t("Times offered to the representative:\n{times}", times=describe_times(request.proposed_times, t))
        )
    if status in (RequestStatus.REJECTED, RequestStatus.POSTPONED) and request.decision_note:
        lines.append(t("Reason: {reason}", reason=request.decision_note))
    if request.representative_note and status is not RequestStatus.REJECTED:
        lines.append(t("Message from the representative: {message}", message=request.representative_note))
    if request.decided_by and request.decided_at:
        lines.append(t("Last decision by {who} on {when}", who=decider_name(request.decided_by, t),
                       when=t.datetime(request.decided_at)))  # fmt: skip
    return lines


def outcome_options(request: AudienceRequest, t: Translator, viewer: StaffMember | None = None) -> tuple[Option, ...]:
    """Terlaksana / Tidak hadir, for the prompt staff get after the audience (whatever the card shows then);
    none for a viewer who may not decide (a pemantau)."""
    if viewer is not None and not viewer.may(Permission.DECIDE, request.official_key):
        return ()
    return tuple(Option(f"g:{ACTION_KEYS[a]}:{request.id}", t(ACTION_LABELS[a]))
                 for a in (Action.COMPLETE, Action.MARK_NO_SHOW))  # fmt: skip


def card_actions(request: AudienceRequest, t: Translator, viewer: StaffMember | None = None) -> tuple[Option, ...]:
    """Buttons on a staff card; keys are compact (g:<word>:<id>) and checked again on the server when pressed.

    A request with a letter keeps "View letter" whatever its status: opening it decides nothing. With a
    `viewer` (one staff member's own chat) only the buttons they may use are shown: a pemantau, who only views,
    gets none of the decisions; without one (the shared staff group) every button is there.
    """
    if request.id is None:
        return ()
    may_decide = viewer is None or viewer.may(Permission.DECIDE, request.official_key)
    actions = tuple(
        Option(f"g:{ACTION_KEYS[action]}:{request.id}", t(ACTION_LABELS[action]))
        for action in CARD_ACTIONS.get(request.status, ())
        if may_decide
    )
    if request.letter_file is not None:
        actions += (Option(f"g:letter:{request.id}", t("View letter")),)
    return actions


def letter_caption(request: AudienceRequest, t: Translator) -> str:
    """The caption of the letter sent to staff: the request's reference and the file's name."""
    assert request.letter_file is not None
    return t("Request letter for {reference}: {name}", reference=request.reference, name=request.letter_file.name)


def status_line(request: AudienceRequest, official: Official | None, t: Translator) -> str:
    line = t("{reference} — {subject}\n   {official}; status: {status}", reference=request.reference,
             subject=request.subject, official=official_name(official, request.official_key),
             status=request_status_label(request, t))  # fmt: skip
    if request.status in (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED) and request.scheduled_at:
        line += "\n   " + t("Scheduled: {when}, {place}", when=t.datetime(request.scheduled_at),
                            place=place_with_address(request.place, (official,)))  # fmt: skip
    if request.status is RequestStatus.RESCHEDULE_REQUESTED:
        line += "\n   " + t("New time requested: {times}",
                            times="; ".join(t.datetime(m) for m in request.preferred_times))  # fmt: skip
    if request.status is RequestStatus.INFO_REQUESTED and request.info_question:
        line += "\n   " + t("Question from staff: {question}", question=request.info_question)
    if request.status in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED) and request.proposed_times:
        line += "\n   " + t("Times offered: {times}", times="; ".join(t.datetime(m) for m in request.proposed_times))
    if request.status in (RequestStatus.REJECTED, RequestStatus.POSTPONED) and request.decision_note:
        line += "\n   " + t("Reason: {reason}", reason=request.decision_note)
    return line


def clash_lines(
    request: AudienceRequest, calendar: OfficialCalendar, others: Sequence[AudienceRequest], t: Translator
) -> list[str]:
    """For staff: which preferred times can no longer be booked, and which other pending requests want the same time.

    Pending requests do not block a time (only approved audiences do), so they are shown, not refused.
    """
    lines: list[str] = []
    staff_view = calendar.ignoring(request.id).for_staff()
    for moment in request.preferred_times:
        result = staff_view.check(moment)
        if isinstance(result, SlotRefused):
            lines.append("   • " + refusal_text(result, moment, staff_view, t))
        for other in others:
            if other.id == request.id:
                continue
            if any(times_overlap(moment, theirs, calendar) for theirs in other.preferred_times):
                lines.append("   • " + t("{when}: {reference} ({status}) asks for the same time.",
                                         when=t.datetime(moment), reference=other.reference,
                                         status=status_label(other.status, t)))  # fmt: skip
    if not lines:
        return []
    return [t("Possible clashes:"), *lines]


# ---- what the representative is told ------------------------------------------------------------------


def offer_choice(request: AudienceRequest, official: Official | None, t: Translator) -> Choice:
    """The times staff offer (a counter-offer, or new times after a postponement), each a button to accept.

    Each accept button names its time and the decline button the set of times it declines (see
    :func:`handlers.scheduling.time_token`), so a button from an earlier offer never answers a later one.
    """
    name = official_name(official, request.official_key)
    if request.status is RequestStatus.POSTPONED:
        body = t("We apologise, Bapak/Ibu: your audience {reference} with {official} on {when} has been "
                 "postponed by the official.\nReason: {reason}\n\nPlease choose a new time below (it is then "
                 "confirmed at once), choose “Another time” to suggest your own, or cancel the request.",
                 reference=request.reference, official=name,
                 when=t.datetime(request.scheduled_at) if request.scheduled_at else "—",
                 reason=request.decision_note or "—")  # fmt: skip
        extra: tuple[Option, ...] = (Option(f"g:reschedule:{request.id}", t("Another time")),
                 Option(f"g:cancel:{request.id}", t("Cancel the request")))  # fmt: skip
    else:
        body = t("Staff propose other times for your audience request {reference} with {official}. Tap the "
                 "time that suits you to accept it (the audience is then approved), or decline the proposal.",
                 reference=request.reference, official=name)  # fmt: skip
        if request.decision_note:
            body += "\n" + t("Message from staff: {message}", message=request.decision_note)
        extra = (Option(f"g:decline:{request.id}:{offer_token(request.proposed_times)}", t("Decline the proposal")),)
    times = tuple(
        Option(f"g:accept:{request.id}:{time_token(moment)}", t.datetime(moment)) for moment in request.proposed_times
    )
    return Choice(body, (*times, *extra))


def approval_text(request: AudienceRequest, official: Official | None, t: Translator, *, moved: bool = False) -> str:
    name = official_name(official, request.official_key)
    when = t.datetime(request.scheduled_at) if request.scheduled_at else "—"
    place = place_with_address(request.place, (official,))
    if moved:
        return t("Your audience {reference} with {official} has been moved to a new time.\nTime: {when}\n"
                 "Place: {place}\nPlease arrive 15 minutes early and bring this reference code.",
                 reference=request.reference, official=name, when=when, place=place)  # fmt: skip
    return t("Good news, Bapak/Ibu. Your audience request {reference} with {official} has been approved.\n"
             "Time: {when}\nPlace: {place}\nPlease arrive 15 minutes early and bring this reference code.",
             reference=request.reference, official=name, when=when, place=place)  # fmt: skip


def representative_notice(
    request: AudienceRequest, action: Action | None, before: RequestStatus | None, official: Official | None,
    previous_official: Official | None, t: Translator,
) -> tuple[Outbound, ...]:  # fmt: skip
    """What the representative is told after a staff decision; empty when nothing is worth telling."""
    name = official_name(official, request.official_key)
    status = request.status
    if action is Action.HAND_OVER and status is RequestStatus.APPROVED and request.scheduled_at:
        body = t("Your audience {reference} on {when} will be received by {official} instead of {previous} "
                 "(disposisi).\nPlace: {place}", reference=request.reference, when=t.datetime(request.scheduled_at),
                 official=name, previous=official_name(previous_official, request.handed_over_from or ""),
                 place=place_with_address(request.place, (official, previous_official)))  # fmt: skip
        if request.decision_note:
            body += "\n" + t("Message from staff: {message}", message=request.decision_note)
        return (Text(body),)
    if action is Action.HAND_OVER:
        body = t("Your audience request {reference} has been handed over (disposisi) from {previous} to {official}; "
                 "{official} will receive you. Staff will tell you the time.",
                 reference=request.reference, previous=official_name(previous_official, request.handed_over_from or ""),
                 official=name)  # fmt: skip
        if request.decision_note:
            body += "\n" + t("Message from staff: {message}", message=request.decision_note)
        return (Text(body),)
    if action is Action.DECLINE_RESCHEDULE:
        return (Text(t("Your request to move the audience {reference} cannot be granted.\nReason: {reason}\n"
                       "The audience stays at {when}.", reference=request.reference,
                       reason=request.decision_note or "—",
                       when=t.datetime(request.scheduled_at) if request.scheduled_at else "—")),)  # fmt: skip
    if status is RequestStatus.APPROVED and request.scheduled_at:
        moved = before is RequestStatus.RESCHEDULE_REQUESTED
        return (Text(approval_text(request, official, t, moved=moved)),)
    if status is RequestStatus.REJECTED:
        return (Text(t("We regret, Bapak/Ibu, that your audience request {reference} with {official} cannot be "
                       "granted.\nReason: {reason}", reference=request.reference, official=name,
                       reason=request.decision_note)),)  # fmt: skip
    if status is RequestStatus.INFO_REQUESTED:
        body = t("Staff need more information about your audience request {reference}:\n“{question}”",
                 reference=request.reference, question=request.info_question)  # fmt: skip
        return (Choice(body, (Option(f"g:answer:{request.id}", t("Answer")),)),)
    if status in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED):
        return (offer_choice(request, official, t),)
    return ()


def staff_intro(kind: str, request: AudienceRequest, t: Translator, answer: str | None = None) -> str | None:
    """The line above a card sent to staff, saying what just happened."""
    reference = request.reference
    if kind == "new_request":
        return t("New audience request {reference}.", reference=reference)
    if kind == "info_provided":
        return t("The representative answered on {reference}:\n“{answer}”", reference=reference, answer=answer)
    if kind == "proposal_accepted" and request.scheduled_at:
        return t("The representative accepted the proposed time for {reference}: {when}. The audience is approved.",
                 reference=reference, when=t.datetime(request.scheduled_at))  # fmt: skip
    if kind == "proposal_declined":
        message = request.representative_note or t("(no message)")
        return t("The representative declined the proposed times for {reference}: “{message}”. It awaits a "
                 "decision again.", reference=reference, message=message)  # fmt: skip
    if kind == "cancelled":
        return t("The representative cancelled {reference}: “{reason}”. Its time is free again.",
                 reference=reference, reason=request.representative_note or "—")  # fmt: skip
    if kind == "reschedule_requested":
        return t("The representative asks to move {reference} to another time; the current time stays reserved "
                 "until a new one is approved.", reference=reference)  # fmt: skip
    if kind == "resubmitted":
        return t("The representative chose new preferred times for the postponed audience {reference}.",
                 reference=reference)  # fmt: skip
    return None
