"""Flows for decisions: staff approve / reject / ask for information; the representative answers the question.

Each starts with a snapshot of the request in ``data`` (for prompts and options only); the use case checks the
request's current state and the actor's rights again when the flow completes. Diagram: decisions.mmd.
"""

from __future__ import annotations

from datetime import datetime

from handlers import validators
from handlers.conversation.flow import Flow, Section, Step, StepContext
from handlers.i18n import N_
from handlers.messages import Inbound, Option, PressIn, TextIn
from handlers.validators import Invalid

ROOM = "f:room"


def _text(inbound: Inbound) -> str:
    if isinstance(inbound, TextIn):
        return inbound.text
    raise Invalid(N_("Please type your answer as text."))


def preferred_options(ctx: StepContext) -> list[Option]:
    return [Option(iso, ctx.t.datetime(datetime.fromisoformat(iso))) for iso in ctx.data.get("preferred", [])]


def parse_approved_time(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn):
        if any(o.key == inbound.key for o in preferred_options(ctx)):
            return inbound.key
        raise Invalid(N_("Please choose one of the options by pressing a button or typing its number."))
    return validators.typed_datetime(_text(inbound), ctx.t.tz, ctx.now).isoformat()


def show_time(value: str, ctx: StepContext) -> str:
    return ctx.t.datetime(datetime.fromisoformat(value))


def place_options(ctx: StepContext) -> list[Option]:
    return [Option(ROOM, str(ctx.data.get("room", "")))]


def parse_place(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn) and inbound.key == ROOM:
        return str(ctx.data.get("room", ""))
    return validators.free_text(_text(inbound), min_length=3, max_length=150, example="Ruang Rapat Sipakatau")


def parse_reason(inbound: Inbound, _ctx: StepContext) -> str:
    example = "Jadwal Wali Kota penuh hingga akhir bulan; silakan bertemu Kepala Kesbangpol."
    return validators.free_text(_text(inbound), min_length=10, max_length=500, min_words=3, example=example)


def parse_question(inbound: Inbound, _ctx: StepContext) -> str:
    example = "Mohon lampirkan SK kepengurusan yang masih berlaku."
    return validators.free_text(_text(inbound), min_length=10, max_length=500, min_words=3, example=example)


def parse_info_answer(inbound: Inbound, _ctx: StepContext) -> str:
    example = "SK kepengurusan nomor 12/KT/2026 sudah kami kirim lewat surel."
    return validators.free_text(_text(inbound), min_length=3, max_length=1500, multiline=True, example=example)


def reference_param(ctx: StepContext) -> dict[str, object]:
    return {"reference": ctx.data.get("reference", ""), "question": ctx.data.get("question", "")}


APPROVE = Flow(
    name="approve",
    title=N_("Approval"),
    summary_intro=N_("Approve this audience?"),
    submit_label=N_("Approve"),
    sections=(Section("schedule", N_("Schedule")),),
    steps=(
        Step("time", "schedule",
             N_("Approve {reference}: choose one of the preferred times, or type another as DD/MM/YYYY HH:MM."),
             parse_approved_time, label=N_("Time"), options=preferred_options, show=show_time,
             prompt_params=reference_param),
        Step("place", "schedule",
             N_("Where will the audience take place? Choose the official's room or type another place."),
             parse_place, label=N_("Place"), options=place_options),
    ),
)  # fmt: skip

REJECT = Flow(
    name="reject",
    title=N_("Rejection"),
    summary_intro=N_("Reject this request with the following reason?"),
    submit_label=N_("Reject"),
    sections=(Section("reason", N_("Reason")),),
    steps=(
        Step("reason", "reason",
             N_("Reject {reference}: please write the reason; the representative will read it."),
             parse_reason, label=N_("Reason"), prompt_params=reference_param),
    ),
)  # fmt: skip

REQUEST_INFO = Flow(
    name="request_info",
    title=N_("Request for information"),
    summary_intro=N_("Send this question to the representative?"),
    submit_label=N_("Send question"),
    sections=(Section("question", N_("Question")),),
    steps=(
        Step("question", "question",
             N_("What information do you need from the representative for {reference}?"),
             parse_question, label=N_("Question"), prompt_params=reference_param),
    ),
)  # fmt: skip

PROVIDE_INFO = Flow(
    name="provide_info",
    title=N_("Answer to staff"),
    steps=(
        Step("answer", "answer",
             N_("Staff asked about {reference}:\n“{question}”\n\nPlease type your answer."),
             parse_info_answer, label=N_("Answer"), prompt_params=reference_param),
    ),
)  # fmt: skip
