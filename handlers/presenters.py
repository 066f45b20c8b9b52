"""How requests read to people: the staff card, a status line, decision notices. Plain text on every channel."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.domain.model import Action, AudienceRequest, Official, RequestStatus
from handlers.flows.request_audience import ORGANIZATION_TYPE_LABELS, show_letter_file
from handlers.i18n import N_, Translator
from handlers.messages import Option

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
}

ACTION_LABELS: dict[Action, str] = {
    Action.APPROVE: N_("Approve"),
    Action.REJECT: N_("Reject"),
    Action.REQUEST_INFO: N_("Ask for information"),
    Action.PROPOSE_TIME: N_("Propose another time"),
}


def status_label(status: RequestStatus, t: Translator) -> str:
    return t(STATUS_LABELS[status])


def official_name(official: Official | None, key: str) -> str:
    return official.display if official else key


def request_card(
    request: AudienceRequest, official: Official | None, t: Translator, reminders: Sequence[str] = ()
) -> str:
    org = request.organization
    registration = (
        t("registered, no. {number}", number=org.registration_number)
        if org.registration_number
        else t("not registered")
    )
    times = "\n".join(f"   • {t.datetime(moment)}" for moment in request.preferred_times)
    lines = [
        t("Audience request {reference}", reference=request.reference),
        t("Status: {status}", status=status_label(request.status, t)),
        "",
        t("Organization: {name} ({type}); {registration}", name=org.name,
          type=t(ORGANIZATION_TYPE_LABELS[org.type]), registration=registration),
        t("Representative: {name}, {position}; phone {phone}", name=request.representative.full_name,
          position=request.position, phone=request.representative.phone),
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
    lines.extend(outcome_lines(request, t))
    lines.extend(reminders)
    return "\n".join(lines)


class _Ctx:
    """Just enough of a StepContext for the file formatter shared with the flow."""

    def __init__(self, t: Translator) -> None:
        self.t = t


def outcome_lines(request: AudienceRequest, t: Translator) -> list[str]:
    lines: list[str] = []
    if request.status is RequestStatus.INFO_REQUESTED and request.info_question:
        lines.append(t("Question to the representative: {question}", question=request.info_question))
    if request.scheduled_at and request.status is RequestStatus.APPROVED:
        lines.append(t("Scheduled: {when}, {place}", when=t.datetime(request.scheduled_at), place=request.place))
    if request.status is RequestStatus.REJECTED and request.decision_note:
        lines.append(t("Reason: {reason}", reason=request.decision_note))
    if request.decided_by and request.decided_at:
        lines.append(t("Last decision by {who} on {when}", who=request.decided_by, when=t.datetime(request.decided_at)))
    return lines


def card_actions(request: AudienceRequest, t: Translator) -> tuple[Option, ...]:
    """Buttons on a staff card; keys are compact and checked again on the server when pressed."""
    if request.status is not RequestStatus.SUBMITTED or request.id is None:
        return ()
    rid = request.id
    return (
        Option(f"g:approve:{rid}", t(ACTION_LABELS[Action.APPROVE])),
        Option(f"g:reject:{rid}", t(ACTION_LABELS[Action.REJECT])),
        Option(f"g:info:{rid}", t(ACTION_LABELS[Action.REQUEST_INFO])),
    )


def status_line(request: AudienceRequest, official: Official | None, t: Translator) -> str:
    line = t("{reference} — {subject}\n   {official}; status: {status}", reference=request.reference,
             subject=request.subject, official=official_name(official, request.official_key),
             status=status_label(request.status, t))  # fmt: skip
    if request.status is RequestStatus.APPROVED and request.scheduled_at:
        line += "\n   " + t("Scheduled: {when}, {place}", when=t.datetime(request.scheduled_at), place=request.place)
    if request.status is RequestStatus.INFO_REQUESTED and request.info_question:
        line += "\n   " + t("Question from staff: {question}", question=request.info_question)
    if request.status is RequestStatus.REJECTED and request.decision_note:
        line += "\n   " + t("Reason: {reason}", reason=request.decision_note)
    return line
