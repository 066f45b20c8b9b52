"""The conversation engine: ``(state, inbound) -> (state, outbound messages, effects)``.

Pure: no storage, no network, no clock of its own. The service loads the state, gives the engine a
:class:`StepContext` factory, runs the returned effects through use cases, and saves the new state in the
same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from handlers.conversation.flow import EDIT_MENU, EDIT_SECTION, SUMMARY, Flow, FlowEnv, Pending, Step, StepContext
from handlers.conversation.stamps import FOREIGN
from handlers.conversation.state import ConversationState, Frame
from handlers.i18n import Translator
from handlers.messages import Choice, Inbound, Option, Outbound, PressIn, Prompt, Refusal, Text, TextIn
from handlers.validators import Invalid

GLOBAL = "g:"  # keys valid at any time (menu entries, buttons on notifications); checked by the service
SKIP, DONE, SEND, EDIT, CANCEL, RESUME, YES, NO = "f:skip", "f:done", "f:send", "f:edit", "f:cancel", \
    "f:resume", "f:yes", "f:no"  # fmt: skip
UNDO = "f:undo"  # at a question that collects several answers: remove the last one chosen
MAX_LIST = 10  # options that still fit one list (WhatsApp's); an extra convenience button stays within it
SKIP_WORDS = frozenset({"lewati", "skip", "-", "tidak ada", "tidak", "kosong"})
# Typed at a question that must be answered, these are an attempt to skip, never the answer itself.
REFUSED_SKIPS = frozenset({"lewati", "skip"})
# Typed at a yes/no question (abandon this form? cancel the audience? approve this?), these mean its buttons.
# Not "batal": most of these questions ask whether to cancel something, so it could mean either.
YES_WORDS = frozenset({"ya", "iya", "iy", "y", "yes", "ok", "oke", "okay", "benar", "betul", "baik", "boleh",
                       "setuju", "ya benar", "iya benar"})  # fmt: skip
NO_WORDS = frozenset({"tidak", "tdk", "tak", "gak", "ga", "nggak", "ngga", "enggak", "engga", "no", "n", "bukan",
                      "jangan", "tidak jadi", "tdk jadi", "gak jadi", "nggak jadi", "ga jadi",
                      "enggak jadi"})  # fmt: skip
REFERENCE = re.compile(r"AUD-\d{4}-\d{1,6}")
# Yes / no options among the global keys (a reminder's "cancel the audience?"), by key prefix.
GLOBAL_YES_NO = (("g:r:cancelyes:", "g:r:keep:"),)


@dataclass(frozen=True)
class FlowCompleted:
    flow: str
    answers: Mapping[str, Any]
    data: Mapping[str, Any]


@dataclass(frozen=True)
class GlobalAction:
    key: str  # without the "g:" prefix, e.g. "status", "open:12"


Effect = FlowCompleted | GlobalAction


@dataclass(frozen=True)
class Turn:
    state: ConversationState
    messages: tuple[Outbound, ...] = ()
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True)
class Persona:
    """Who is talking to the bot: a representative or staff. Their menu, commands and help differ."""

    name: str
    welcome: Callable[[Translator], str]
    help: Callable[[Translator], str]
    menu: Callable[[Translator], Sequence[Option]]
    # Command word -> what it does: "flow:<name>" starts a flow, anything else becomes a GlobalAction.
    commands: Mapping[str, str] = field(default_factory=dict)
    # A request's reference typed at the menu (AUD-2026-000001) becomes this GlobalAction with it ("openref:…").
    typed_reference: str | None = None


ContextFactory = Callable[[Frame | None], StepContext]


class Engine:
    def __init__(self, flows: Mapping[str, Flow], persona: Persona) -> None:
        self.flows = flows
        self.persona = persona

    # ---- entry point -------------------------------------------------------------------------------------

    def handle(
        self, state: ConversationState, inbound: Inbound, context: ContextFactory, *, numbered_above: int | None = 0
    ) -> Turn:
        """`numbered_above`: the channel shows option numbers when more than this many options are offered
        (console: 0, always; WhatsApp: beyond a list's 10 rows; Telegram: None, never). Only then is a typed
        number taken as an option: elsewhere "9" at a time question means nine o'clock."""
        numbers_shown = numbered_above is not None and len(state.offered) > numbered_above
        inbound = self._recognise_choice(state, inbound, numbers_shown or not self._takes_numbers(state, context),
                                         self._yes_no(state))  # fmt: skip
        t = context(state.frame).t
        if isinstance(inbound, TextIn) and inbound.text.strip().startswith("/"):
            return self._command(state, inbound.text.strip(), context)
        if isinstance(inbound, PressIn) and inbound.key.startswith(GLOBAL):
            return self._global(state, inbound.key[len(GLOBAL) :], context)
        if state.confirming:
            return self._confirm_abandon(state, inbound, context, numbers_shown=numbers_shown)
        frame = state.frame
        if isinstance(inbound, PressIn) and not any(o.key == inbound.key for o in state.offered):
            return self._stale(state, context, foreign=inbound.key == FOREIGN)
        if frame is None:
            reference = REFERENCE.fullmatch(inbound.text.strip().upper()) if isinstance(inbound, TextIn) else None
            if reference is not None and self.persona.typed_reference:
                return Turn(state, effects=(GlobalAction(f"{self.persona.typed_reference}:{reference.group(0)}"),))
            return self._idle(state, t)
        if frame.step == SUMMARY:
            return self._summary_answer(state, frame, inbound, context)
        if frame.step in (EDIT_MENU, EDIT_SECTION):
            return self._edit_answer(state, frame, inbound, context)
        return self._answer(state, frame, inbound, context)

    def start_flow(
        self, state: ConversationState, flow_name: str, context: ContextFactory, data: Mapping[str, Any] | None
    ) -> Turn:
        """Begin a flow on top of whatever is in progress (which resumes when this one ends)."""
        flow = self.flows[flow_name]
        seed = dict(data or {})
        frame = Frame(flow=flow.name, step=flow.steps[0].key, answers=flow.initial_answers(seed), data=seed)
        first = self._first_applicable(flow, frame, 0, context)
        frame = replace(frame, step=first.key if first else SUMMARY)
        state = replace(state.push(frame), confirming=None)
        return self._prompt(state, context)

    def resume(self, state: ConversationState, context: ContextFactory) -> Turn:
        """Coming back (the console opened again): a short greeting, then whatever question is open, last —
        a pending yes/no first of all, so that a typed "1" answers exactly what is shown."""
        frame = state.frame
        t = context(frame).t
        if frame is None:
            turn = self._menu(replace(state, confirming=None), t)
            return replace(turn, messages=(Text(t("Welcome back, Bapak/Ibu.")), *turn.messages))
        flow = self.flows[frame.flow]
        if frame.step == SUMMARY:
            where = t("the summary")
        elif frame.step in (EDIT_MENU, EDIT_SECTION):
            where = t("changing an answer")
        else:
            where = t(flow.step(frame.step).label or flow.title)
        reference = frame.data.get("reference")
        title = t(flow.title) + (f" {reference}" if reference else "")
        note = Text(t("Welcome back, Bapak/Ibu. Your form “{title}” is still in progress, at “{step}”; we continue "
                      "below. Type /batal to abandon it.", title=title, step=where))  # fmt: skip
        turn = self._ask_abandon(state, context) if state.confirming else self._prompt(state, context)
        return replace(turn, messages=(note, *turn.messages))

    def reprompt(self, state: ConversationState, context: ContextFactory) -> Turn:
        if state.frame is None:
            return self._menu(state, context(None).t)
        return self._prompt(state, context)

    # ---- input recognition -------------------------------------------------------------------------------

    def _takes_numbers(self, state: ConversationState, context: ContextFactory) -> bool:
        """Whether the question being asked reads a typed number as its answer (an hour), not as an option."""
        frame = state.frame
        if frame is None or state.confirming or frame.step in (SUMMARY, EDIT_MENU, EDIT_SECTION):
            return False
        return self.flows[frame.flow].step(frame.step).typed_numbers(context(frame))

    def _yes_no(self, state: ConversationState) -> tuple[str, str] | None:
        """The keys a typed "ya" / "tidak" stand for, when the question asked is a yes/no one."""
        offered = {o.key for o in state.offered}
        if state.confirming:
            return YES, NO
        frame = state.frame
        if frame is not None and frame.step == SUMMARY and self.flows[frame.flow].summary_asks:
            return SEND, CANCEL
        for yes_prefix, no_prefix in GLOBAL_YES_NO:
            yes = [k for k in offered if k.startswith(yes_prefix)]
            no = [k for k in offered if k.startswith(no_prefix)]
            if len(yes) == 1 and len(no) == 1:
                return yes[0], no[0]
        return None

    @staticmethod
    def _recognise_choice(
        state: ConversationState, inbound: Inbound, numbers_choose: bool, yes_no: tuple[str, str] | None = None
    ) -> Inbound:
        """A typed option number or option label counts as pressing that option (numbered-text fallback);
        at a yes/no question, "ya", "iya", "y", "tidak", "tdk", "bukan"… count as its yes and no."""
        if not isinstance(inbound, TextIn) or not state.offered:
            return inbound
        typed = inbound.text.strip()
        if numbers_choose and re.fullmatch(r"\d{1,2}", typed):
            index = int(typed) - 1
            if 0 <= index < len(state.offered):
                return PressIn(state.offered[index].key)
            return inbound
        folded = " ".join(typed.casefold().split())
        for option in state.offered:
            if option.label.casefold() == folded:
                return PressIn(option.key)
        if yes_no is not None:
            word = " ".join(re.sub(r"[.!,?]+", " ", folded).split())
            if word in YES_WORDS:
                return PressIn(yes_no[0])
            if word in NO_WORDS:
                return PressIn(yes_no[1])
        # "Kirim" for "Kirim pertanyaan": the first word(s) of exactly one option's label.
        starting = [o for o in state.offered if len(folded) >= 3 and o.label.casefold().startswith(folded + " ")]
        if len(starting) == 1:
            return PressIn(starting[0].key)
        return inbound

    # ---- commands and global actions ---------------------------------------------------------------------

    def _command(self, state: ConversationState, text: str, context: ContextFactory) -> Turn:
        word = text[1:].split()[0].split("@")[0].lower() if len(text) > 1 else ""
        payload = text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""
        t = context(state.frame).t
        if word in ("start", "mulai"):
            return self._welcome(state, context, payload)
        if word == "kembali":
            return self._back(state, context)
        if word == "batal":
            return self._ask_abandon(state, context)
        if word == "bantuan":
            return self._help(state, context)
        action = self.persona.commands.get(word)
        if action is None:
            turn = self.reprompt(replace(state, confirming=None), context)
            note = Text(t("I do not know the command /{command}. Type /bantuan to see what you can do.",
                          command=word))  # fmt: skip
            return replace(turn, messages=(note, *turn.messages))
        if action.startswith("flow:"):
            return self._start_once(state, action[5:], context)
        return Turn(replace(state, confirming=None), effects=(GlobalAction(action),))

    def _start_once(self, state: ConversationState, flow_name: str, context: ContextFactory) -> Turn:
        """Start a flow, unless that form is already in progress: then continue it rather than begin a second."""
        if any(f.flow == flow_name for f in state.frames):
            while state.frame is not None and state.frame.flow != flow_name:
                state = state.pop()  # a question asked on top of the form (it can be reopened from /status)
            t = context(state.frame).t
            turn = self._prompt(replace(state, confirming=None), context)
            note = Text(t("You already have this form in progress; we continue where you left off. "
                          "Type /batal to abandon it."))  # fmt: skip
            return replace(turn, messages=(note, *turn.messages))
        return self.start_flow(replace(state, confirming=None), flow_name, context, None)

    def _global(self, state: ConversationState, key: str, context: ContextFactory) -> Turn:
        action = self.persona.commands.get(key, key)
        if action == "help":
            return self._help(state, context)
        if action.startswith("flow:"):
            return self._start_once(state, action[5:], context)
        return Turn(state, effects=(GlobalAction(action),))

    def _welcome(self, state: ConversationState, context: ContextFactory, payload: str) -> Turn:
        t = context(state.frame).t
        welcome = Text(self.persona.welcome(t))
        if state.frame is not None:
            note = Text(t("You have a form in progress; we continue where you left off. Type /batal to abandon it."))
            turn = self._prompt(replace(state, confirming=None), context)
            return replace(turn, messages=(welcome, note, *turn.messages))
        effects: tuple[Effect, ...] = (GlobalAction(f"start:{payload}"),) if payload else ()
        turn = self._menu(state, t)
        return replace(turn, messages=(welcome, *turn.messages), effects=effects)

    def _help(self, state: ConversationState, context: ContextFactory) -> Turn:
        t = context(state.frame).t
        turn = self.reprompt(replace(state, confirming=None), context)
        return replace(turn, messages=(Text(self.persona.help(t)), *turn.messages))

    def _idle(self, state: ConversationState, t: Translator) -> Turn:
        turn = self._menu(state, t)
        return replace(turn, messages=(Text(t("Please choose from the menu below.")), *turn.messages))

    def _menu(self, state: ConversationState, t: Translator) -> Turn:
        options = tuple(self.persona.menu(t))
        return Turn(replace(state, offered=options), (Choice(t("What would you like to do?"), options),))

    def _stale(self, state: ConversationState, context: ContextFactory, *, foreign: bool = False) -> Turn:
        t = context(state.frame).t
        turn = self.reprompt(state, context)
        if foreign:
            note = Refusal(t("That button belongs to an earlier question or to someone else's, so nothing was "
                             "changed. Here is your current question."))  # fmt: skip
        else:
            note = Refusal(t("That button belongs to an earlier question and no longer applies. "
                             "Here is the current one."))  # fmt: skip
        return replace(turn, messages=(note, *turn.messages))

    # ---- abandoning and going back -----------------------------------------------------------------------

    def _ask_abandon(self, state: ConversationState, context: ContextFactory) -> Turn:
        frame = state.frame
        t = context(frame).t
        if frame is None:
            turn = self._menu(state, t)
            return replace(turn, messages=(Text(t("There is no form in progress.")), *turn.messages))
        flow = self.flows[frame.flow]
        options = (Option(YES, t("Yes, abandon it")), Option(NO, t("No, continue")))
        question = t("Abandon “{title}”? The answers you gave in it will be deleted.", title=t(flow.title))
        return Turn(replace(state, confirming="abandon", offered=options), (Choice(question, options),))

    def _confirm_abandon(
        self, state: ConversationState, inbound: Inbound, context: ContextFactory, *, numbers_shown: bool = True
    ) -> Turn:
        t = context(state.frame).t
        if isinstance(inbound, PressIn) and inbound.key == YES and state.frame is not None:
            resumed = replace(state.pop(), confirming=None)
            done = Text(t("The form has been abandoned. Nothing was sent."))
            turn = self.reprompt(resumed, context)
            return replace(turn, messages=(done, *turn.messages))
        if isinstance(inbound, PressIn) and inbound.key == NO:
            return self._prompt(replace(state, confirming=None), context)
        turn = self._ask_abandon(state, context)
        if numbers_shown:  # the options are numbered where the person reads them (the console, long lists)
            hint = Text(t("Please answer “ya” (or 1) to abandon the form, or “tidak” (or 2) to continue it."))
        else:
            hint = Text(t("Please answer “ya” to abandon the form, or “tidak” to continue it, or press a button."))
        return replace(turn, messages=(hint, *turn.messages))

    def _back(self, state: ConversationState, context: ContextFactory) -> Turn:
        frame = state.frame
        t = context(frame).t
        if frame is None:
            turn = self._menu(state, t)
            return replace(turn, messages=(Text(t("There is no previous step.")), *turn.messages))
        state = replace(state, confirming=None)
        if frame.draft:
            # Within a step (times of a date -> the dates again): back to the step's first question.
            return self._prompt(state.with_frame(replace(frame, draft=None)), context)
        if frame.editing or frame.step in (EDIT_MENU, EDIT_SECTION):
            return self._prompt(state.with_frame(self._end_edit(frame, restore=True)), context)
        if not frame.history:
            turn = self._prompt(state, context)
            return replace(turn, messages=(Text(t("This is the first step.")), *turn.messages))
        previous = frame.history[-1]
        # Every answer stays: the question shows it (a list: what was chosen, with "Done" and "Remove the last one").
        moved = replace(frame, step=previous, history=frame.history[:-1], draft=None)
        return self._prompt(state.with_frame(moved), context)

    # ---- answering a step --------------------------------------------------------------------------------

    def _answer(self, state: ConversationState, frame: Frame, inbound: Inbound, context: ContextFactory) -> Turn:
        flow = self.flows[frame.flow]
        step = flow.step(frame.step)
        ctx = context(frame)
        t = ctx.t
        if step.collect > 1 and isinstance(inbound, PressIn) and inbound.key == DONE and frame.answers.get(step.key):
            return self._advance(state, flow, frame, context)
        if step.collect > 1 and isinstance(inbound, PressIn) and inbound.key == UNDO and frame.answers.get(step.key):
            collected = list(frame.answers[step.key])
            removed = collected.pop()
            answers = {**frame.answers, step.key: collected} if collected else \
                {k: v for k, v in frame.answers.items() if k != step.key}  # fmt: skip
            turn = self._prompt(state.with_frame(replace(frame, answers=answers, draft=None)), context)
            note = Text(t("Removed: {answer}.", answer=step.show(removed, ctx)))
            return replace(turn, messages=(note, *turn.messages))
        if step.skippable and self._is_skip(inbound):
            value: Any = None
        elif isinstance(inbound, TextIn) and inbound.text.strip().casefold() in REFUSED_SKIPS:
            turn = self._prompt(state, context)
            return replace(turn, messages=(Text(t("This question cannot be skipped; please answer it.")),
                                           *turn.messages))  # fmt: skip
        else:
            try:
                value = step.parse(inbound, ctx)
            except Pending as pending:
                turn = self._prompt(state.with_frame(replace(frame, draft=pending.draft)), context)
                notes = (Text(pending.note),) if pending.note else ()
                return replace(turn, messages=(*notes, *turn.messages))
            except Invalid as invalid:
                error = Text(t(invalid.msgid, **invalid.params))
                turn = self._prompt(state, context)
                return replace(turn, messages=(error, *turn.messages))
        acknowledged: tuple[Outbound, ...] = ()
        if step.acknowledge is not None and value is not None:
            acknowledged = (Text(step.acknowledge(value, ctx)),)
        answers = dict(frame.answers)
        frame = replace(frame, draft=None)
        if step.collect > 1:
            collected = list(answers.get(step.key) or [])
            if value in collected:
                turn = self._prompt(state.with_frame(frame), context)
                return replace(turn, messages=(Text(t("You already chose that one.")), *turn.messages))
            if len(collected) >= step.collect:  # back at a full list: one must go before another comes
                turn = self._prompt(state.with_frame(frame), context)
                full = t("You have already chosen {n}. Choose “Remove the last one” first, or “Done”.", n=step.collect)
                return replace(turn, messages=(Text(full), *turn.messages))
            collected.append(value)
            answers[step.key] = collected
            frame = replace(frame, answers=answers)
            if len(collected) < step.collect:
                turn = self._prompt(state.with_frame(frame), context)
                return replace(turn, messages=(*acknowledged, *turn.messages))
        else:
            answers[step.key] = value
            frame = replace(frame, answers=answers)
        turn = self._advance(state, flow, frame, context)
        return replace(turn, messages=(*acknowledged, *turn.messages))

    @staticmethod
    def _is_skip(inbound: Inbound) -> bool:
        if isinstance(inbound, PressIn):
            return inbound.key == SKIP
        return isinstance(inbound, TextIn) and inbound.text.strip().casefold() in SKIP_WORDS

    def _advance(self, state: ConversationState, flow: Flow, frame: Frame, context: ContextFactory) -> Turn:
        frame = replace(frame, draft=None)
        current = flow.step(frame.step)
        history = (*frame.history, frame.step)
        if frame.editing:
            # One answer changed. Answers that depended on it are asked again (a new official: new times),
            # then back to the summary.
            before = (frame.backup or {}).get(current.key)
            if current.invalidates and frame.answers.get(current.key) != before:
                frame = replace(frame, answers={k: v for k, v in frame.answers.items()
                                                if k not in current.invalidates})  # fmt: skip
            upcoming = self._first_unanswered(flow, frame, context)
            if upcoming is None:
                return self._prompt(state.with_frame(replace(self._end_edit(frame), history=history)), context)
            return self._prompt(state.with_frame(replace(frame, step=upcoming.key, history=history)), context)
        upcoming = self._first_applicable(flow, frame, flow.index(current.key) + 1, context)
        if upcoming is not None:
            return self._prompt(state.with_frame(replace(frame, step=upcoming.key, history=history)), context)
        moved = replace(frame, step=SUMMARY, history=history)
        if flow.summary_intro is None:
            return self._finish(state.with_frame(moved), moved, context)
        return self._prompt(state.with_frame(moved), context)

    @staticmethod
    def _first_applicable(flow: Flow, frame: Frame, start: int, context: ContextFactory) -> Step | None:
        for step in flow.steps[start:]:
            if step.applies(context(frame)):
                return step
        return None

    @staticmethod
    def _first_unanswered(flow: Flow, frame: Frame, context: ContextFactory) -> Step | None:
        """A question that applies and was never answered (a skipped one was: its answer is None)."""
        for step in flow.steps:
            if step.key not in frame.answers and step.applies(context(frame)):
                return step
        return None

    @staticmethod
    def _end_edit(frame: Frame, *, restore: bool = False) -> Frame:
        """Back to the summary; with `restore`, as the answers were before changing began."""
        answers = frame.backup if restore and frame.backup is not None else frame.answers
        return replace(frame, step=SUMMARY, editing=None, backup=None, draft=None, answers=dict(answers))

    def _begin_edit(self, state: ConversationState, frame: Frame, step: Step, context: ContextFactory) -> Turn:
        answers = dict(frame.answers)
        if step.collect > 1:
            answers.pop(step.key, None)  # a list is chosen again from the start (/kembali restores it)
        moved = replace(frame, step=step.key, editing=step.key, answers=answers, draft=None)
        return self._prompt(state.with_frame(moved), context)

    # ---- the summary: send, change a section, or abandon ------------------------------------------------

    def _summary_answer(
        self, state: ConversationState, frame: Frame, inbound: Inbound, context: ContextFactory
    ) -> Turn:
        if isinstance(inbound, PressIn) and inbound.key == SEND:
            missing = self._first_unanswered(self.flows[frame.flow], frame, context)
            if missing is not None:  # never send with a question left open
                moved = replace(frame, step=missing.key, editing=missing.key, backup=dict(frame.answers))
                turn = self._prompt(state.with_frame(moved), context)
                note = Text(context(frame).t("One question still needs an answer before sending."))
                return replace(turn, messages=(note, *turn.messages))
            stale = self._recheck(state, frame, context)
            if stale is not None:
                return stale
            return self._finish(state, frame, context)
        flow = self.flows[frame.flow]
        if isinstance(inbound, PressIn) and inbound.key == EDIT:
            frame = replace(frame, backup=dict(frame.answers))
            steps = [s for s in flow.steps if s.applies(context(frame))]
            if len(steps) == 1:  # one question only (a reason): no menu of one part and one answer
                return self._begin_edit(state, frame, steps[0], context)
            return self._prompt(state.with_frame(replace(frame, step=EDIT_MENU)), context)
        if isinstance(inbound, PressIn) and inbound.key == CANCEL:
            if flow.abandon_asks:
                return self._ask_abandon(state, context)
            t = context(frame).t
            said = Text(t(flow.abandoned, **{k: v for k, v in frame.data.items() if isinstance(v, str | int)}))
            turn = self.reprompt(replace(state.pop(), confirming=None), context)
            return replace(turn, messages=(said, *turn.messages))
        t = context(frame).t
        turn = self._prompt(state, context)
        return replace(turn, messages=(Text(t("Please choose one of the options below.")), *turn.messages))

    def _recheck(self, state: ConversationState, frame: Frame, context: ContextFactory) -> Turn | None:
        """At "Send": answers that no longer hold (a preferred time now past or too soon, the form having waited)
        are dropped with the reason; a question left with no answer is asked again, the rest is kept. None when
        everything still holds."""
        flow = self.flows[frame.flow]
        ctx = context(frame)
        answers = dict(frame.answers)
        notes: list[str] = []
        for step in flow.steps:
            value = answers.get(step.key)
            if step.recheck is None or value is None or not step.applies(ctx):
                continue
            values = list(value) if step.collect > 1 else [value]
            kept = []
            for item in values:
                why = step.recheck(item, ctx)
                if why is None:
                    kept.append(item)
                else:
                    notes.append(why)
            if len(kept) == len(values):
                continue
            if kept and step.collect > 1:
                answers[step.key] = kept
            else:
                answers.pop(step.key)
        if not notes:
            return None
        t = ctx.t
        listed = "\n".join(f"• {note}" for note in notes)
        frame = replace(frame, answers=answers)
        missing = self._first_unanswered(flow, frame, context)
        if missing is None:
            said = t("Before sending we checked your answers again. These no longer hold and have been removed:\n"
                     "{removed}\nPlease check your request once more.", removed=listed)  # fmt: skip
            turn = self._prompt(state.with_frame(frame), context)
        else:
            said = t("Before sending we checked your answers again. These no longer hold and have been removed:\n"
                     "{removed}\nPlease choose again; your other answers are kept.", removed=listed)  # fmt: skip
            moved = replace(frame, step=missing.key, editing=missing.key, backup=dict(answers), draft=None)
            turn = self._prompt(state.with_frame(moved), context)
        return replace(turn, messages=(Text(said), *turn.messages))

    def _edit_answer(self, state: ConversationState, frame: Frame, inbound: Inbound, context: ContextFactory) -> Turn:
        flow = self.flows[frame.flow]
        if isinstance(inbound, PressIn) and inbound.key == RESUME:
            return self._prompt(state.with_frame(self._end_edit(frame, restore=True)), context)
        if isinstance(inbound, PressIn) and inbound.key.startswith("f:section:"):
            section = inbound.key.removeprefix("f:section:")
            steps = [s for s in flow.section_steps(section) if s.applies(context(frame))]
            if len(steps) == 1:
                return self._begin_edit(state, frame, steps[0], context)
            if steps:
                return self._prompt(state.with_frame(replace(frame, step=EDIT_SECTION, editing=section)), context)
        if isinstance(inbound, PressIn) and inbound.key.startswith("f:answer:"):
            key = inbound.key.removeprefix("f:answer:")
            if any(s.key == key for s in flow.steps):
                return self._begin_edit(state, replace(frame, editing=None), flow.step(key), context)
        t = context(frame).t
        turn = self._prompt(state, context)
        return replace(turn, messages=(Text(t("Please choose one of the options below.")), *turn.messages))

    def _finish(self, state: ConversationState, frame: Frame, context: ContextFactory) -> Turn:
        completed = FlowCompleted(frame.flow, dict(frame.answers), dict(frame.data))
        return Turn(replace(state.pop(), offered=(), confirming=None), effects=(completed,))

    # ---- prompts -----------------------------------------------------------------------------------------

    def _prompt(self, state: ConversationState, context: ContextFactory) -> Turn:
        frame = state.frame
        if frame is None:
            return self._menu(state, context(None).t)
        ctx = context(frame)
        t = ctx.t
        flow = self.flows[frame.flow]
        if frame.step == SUMMARY:
            options: tuple[Option, ...] = (
                Option(SEND, t(flow.submit_label)),
                Option(EDIT, t(flow.edit_label)),
                Option(CANCEL, t(flow.abandon_label)),
            )
            body = f"{t(flow.summary_intro or '')}\n\n{self.summary(flow, frame, ctx)}"
            return Turn(replace(state, offered=options), (Choice(body, options),))
        if frame.step == EDIT_MENU:
            sections = [s for s in flow.sections if any(st.applies(ctx) for st in flow.section_steps(s.key))]
            options = (
                *(Option(f"f:section:{s.key}", t(s.label)) for s in sections),
                Option(RESUME, t("Back to the summary")),
            )
            return Turn(replace(state, offered=options), (Choice(t("Which part would you like to change?"), options),))
        if frame.step == EDIT_SECTION:
            steps = [st for st in flow.section_steps(frame.editing or "") if st.applies(ctx)]
            answers = [Option(f"f:answer:{st.key}", t(st.label), self._shown(st, frame.answers.get(st.key), ctx))
                       for st in steps]  # fmt: skip
            options = (*answers, Option(RESUME, t("Back to the summary")))
            question = Choice(t("Which answer would you like to change?"), options)
            return Turn(replace(state, offered=options), (question,))
        step = flow.step(frame.step)
        params = dict(step.prompt_params(ctx)) if step.prompt_params else {}
        body = step.ask(ctx) if step.ask is not None else t(step.prompt, **params)
        current = frame.answers.get(step.key)
        if step.collect > 1 and current:
            chosen = "\n".join(f"• {step.show(v, ctx)}" for v in current)
            body = t("{question}\n\nChosen so far:\n{chosen}", question=body, chosen=chosen)
        elif current is not None and step.collect == 1:
            body = t("{question}\n\n(Current answer: {answer})", question=body, answer=step.show(current, ctx))
        choices = list(step.options(ctx))
        if step.collect > 1 and current:
            choices.append(Option(DONE, t("Done")))
            # At the step's first question (not amid a date's times), while the buttons still fit one list.
            if not frame.draft and len(choices) < MAX_LIST:
                choices.append(Option(UNDO, t("Remove the last one")))
        if step.skippable:
            choices.append(Option(SKIP, t("Skip")))
        offered = tuple(choices)
        if offered:
            return Turn(replace(state, offered=offered), (Choice(body, offered, step.hint),))
        return Turn(replace(state, offered=()), (Prompt(body, step.hint),))

    def summary(self, flow: Flow, frame: Frame, ctx: StepContext) -> str:
        t = ctx.t
        lines: list[str] = []
        for section in flow.sections or ():
            steps = [s for s in flow.section_steps(section.key) if s.applies(ctx)]
            if not steps:
                continue
            if len(steps) == 1:  # "Pejabat: …", not "Pejabat" and then "• Pejabat: …"
                lines.append(f"{t(section.label)}: {self._shown(steps[0], frame.answers.get(steps[0].key), ctx)}")
                continue
            lines.append(t(section.label))
            for step in steps:
                lines.append(f"  • {t(step.label)}: {self._shown(step, frame.answers.get(step.key), ctx)}")
        return "\n".join(lines)

    @staticmethod
    def _shown(step: Step, value: Any, ctx: StepContext) -> str:
        if value is None or value == []:
            return ctx.t("—")
        if step.collect > 1:
            return "; ".join(step.show(v, ctx) for v in _in_order(value))
        return step.show(value, ctx)


def _in_order(values: list[Any]) -> list[Any]:
    """Times read in date order, however they were picked; other lists as given."""
    try:
        return sorted(values, key=lambda v: datetime.fromisoformat(str(v)))
    except (TypeError, ValueError):
        return list(values)


def make_context_factory(t: Translator, now: Any, env: FlowEnv) -> ContextFactory:
    def factory(frame: Frame | None) -> StepContext:
        return StepContext(t=t, now=now, answers=frame.answers if frame else {}, data=frame.data if frame else {},
                           env=env, draft=(frame.draft or {}) if frame else {})  # fmt: skip

    return factory


__all__ = [
    "CANCEL", "DONE", "EDIT", "GLOBAL", "NO", "RESUME", "SEND", "SKIP", "UNDO", "YES", "ContextFactory", "Effect",
    "Engine", "FlowCompleted", "GlobalAction", "Persona", "Turn", "make_context_factory",
]  # fmt: skip
