"""Flows for decisions: what staff decide on a request, and the representative's side of it.

Staff: approve / reject / ask for information / propose other times / hand over (disposisi) / postpone /
keep the schedule (refuse a requested move) / block a day. Representative: answer a question, decline a
proposal, cancel, ask to move an audience.

Each starts with a snapshot of the request in ``data`` (for prompts and options only); the use case checks the
request's current state, the actor's rights and the calendar again when the flow completes. Diagram:
decisions.mmd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from handlers import validators
from handlers.conversation.flow import Flow, Section, Step, StepContext
from handlers.datetext import Ambiguous, Understood, parse_when
from handlers.flows.request_audience import still_bookable
from handlers.flows.time_picker import TimePicker
from handlers.i18n import N_
from handlers.messages import Inbound, Option, PressIn, TextIn
from handlers.validators import Invalid

ROOM = "f:room"
ALL_OFFICIALS = "*"
CONFIRM, KEEP = "f:confirm", "f:keep"


def _text(inbound: Inbound) -> str:
    if isinstance(inbound, TextIn):
        return inbound.text
    raise Invalid(N_("Please type your answer as text."))


def _times(ctx: StepContext, key: str) -> list[datetime]:
    return [datetime.fromisoformat(v) for v in ctx.data.get(key, [])]


def show_time(value: str, ctx: StepContext) -> str:
    return ctx.t.datetime(datetime.fromisoformat(value))


def reference_param(ctx: StepContext) -> dict[str, object]:
    return {"reference": ctx.data.get("reference", ""), "question": ctx.data.get("question", "")}


# ---- approve ------------------------------------------------------------------------------------------


def preferred_suggestions(ctx: StepContext) -> list[datetime]:
    return _times(ctx, "preferred")


APPROVE_TIME = TimePicker(
    key="time",
    intro=N_("Approve {reference}: choose one of the preferred times that are still free, or “Other date”; you "
             "can also type a date and time."),
    staff=True,
    suggested=preferred_suggestions,
    intro_params=reference_param,
)  # fmt: skip


def place_options(ctx: StepContext) -> list[Option]:
    return [Option(ROOM, str(ctx.data.get("room", "")))]


# A place typed by staff: the official's own room (from the city's file) is the example, else a generic one.
PLACE_EXAMPLE = N_("Meeting room, 1st floor")


def parse_place(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn) and inbound.key == ROOM:
        return str(ctx.data.get("room", ""))
    example = str(ctx.data.get("room") or PLACE_EXAMPLE)
    return validators.free_text(_text(inbound), min_length=3, max_length=150, example=example)


def parse_reason(inbound: Inbound, _ctx: StepContext) -> str:
    example = N_("The Mayor's schedule is full until the end of the month; please meet the Head of Kesbangpol.")
    return validators.free_text(_text(inbound), min_length=10, max_length=500, min_words=3, example=example)


def parse_question(inbound: Inbound, _ctx: StepContext) -> str:
    example = N_("Please attach the board's current decree (SK kepengurusan).")
    return validators.free_text(_text(inbound), min_length=10, max_length=500, min_words=3, example=example)


def parse_info_answer(inbound: Inbound, _ctx: StepContext) -> str:
    example = N_("We have sent board decree no. 12/KT/2026 by e-mail.")
    return validators.free_text(_text(inbound), min_length=3, max_length=1500, multiline=True, example=example)


def parse_note(inbound: Inbound, _ctx: StepContext) -> str:
    example = N_("We cannot attend at that time because of an event of our organization.")
    return validators.free_text(_text(inbound), min_length=3, max_length=500, multiline=True, example=example)


APPROVE = Flow(
    name="approve",
    title=N_("Approval"),
    summary_intro=N_("Approve this audience?"),
    submit_label=N_("Approve"),
    sections=(Section("schedule", N_("Schedule")),),
    steps=(
        Step("time", "schedule", APPROVE_TIME.intro, APPROVE_TIME.parse, label=N_("Time"),
             typed_numbers=APPROVE_TIME.numbers_are_times,
             options=APPROVE_TIME.options, ask=APPROVE_TIME.ask, show=show_time),
        Step("place", "schedule",
             N_("Where will the audience {reference} take place? Choose the official's room or type another place."),
             parse_place, label=N_("Place"), options=place_options, prompt_params=reference_param),
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


# ---- propose other times (counter-offer) and postpone ---------------------------------------------------


def near_preferred(ctx: StepContext) -> list[datetime]:
    """Free times close to what the representative asked for (or to the postponed audience's time)."""
    picker_calendar = PROPOSE_TIMES.calendar(ctx)
    if picker_calendar is None:
        return []
    anchors = _times(ctx, "preferred") or ([datetime.fromisoformat(ctx.data["scheduled"])]
                                           if ctx.data.get("scheduled") else [])  # fmt: skip
    found: set[datetime] = set()
    for anchor in anchors:
        found.update(m for m in picker_calendar.nearest(anchor, limit=4) if m not in anchors)
    return sorted(found)[:6] or picker_calendar.free_slots(6)


PROPOSE_TIMES = TimePicker(
    key="times",
    intro=N_("Propose other times for {reference}: choose up to three free times, one at a time (or “Other "
             "date”); the representative taps one to accept it."),
    staff=True,
    suggested=near_preferred,
    intro_params=reference_param,
)  # fmt: skip

NEW_TIMES = TimePicker(
    key="times",
    intro=N_("Which new times can you offer for {reference}? Choose up to three free times, one at a time (or "
             "“Other date”); the representative taps one to accept it."),
    staff=True,
    suggested=near_preferred,
    intro_params=reference_param,
)  # fmt: skip


def _proposal_steps(picker: TimePicker) -> tuple[Step, ...]:
    return (
        Step("times", "times", picker.intro, picker.parse, label=N_("Times offered"),
             typed_numbers=picker.numbers_are_times,
             options=picker.options, ask=picker.ask, collect=3, show=show_time, acknowledge=TimePicker.acknowledge),
    )  # fmt: skip


PROPOSE = Flow(
    name="propose",
    title=N_("Proposal of other times"),
    summary_intro=N_("Send this proposal to the representative?"),
    submit_label=N_("Send proposal"),
    sections=(Section("times", N_("Times offered")), Section("message", N_("Message"))),
    steps=(
        *_proposal_steps(PROPOSE_TIMES),
        Step("message", "message",
             N_("A message for the representative with the proposal (optional), or choose Skip.\n"
                "Example: The Mayor has another engagement at the time asked for."),
             parse_note, label=N_("Message"), skippable=True),
    ),
)  # fmt: skip

POSTPONE = Flow(
    name="postpone",
    title=N_("Postponement"),
    summary_intro=N_("Postpone this audience and offer the representative these times?"),
    submit_label=N_("Postpone"),
    sections=(Section("reason", N_("Reason")), Section("times", N_("Times offered"))),
    steps=(
        Step("reason", "reason",
             N_("Postpone {reference} ({scheduled}): please write the reason; the representative will read it."),
             parse_reason, label=N_("Reason"),
             prompt_params=lambda ctx: {**reference_param(ctx), "scheduled": _scheduled(ctx)}),
        *_proposal_steps(NEW_TIMES),
    ),
)  # fmt: skip


def _scheduled(ctx: StepContext) -> str:
    value = ctx.data.get("scheduled")
    return ctx.t.datetime(datetime.fromisoformat(value)) if value else ""


KEEP_SCHEDULE = Flow(
    name="keep_schedule",
    title=N_("Refusal of the new time"),
    summary_intro=N_("Keep the audience at its current time and tell the representative why?"),
    submit_label=N_("Keep the current time"),
    sections=(Section("reason", N_("Reason")),),
    steps=(
        Step("reason", "reason",
             N_("{reference} stays at {scheduled}: please write why the new time cannot be granted."),
             parse_reason, label=N_("Reason"),
             prompt_params=lambda ctx: {**reference_param(ctx), "scheduled": _scheduled(ctx)}),
    ),
)  # fmt: skip


# ---- disposisi --------------------------------------------------------------------------------------


def other_officials(ctx: StepContext) -> list[Option]:
    current = ctx.data.get("official")
    return [Option(o.key, o.title, o.name) for o in ctx.env.officials if o.active and o.key != current]


def parse_other_official(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn) and any(o.key == inbound.key for o in other_officials(ctx)):
        return inbound.key
    raise Invalid(N_("Please choose one of the options by pressing a button or typing its number."))


def show_official(value: str, ctx: StepContext) -> str:
    official = next((o for o in ctx.env.officials if o.key == value), None)
    return official.display if official else value


KEEP_PLACE = "f:keep_place"


def already_scheduled(ctx: StepContext) -> bool:
    return bool(ctx.data.get("scheduled"))


def handover_place_options(ctx: StepContext) -> list[Option]:
    receiving = next((o for o in ctx.env.officials if o.key == ctx.answers.get("official")), None)
    options = [Option(ROOM, receiving.room)] if receiving and receiving.room else []
    current = ctx.data.get("place")
    if current and (receiving is None or current != receiving.room):
        options.append(Option(KEEP_PLACE, str(current)))
    return options


def parse_handover_place(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn):
        chosen = next((o for o in handover_place_options(ctx) if o.key == inbound.key), None)
        if chosen is not None:
            return chosen.label
    receiving = next((o for o in ctx.env.officials if o.key == ctx.answers.get("official")), None)
    example = receiving.room if receiving and receiving.room else PLACE_EXAMPLE
    return validators.free_text(_text(inbound), min_length=3, max_length=150, example=example)


def handover_place_params(ctx: StepContext) -> dict[str, object]:
    return {**reference_param(ctx), "scheduled": _scheduled(ctx)}


HAND_OVER = Flow(
    name="hand_over",
    title=N_("Disposisi"),
    summary_intro=N_("Hand this request over to another official?"),
    submit_label=N_("Hand over"),
    sections=(Section("official", N_("Official")), Section("message", N_("Message"))),
    steps=(
        Step("official", "official",
             N_("Disposisi {reference}: which official will receive the representative instead?"),
             parse_other_official, label=N_("Official"), options=other_officials, show=show_official,
             prompt_params=reference_param, invalidates=("place",)),
        # An approved audience keeps its time ({scheduled}); only where it is held may change.
        Step("place", "official",
             N_("{reference} stays at {scheduled}. Where will the receiving official hold it? Choose a room "
                "or type another place."),
             parse_handover_place, label=N_("Place"), options=handover_place_options,
             applies=already_scheduled, prompt_params=handover_place_params),
        Step("message", "message",
             N_("A message for the representative (optional), or choose Skip.\n"
                "Example: The Head of Kesbangpol is in charge of community organizations."),
             parse_note, label=N_("Message"), skippable=True),
    ),
)  # fmt: skip


# ---- the representative's side ------------------------------------------------------------------------


DECLINE_PROPOSAL = Flow(
    name="decline_proposal",
    title=N_("Declining the proposed times"),
    steps=(
        Step("message", "message",
             N_("You decline the proposed times for {reference}. Would you like to tell staff why, or which "
                "times suit you? Type a message, or choose Skip."),
             parse_note, label=N_("Message"), skippable=True, prompt_params=reference_param),
    ),
)  # fmt: skip


CANCEL_EXAMPLE = N_("The chair of our organization is away on duty out of town.")


def parse_cancel_reason(inbound: Inbound, _ctx: StepContext) -> str:
    example = CANCEL_EXAMPLE
    return validators.free_text(_text(inbound), min_length=5, max_length=500, min_words=2, example=example)


CANCEL_REQUEST = Flow(
    name="cancel_request",
    title=N_("Cancellation"),
    summary_intro=N_("Cancel this audience request? Staff will be told, and its time becomes free for others."),
    submit_label=N_("Yes, cancel the request"),
    edit_label=N_("Change the reason"),
    abandon_label=N_("No, keep the request"),
    abandon_asks=False,  # "no" means the request stays: nothing to lose but the reason just typed
    abandoned=N_("Your request {reference} has not been cancelled; it stays as it was."),
    sections=(Section("reason", N_("Reason")),),
    steps=(
        Step("reason", "reason",
             N_("Cancel {reference}: please write the reason briefly.\n"
                "Example: The chair of our organization is away on duty out of town."),
             parse_cancel_reason, label=N_("Reason"), prompt_params=reference_param),
    ),
)  # fmt: skip

RESCHEDULE_TIMES = TimePicker(
    key="times",
    intro=N_("Move {reference}: choose up to three new preferred times, one at a time. Your current time "
             "({scheduled}) stays reserved until staff approve the new one."),
    intro_params=lambda ctx: {**reference_param(ctx), "scheduled": _scheduled(ctx) or "—"},
)  # fmt: skip

RESCHEDULE = Flow(
    name="reschedule",
    title=N_("Change of schedule"),
    summary_intro=N_("Send this request for a new time to staff?"),
    submit_label=N_("Send"),
    sections=(Section("times", N_("Preferred times")), Section("message", N_("Message"))),
    steps=(
        Step("times", "times", RESCHEDULE_TIMES.intro, RESCHEDULE_TIMES.parse, label=N_("Preferred times"),
             typed_numbers=RESCHEDULE_TIMES.numbers_are_times, options=RESCHEDULE_TIMES.options,
             ask=RESCHEDULE_TIMES.ask, collect=3, show=show_time, acknowledge=TimePicker.acknowledge,
             recheck=still_bookable(RESCHEDULE_TIMES)),
        Step("message", "message",
             N_("Why do you need another time? (optional; choose Skip to leave it out)\n"
                "Example: The chair of our organization is out of town on duty on that date."),
             parse_note, label=N_("Message"), skippable=True),
    ),
)  # fmt: skip


# ---- days off (staff) ---------------------------------------------------------------------------------


def day_off_official_options(ctx: StepContext) -> list[Option]:
    allowed: Sequence[str] = ctx.data.get("officials", [])
    options = [Option(ALL_OFFICIALS, ctx.t("All officials"))] if ctx.data.get("all_allowed") else []
    return options + [Option(o.key, o.title, o.name) for o in ctx.env.officials if o.key in allowed and o.active]


def parse_day_off_official(inbound: Inbound, ctx: StepContext) -> str:
    if isinstance(inbound, PressIn) and any(o.key == inbound.key for o in day_off_official_options(ctx)):
        return inbound.key
    raise Invalid(N_("Please choose one of the options by pressing a button or typing its number."))


def show_day_off_official(value: str, ctx: StepContext) -> str:
    return ctx.t("All officials") if value == ALL_OFFICIALS else show_official(value, ctx)


def day_example(ctx: StepContext) -> str:
    """A date a week from today, as the person writes dates in their language."""
    return ctx.t.date(ctx.now.astimezone(ctx.t.tz).date() + timedelta(days=7))


def parse_day(inbound: Inbound, ctx: StepContext) -> str:
    example = day_example(ctx)
    text = validators.clean_text(_text(inbound))
    result = parse_when(text, ctx.now, ctx.t.tz)
    if isinstance(result, Ambiguous) and result.readings:
        result = result.readings[0]  # "Jumat 11" asked for a day: the date ("Jumat depan": the coming one)
    if not isinstance(result, Understood) or result.is_span:
        raise Invalid(N_("Please write one date. Example: {example}"), {"example": example})
    if result.day < ctx.now.astimezone(ctx.t.tz).date():
        raise Invalid(N_("That date has already passed. Example: {example}"), {"example": example})
    return result.day.isoformat()


def show_day(value: str, ctx: StepContext) -> str:
    return ctx.t.date(date.fromisoformat(value))


def acknowledge_day(value: str, ctx: StepContext) -> str:
    return ctx.t("Date: {date}.", date=show_day(value, ctx))


def parse_day_off_reason(inbound: Inbound, ctx: StepContext) -> str:
    example = N_("Joint ministerial decree (SKB 3 Menteri) on cuti bersama") if ctx.data.get("opens") \
        else N_("Anniversary of the city")  # fmt: skip
    return validators.free_text(_text(inbound), min_length=3, max_length=200, example=example)


# Started with data {"opens": True} the same flow opens a national holiday or cuti bersama as a working day
# (a changed decree, an estimated date that proved wrong): only the questions differ.
def _day_off_prompt(blocking: str, opening: str) -> Callable[[StepContext], str]:
    return lambda ctx: ctx.t(opening if ctx.data.get("opens") else blocking, example=day_example(ctx))


ASK_OFFICIAL = N_("For which official is the day blocked?")
ASK_OPENED_OFFICIAL = N_("For which official is the holiday a working day after all?")
ASK_DAY = N_("Which date? Example: {example} (you may also write “besok” or “Senin depan”).")
ASK_OPENED_DAY = N_("Which national holiday or cuti bersama is a working day after all? Example: {example}")
ASK_REASON = N_("Why? The reason is shown to representatives.\nExample: Anniversary of the city")
ASK_OPENED_REASON = N_("Why is it a working day? Staff see the reason.\nExample: Amended joint ministerial decree "
                       "(SKB 3 Menteri) on cuti bersama 2026")  # fmt: skip


DAY_OFF = Flow(
    name="day_off",
    title=N_("Day off"),
    summary_intro=N_("Save this change to the calendar? It applies to every time offered or approved from now on."),
    submit_label=N_("Save"),
    sections=(Section("day", N_("Day off")),),
    steps=(
        Step("official", "day", ASK_OFFICIAL, parse_day_off_official, label=N_("Official"),
             options=day_off_official_options, show=show_day_off_official,
             ask=_day_off_prompt(ASK_OFFICIAL, ASK_OPENED_OFFICIAL)),
        Step("day", "day", ASK_DAY, parse_day, label=N_("Date"), show=show_day, acknowledge=acknowledge_day,
             ask=_day_off_prompt(ASK_DAY, ASK_OPENED_DAY)),
        Step("reason", "day", ASK_REASON, parse_day_off_reason, label=N_("Reason"),
             ask=_day_off_prompt(ASK_REASON, ASK_OPENED_REASON)),
    ),
)  # fmt: skip
