"""What a flow is: data. An ordered list of steps, each a prompt, a parser and the choices to offer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from handlers.domain.model import Official
from handlers.i18n import N_, Translator
from handlers.messages import Inbound, InputHint, Option

if TYPE_CHECKING:
    from handlers.scheduling import OfficialCalendar


def _no_calendar(_official: str) -> OfficialCalendar | None:
    return None


@dataclass(frozen=True)
class FlowEnv:
    """What the service knows that steps may need; built fresh for every inbound message."""

    officials: Sequence[Official] = ()
    max_attendees: int = 50
    supports_files: bool = False
    max_file_bytes: int = 10 * 1024 * 1024
    # An official's calendar (bookings, days off, rules) as fetched by the service before the engine ran.
    calendar: Callable[[str], OfficialCalendar | None] = _no_calendar


@dataclass(frozen=True)
class StepContext:
    t: Translator
    now: datetime
    answers: Mapping[str, Any]
    data: Mapping[str, Any]
    env: FlowEnv
    draft: Mapping[str, Any] = field(default_factory=dict)


class Pending(Exception):
    """Raised by a step's parser: the answer is on its way but not complete (a date chosen, a time to confirm).

    The engine keeps `draft` for the step and asks it again (the step's prompt and options read the draft),
    after showing `note` when given (already translated, e.g. why a time cannot be booked).
    """

    def __init__(self, draft: dict[str, Any], note: str | None = None) -> None:
        super().__init__(note or "pending")
        self.draft = draft
        self.note = note


def _always(_ctx: StepContext) -> bool:
    return True


def _never(_ctx: StepContext) -> bool:
    return False


def _no_options(_ctx: StepContext) -> Sequence[Option]:
    return ()


def _show_plain(value: Any, _ctx: StepContext) -> str:
    return str(value)


@dataclass(frozen=True)
class Step:
    key: str
    section: str
    prompt: str  # a message id, translated when shown; may use {placeholders} filled by prompt_params
    parse: Callable[[Inbound, StepContext], Any]  # returns a JSON-able value or raises validators.Invalid
    label: str = ""  # how the answer is named in the summary
    options: Callable[[StepContext], Sequence[Option]] = _no_options
    prompt_params: Callable[[StepContext], Mapping[str, object]] | None = None
    skippable: bool = False
    applies: Callable[[StepContext], bool] = _always
    collect: int = 1  # more than one: the answer is a list of up to `collect` values
    show: Callable[[Any, StepContext], str] = _show_plain
    hint: InputHint = InputHint.TEXT
    acknowledge: Callable[[Any, StepContext], str] | None = None  # echo what was understood
    ask: Callable[[StepContext], str] | None = None  # a prompt computed from the draft (already translated)
    # Answers that no longer hold when this one changes (another official: the chosen times are asked again).
    invalidates: tuple[str, ...] = ()
    # Whether a typed number is the answer ("9" at a time question is 09.00) rather than the number of an
    # option; where the channel shows numbers beside the options, they choose anyway.
    typed_numbers: Callable[[StepContext], bool] = _never
    # Checked again at "Send" for each value given (a form may be sent days after it was filled in): None when
    # the value still holds, else why not (already translated); such values are dropped before sending.
    recheck: Callable[[Any, StepContext], str | None] | None = None


@dataclass(frozen=True)
class Section:
    key: str
    label: str


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    steps: tuple[Step, ...]
    sections: tuple[Section, ...] = ()
    # A flow with a summary shows every answer and waits for "send"; sections can be changed one at a time.
    summary_intro: str | None = None
    submit_label: str = ""
    # Whether the summary is a yes/no question ("Approve this audience?"): then a typed "ya" sends and "tidak"
    # abandons, like the buttons. Not for a summary that asks the person to check many answers.
    summary_asks: bool = True
    edit_label: str = N_("Change an answer")  # message ids of the summary's other two buttons
    abandon_label: str = N_("Abandon")
    # Abandoning from the summary asks first ("the answers will be deleted"); a one-question flow whose
    # abandon button means "never mind" (don't cancel the request after all) leaves at once, saying `abandoned`.
    abandon_asks: bool = True
    abandoned: str = N_("The form has been abandoned. Nothing was sent.")  # may use the flow's data ({reference})
    initial_answers: Callable[[Mapping[str, Any]], dict[str, Any]] = field(default=lambda _data: {})

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def index(self, key: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.key == key)

    def section_steps(self, section: str) -> list[Step]:
        return [s for s in self.steps if s.section == section]


SUMMARY = "__summary__"
EDIT_MENU = "__edit__"  # which part of the summary to change
EDIT_SECTION = "__edit_section__"  # which answer of that part
