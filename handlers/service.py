"""The conversation service: one inbound message in, the replies out, everything stored in one transaction.

Channels call :meth:`ConversationService.handle`. It loads the person's conversation, runs the engine, carries
out the effects through use cases, queues notifications for other people in the outbox, and saves — all in one
unit of work, retried from scratch when a concurrent change wins first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.conversation import stamps
from handlers.conversation.engine import ContextFactory, Effect, Engine, FlowCompleted, GlobalAction, Turn
from handlers.conversation.flow import FlowEnv, StepContext
from handlers.conversation.state import ConversationState, Frame
from handlers.domain.model import (
    Action,
    ActorKind,
    Address,
    AudienceRequest,
    DomainError,
    NotAuthorized,
    Permission,
    RequestStatus,
    SlotUnavailable,
    StaffMember,
)
from handlers.flows.decisions import (
    APPROVE,
    CANCEL_REQUEST,
    DAY_OFF,
    DECLINE_PROPOSAL,
    HAND_OVER,
    KEEP_SCHEDULE,
    POSTPONE,
    PROPOSE,
    PROVIDE_INFO,
    REJECT,
    REQUEST_INFO,
    RESCHEDULE,
)
from handlers.flows.feedback import FEEDBACK_COMMENT
from handlers.flows.personas import representative_persona, staff_persona
from handlers.flows.request_audience import REQUEST_AUDIENCE
from handlers.i18n import Catalogs, Translator
from handlers.lifecycle import REPRESENTATIVE_ACTIONS, STAFF_ACTIONS, LifecycleActions
from handlers.messages import Choice, Document, Inbound, Notification, Option, Outbound, Refusal, Text, TextIn
from handlers.ports import Clock, ConcurrencyConflict, Directory, SlotSuggester, UnitOfWork, UnitOfWorkFactory
from handlers.presenters import (
    actor_name,
    card_actions,
    info_exchanges,
    letter_caption,
    representative_notice,
    request_card,
    shorten,
    staff_intro,
    status_label,
    status_line,
)
from handlers.recipients import staff_recipients
from handlers.reminders import ReminderPolicy
from handlers.scheduling import OfficialCalendar
from handlers.suggestions import AvailabilitySuggester
from handlers.usecases import reminders
from handlers.usecases import requests as usecases
from handlers.validators import show_phone

log = logging.getLogger(__name__)

REPRESENTATIVE = "representative"
STAFF = "staff"
DECISION_FLOWS = {"approve": Action.APPROVE, "reject": Action.REJECT, "info": Action.REQUEST_INFO,
                  "propose": Action.PROPOSE_TIME, "handover": Action.HAND_OVER, "postpone": Action.POSTPONE,
                  "keep": Action.DECLINE_RESCHEDULE}  # fmt: skip
FLOW_OF_ACTION = {Action.APPROVE: APPROVE, Action.REJECT: REJECT, Action.REQUEST_INFO: REQUEST_INFO,
                  Action.PROPOSE_TIME: PROPOSE, Action.HAND_OVER: HAND_OVER, Action.POSTPONE: POSTPONE,
                  Action.DECLINE_RESCHEDULE: KEEP_SCHEDULE}  # fmt: skip
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class ServiceConfig:
    city: str
    tz: ZoneInfo
    max_attendees: int = 50
    max_file_bytes: int = 10 * 1024 * 1024
    reminders: ReminderPolicy | None = None  # None: the defaults in the city's zone


@dataclass
class _Exchange:
    """What one inbound message is handled with; lives for one attempt."""

    uow: UnitOfWork
    conversation: Address
    persona: str
    engine: Engine
    context: ContextFactory
    t: Translator
    now: datetime
    staff: StaffMember | None
    # A staff group: cards are edited in place by the channel, and no menu follows each answer.
    compact: bool = False
    # Officials' calendars read in this transaction (flows see them through FlowEnv.calendar).
    calendars: dict[str, OfficialCalendar] = field(default_factory=dict)


class ConversationService(LifecycleActions):
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        catalogs: Catalogs,
        directory: Directory,
        config: ServiceConfig,
        suggester: SlotSuggester | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._catalogs = catalogs
        self._directory = directory
        self._config = config
        self._suggester: SlotSuggester = suggester or AvailabilitySuggester(config.tz)
        rep_flows = {f.name: f for f in (REQUEST_AUDIENCE, PROVIDE_INFO, DECLINE_PROPOSAL, CANCEL_REQUEST,
                                         RESCHEDULE, FEEDBACK_COMMENT)}  # fmt: skip
        staff_flows = {f.name: f for f in (APPROVE, REJECT, REQUEST_INFO, PROPOSE, HAND_OVER, POSTPONE,
                                           KEEP_SCHEDULE, DAY_OFF)}  # fmt: skip
        self.engines = {
            REPRESENTATIVE: Engine(rep_flows, representative_persona(config.city)),
            STAFF: Engine(staff_flows, staff_persona(config.city)),
        }
        self.reminders = reminders.ReminderPlanner(policy=config.reminders or ReminderPolicy(tz=config.tz),
                                                   directory=directory, translator=self.translator)  # fmt: skip
        self.reminders.card = self.card  # expiry and a lapsed move refresh the staff cards

    # ---- public API --------------------------------------------------------------------------------------

    async def handle(
        self,
        conversation: Address,
        inbound: Inbound,
        *,
        persona: str = REPRESENTATIVE,
        sender: Address | None = None,
        supports_files: bool = False,
        event_id: str | None = None,
        language: str | None = None,
        compact: bool = False,
        numbered_above: int | None = 0,
    ) -> list[Outbound]:
        """Handle one message; returns what to show the sender right away.

        `numbered_above`: how many options the channel shows before it numbers them (None: it never does),
        so that a typed number means an option only where the person saw numbers.

        With `event_id` (a platform's update or message id) a redelivered event is recognised and changes
        nothing; it returns no messages.
        """
        salt = f"{conversation.channel}:{conversation.external_id}"

        def run(ex: _Exchange, state: ConversationState, _known: bool) -> Turn:
            return ex.engine.handle(state, stamps.unstamp(state, inbound, salt), ex.context,
                                    numbered_above=numbered_above)  # fmt: skip

        messages, _known = await self._run(conversation, run, persona=persona, sender=sender,
                                           supports_files=supports_files, event_id=event_id, language=language,
                                           compact=compact)  # fmt: skip
        return messages

    async def reopen(self, conversation: Address, *, persona: str = REPRESENTATIVE) -> tuple[list[Outbound], bool]:
        """A person opens the conversation again (the console started anew): the full welcome the first time,
        then only "welcome back" and the question still open — a pending yes/no, a form's step — or the menu.

        Returns the messages and whether a question of the person's own is open (then it must be shown last,
        after any notices, so that a typed number answers it; otherwise notices may come last)."""

        busy = False

        def run(ex: _Exchange, state: ConversationState, known: bool) -> Turn:
            nonlocal busy
            turn = ex.engine.resume(state, ex.context) if known else ex.engine.handle(state, TextIn("/mulai"),
                                                                                       ex.context)  # fmt: skip
            busy = turn.state.frame is not None or turn.state.confirming is not None
            return turn

        messages, _known = await self._run(conversation, run, persona=persona)
        return messages, busy

    async def _run(
        self, conversation: Address, run: Callable[[_Exchange, ConversationState, bool], Turn], *, persona: str,
        sender: Address | None = None, supports_files: bool = False, event_id: str | None = None,
        language: str | None = None, compact: bool = False,
    ) -> tuple[list[Outbound], bool]:  # fmt: skip
        """One turn in one unit of work, retried from scratch on a concurrent change; also says whether the
        conversation was known before."""
        reminders.use(self.reminders)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._uow_factory() as uow:
                    if event_id is not None and not await uow.events.first_time(conversation.channel, event_id):
                        log.info("event %s:%s already handled", conversation.channel, event_id)
                        return [], True
                    exchange = await self._exchange(uow, conversation, persona, sender, supports_files, language)
                    exchange.compact = compact
                    if persona == STAFF and exchange.staff is None:
                        return [Refusal(exchange.t("Only registered staff can use this. Please contact the "
                                                   "administrator if you should have access."))], False  # fmt: skip
                    stored = await uow.conversations.load(conversation)
                    state = stored or ConversationState(language=language)
                    if persona == REPRESENTATIVE:
                        await uow.contacts.mark_reachable(conversation)  # they wrote: the channel works again
                    salt = f"{conversation.channel}:{conversation.external_id}"
                    turn = run(exchange, state, stored is not None)
                    messages, after = await self._carry_out(exchange, turn)
                    messages, state = stamps.stamp_turn(state, after, messages, salt)
                    await uow.conversations.save(conversation, state)
                    await uow.commit()
                    return messages, stored is not None
            except ConcurrencyConflict:
                log.info("concurrent change; retrying (attempt %s)", attempt)
        raise ConcurrencyConflict("gave up after repeated conflicts")

    async def owe(self, address: Address, messages: Sequence[Outbound], kind: str = "reply") -> None:
        """Keep replies a channel could not deliver now; they go out with the other queued notices."""
        async with self._uow_factory() as uow:
            await uow.outbox.enqueue(Notification(address.channel, address.external_id, kind, tuple(messages)),
                                     self._clock.now())  # fmt: skip
            await uow.commit()

    async def report_unreachable(self, address: Address, reason: str, request_id: int | None) -> None:
        """The channel says this person can no longer be reached: remember it and show staff on the card.

        Only representatives are marked: a staff chat that cannot be reached would be warned about itself, and
        that warning would fail the same way, again and again (the channel logs it for the operator instead).
        """
        if self._is_staff(address):
            log.warning("a staff address on %s cannot be reached; not marked", address.channel)
            return
        async with self._uow_factory() as uow:
            now = self._clock.now()
            await uow.contacts.mark_unreachable(address, reason, now)
            request = await uow.requests.get(request_id) if request_id is not None else None
            if request is not None:
                for staff, member in staff_recipients(self._directory, request.official_key):
                    stored = await uow.conversations.load(staff)
                    t = self.translator(stored.language if stored else None)
                    card = await self.card(uow, request, t, viewer=member)
                    await uow.outbox.enqueue(
                        Notification(staff.channel, staff.external_id, "unreachable", (card,), request.id), now
                    )
            await uow.commit()

    async def report_undelivered(self, address: Address, request_id: int | None, reason: str) -> None:
        """A notice to this person failed for good (the channel will not try it again): staff see it.

        The request's card lists the failed notice (see `card`); here staff also get the card again with a line
        saying so, as for an unreachable representative. Channel-neutral: any channel calls it when a notice to
        a representative ends failed. A staff address, or a notice about no request, is only logged.
        """
        if self._is_staff(address) or request_id is None:
            log.warning("a notice on %s failed for good (%s)", address.channel, reason[:200])
            return
        async with self._uow_factory() as uow:
            request = await uow.requests.get(request_id)
            if request is None:
                return
            channel = reminders.channel_name(address.channel)
            await self._card_again(uow, request, lambda t: t(
                "A notice to the representative of {reference} could not be delivered via {channel}: {reason}",
                reference=request.reference, channel=channel, reason=reason))  # fmt: skip
            await uow.commit()

    async def _card_again(
        self, uow: UnitOfWork, request: AudienceRequest, line: Callable[[Translator], str], kind: str = "unreachable"
    ) -> None:
        """Staff who may view the request get a line about it and its card again; `kind` is a card-refresh kind
        (in a staff group it edits the request's card, the line going as a reply)."""
        now = self._clock.now()
        for staff, member in staff_recipients(self._directory, request.official_key):
            stored = await uow.conversations.load(staff)
            t = self.translator(stored.language if stored else None)
            card = await self.card(uow, request, t, viewer=member)
            notice = Notification(staff.channel, staff.external_id, kind, (Text(line(t)), card), request.id)
            await uow.outbox.enqueue(notice, now)

    def _is_staff(self, address: Address) -> bool:
        return address in self._directory.staff_addresses() or self._directory.staff_for(address) is not None

    @property
    def city(self) -> str:
        """The city government's name, as its people read it ("Pemerintah Kota Makassar")."""
        return self._config.city

    async def report_reminder_lost(self, kind: str, request_id: int | None) -> None:
        """A reminder (or feedback request) to a representative could not be delivered and will not be tried
        again: staff get the card once more, whose reminder lines show it ("gagal (…)", "dilewati (…)"), so
        they can phone the representative. Other rows are only recorded on the row (`audiensi messages`)."""
        if kind not in reminders.KIND_LABELS or request_id is None:
            return
        async with self._uow_factory() as uow:
            request = await uow.requests.get(request_id)
            if request is None:
                return
            phone = show_phone(request.representative.phone)
            await self._card_again(uow, request, lambda t: t(
                "The {what} to the representative of {reference} could not be delivered; please contact them "
                "another way (phone {phone}).", what=t(reminders.KIND_LABELS[kind]), reference=request.reference,
                phone=phone), kind=reminders.REMINDER_FAILED)  # fmt: skip
            await uow.commit()

    def unit_of_work(self) -> UnitOfWork:
        return self._uow_factory()

    def staff_for(self, address: Address) -> StaffMember | None:
        return self._directory.staff_for(address)

    def translator(self, language: str | None = None) -> Translator:
        return self._catalogs.translator(language, self._config.tz)

    # ---- internals ---------------------------------------------------------------------------------------

    async def _exchange(
        self, uow: UnitOfWork, conversation: Address, persona: str, sender: Address | None, files: bool,
        language: str | None = None,
    ) -> _Exchange:  # fmt: skip
        now = self._clock.now()
        stored = await uow.conversations.load(conversation)
        # A stored choice wins; a newcomer is answered in the language their app says they use.
        t = self.translator(stored.language if stored and stored.language else language)
        calendars: dict[str, OfficialCalendar] = {}
        env = FlowEnv(
            officials=self._directory.officials(),
            max_attendees=self._config.max_attendees,
            supports_files=files,
            max_file_bytes=self._config.max_file_bytes,
            calendar=calendars.get,
        )

        def context(frame: Frame | None) -> StepContext:
            return StepContext(t=t, now=now, answers=frame.answers if frame else {}, data=frame.data if frame else {},
                               env=env, draft=(frame.draft or {}) if frame else {})  # fmt: skip

        staff = self._directory.staff_for(sender or conversation) if persona == STAFF else None
        exchange = _Exchange(uow, conversation, persona, self.engines[persona], context, t, now, staff,
                             calendars=calendars)  # fmt: skip
        await self._prefetch(exchange, stored)
        return exchange

    def _reprompt(self, ex: _Exchange, state: ConversationState) -> Turn:
        if ex.compact and state.frame is None:
            return Turn(state)
        return ex.engine.reprompt(state, ex.context)

    async def _carry_out(self, ex: _Exchange, turn: Turn) -> tuple[list[Outbound], ConversationState]:
        messages = list(turn.messages)
        state = turn.state
        for effect in turn.effects:
            try:
                more, state = await self._effect(ex, state, effect)
            except usecases.AlreadyDecided as decided:
                more = [Refusal(await self._already_decided(ex, decided.request))]
                state = replace(state, offered=())
                more += list(self._reprompt(ex, state).messages)
            except SlotUnavailable as refused:
                more, state = await self._slot_refused(ex, state, effect, refused)
            except usecases.AudienceTimePassed as passed:
                more = [Refusal(self._time_passed(passed, ex.t))]
                state = replace(state, offered=())
                more += list(self._reprompt(ex, state).messages)
            except usecases.NotYetHeld as early:
                when = ex.t.datetime(early.request.scheduled_at) if early.request.scheduled_at else "—"
                more = [Refusal(ex.t("{reference} is scheduled for {when}; it can be marked after that time.",
                                     reference=early.request.reference, when=when))]  # fmt: skip
            except NotAuthorized:
                more = [Refusal(ex.t("You are not authorized to do that for this request."))]
            except usecases.RequestNotFound:
                more = [Refusal(ex.t("That request was not found."))]
            messages += more
        return messages, state

    async def _effect(
        self, ex: _Exchange, state: ConversationState, effect: Effect
    ) -> tuple[list[Outbound], ConversationState]:
        if isinstance(effect, FlowCompleted):
            return await self._completed(ex, state, effect)
        return await self._global(ex, state, effect)

    async def _global(
        self, ex: _Exchange, state: ConversationState, effect: GlobalAction
    ) -> tuple[list[Outbound], ConversationState]:
        name, _, argument = effect.key.partition(":")
        handlers: dict[str, Callable[[_Exchange, ConversationState, str], object]] = {
            "status": self._status,
            "answers": self._status,
            "answer": self._start_answer,
            "queue": self._queue,
            "open": self._open,
            "openref": self._open_reference,
            "letter": self._letter,
            "start": self._deep_link,
            "r": self._reminder_press,
            **{key: self._start_decision for key in DECISION_FLOWS},
            **self._lifecycle_handlers(),
        }
        handler = handlers.get(name)
        allowed = (
            (REPRESENTATIVE, ("status", "answers", "answer", "start", "r", "letter", *REPRESENTATIVE_ACTIONS)),
            (STAFF, ("queue", "open", "openref", "letter", *DECISION_FLOWS, *STAFF_ACTIONS)),
        )
        permitted = dict(allowed).get(ex.persona, ())
        if handler is None or name not in permitted:
            turn = self._reprompt(ex, state)
            return [Refusal(ex.t("That option is not available here.")), *turn.messages], turn.state
        if name in DECISION_FLOWS:
            return await self._start_decision(ex, state, f"{name}:{argument}")
        result = handler(ex, state, argument)
        return await result  # type: ignore[misc]

    # ---- representative actions ----------------------------------------------------------------------------

    async def _status(
        self, ex: _Exchange, state: ConversationState, _arg: str
    ) -> tuple[list[Outbound], ConversationState]:
        requests = await ex.uow.requests.list_for_contact(ex.conversation)
        if not requests:
            body = ex.t("You have no audience requests yet. Choose “Request an audience” to make one.")
            turn = self._reprompt(ex, state)
            return [Text(body), *turn.messages], turn.state
        lines = [status_line(r, self._directory.official(r.official_key), ex.t) for r in requests]
        body = ex.t("Your audience requests:") + "\n\n" + "\n\n".join(lines)
        ratable, reminded = await self.reminders.status_extras(ex.uow, requests[:5], ex.now)
        options = self._status_options(requests, ex.t, ex.now, ratable=ratable, reminded=reminded)
        if options:
            return [Choice(body, options)], replace(state, offered=options)
        turn = self._reprompt(ex, state)
        return [Text(body), *turn.messages], turn.state

    async def _start_answer(
        self, ex: _Exchange, state: ConversationState, argument: str
    ) -> tuple[list[Outbound], ConversationState]:
        request = await usecases.owned_request(ex.uow, ex.conversation, _request_id(argument))
        if request.status is not RequestStatus.INFO_REQUESTED:
            raise usecases.AlreadyDecided(request)
        data = {"request_id": request.id, "reference": request.reference, "question": request.info_question}
        turn = ex.engine.start_flow(state, PROVIDE_INFO.name, ex.context, data)
        return list(turn.messages), turn.state

    async def _reminder_press(
        self, ex: _Exchange, state: ConversationState, argument: str
    ) -> tuple[list[Outbound], ConversationState]:
        try:
            messages = await self.reminders.press(ex.uow, ex.conversation, argument, ex.t, ex.now, self.card)
        except reminders.AlreadyRated as rated:  # a second rating changes nothing and asks for no comment
            turn = self._reprompt(ex, state)
            return [rated.reply, *turn.messages], turn.state
        except reminders.NotRatable as early:
            turn = self._reprompt(ex, state)
            said = ex.t("A rating can be given only for an audience that has taken place; {reference} is “{status}”.",
                        reference=early.request.reference, status=status_label(early.request.status, ex.t))  # fmt: skip
            return [Refusal(said), *turn.messages], turn.state
        if argument.startswith("rateask:"):  # the 1–5 buttons; a typed "5" is then the rating too
            choices = tuple(m for m in messages if isinstance(m, Choice))
            return messages, replace(state, offered=choices[0].options if choices else ())
        if argument.startswith("rate:"):  # then an optional comment
            request = await usecases.owned_request(ex.uow, ex.conversation, _request_id(argument.split(":")[1]))
            data = {"request_id": request.id, "reference": request.reference}
            turn = ex.engine.start_flow(state, FEEDBACK_COMMENT.name, ex.context, data)
            return [*messages, *turn.messages], turn.state
        if messages and isinstance(messages[-1], Choice):  # "cancel the audience?": that is the question now
            return messages, replace(state, offered=messages[-1].options)
        turn = self._reprompt(ex, state)
        return [*messages, *turn.messages], turn.state

    async def _deep_link(
        self, ex: _Exchange, state: ConversationState, payload: str
    ) -> tuple[list[Outbound], ConversationState]:
        official = self._directory.official(payload)
        if official is None or not official.active:
            return [], state
        turn = ex.engine.start_flow(state, REQUEST_AUDIENCE.name, ex.context, {"official": official.key})
        note = Text(ex.t("You are requesting an audience with {official}.", official=official.display))
        return [note, *turn.messages], turn.state

    # ---- staff actions -----------------------------------------------------------------------------------

    async def _queue(
        self, ex: _Exchange, state: ConversationState, _arg: str
    ) -> tuple[list[Outbound], ConversationState]:
        pending = await ex.uow.requests.list_by_status([RequestStatus.SUBMITTED, RequestStatus.RESCHEDULE_REQUESTED])
        pending = [r for r in pending if ex.staff is not None and ex.staff.may(Permission.VIEW, r.official_key)]
        if not pending:
            turn = self._reprompt(ex, state)
            return [Text(ex.t("No requests are awaiting a decision.")), *turn.messages], turn.state
        options = tuple(
            Option(f"g:open:{r.id}", f"{r.reference} — {r.organization.name}", shorten(r.subject, 72)) for r in pending
        )
        body = ex.t("Requests awaiting a decision, oldest first:")
        return [Choice(body, options)], replace(state, offered=options)

    async def _open(
        self, ex: _Exchange, state: ConversationState, argument: str
    ) -> tuple[list[Outbound], ConversationState]:
        request = await usecases.load(ex.uow, _request_id(argument))
        if ex.staff is None or not ex.staff.may(Permission.VIEW, request.official_key):
            raise NotAuthorized(request.reference)  # an ajudan sees only the officials they serve
        card = await self.card(ex.uow, request, ex.t, viewer=ex.staff)
        return [card], replace(state, offered=card_actions(request, ex.t, ex.staff))

    async def _open_reference(
        self, ex: _Exchange, state: ConversationState, reference: str
    ) -> tuple[list[Outbound], ConversationState]:
        """A reference typed at the menu (AUD-2026-000003) opens that request, for staff who may view it."""
        request = await ex.uow.requests.get_by_reference(reference)
        if request is None or request.id is None:
            turn = self._reprompt(ex, state)
            said = Refusal(ex.t("No request has the reference {reference}.", reference=reference))
            return [said, *turn.messages], turn.state
        return await self._open(ex, state, str(request.id))

    async def _letter(
        self, ex: _Exchange, state: ConversationState, argument: str
    ) -> tuple[list[Outbound], ConversationState]:
        """The request letter itself: for staff who may view the official's requests, and its representative."""
        if ex.persona == STAFF:
            request = await usecases.load(ex.uow, _request_id(argument))
            if ex.staff is None or not ex.staff.may(Permission.VIEW, request.official_key):
                raise NotAuthorized(request.reference)
        else:
            request = await usecases.owned_request(ex.uow, ex.conversation, _request_id(argument))
        if request.letter_file is None:
            return [Refusal(ex.t("{reference} has no letter file.", reference=request.reference))], state
        log.info("letter of request %s opened", request.reference)
        turn = self._reprompt(ex, state)
        return [Document(request.letter_file, letter_caption(request, ex.t)), *turn.messages], turn.state

    async def card(
        self, uow: UnitOfWork, request: AudienceRequest, t: Translator, viewer: StaffMember | None = None
    ) -> Outbound:
        """The staff card; it says so when the representative can no longer be reached.

        `viewer`: the one staff member who reads it (their own chat), so only the buttons they may use are shown;
        None for the shared staff group, which gets every button.
        """
        unreachable = await uow.contacts.unreachable(request.contact)
        officials = {o.key: o for o in self._directory.officials()}
        scheduled = await uow.outbox.for_request(request.id) if request.id is not None else []
        events = await uow.audit.for_request(request.id) if request.id is not None else []
        body = request_card(request, self._directory.official(request.official_key), t, officials,
                            reminders.status_lines(scheduled, t), info_exchanges(events))  # fmt: skip
        clashes = await self._clashes(uow, request, t, self._clock.now())
        if clashes:
            body += "\n" + "\n".join(clashes)
        undelivered = reminders.undelivered_lines(scheduled, request.contact, t)
        if undelivered:
            body += "\n" + "\n".join(undelivered)
        if unreachable is not None:
            body += "\n" + t("Warning: the representative cannot be reached on {channel} since {when} ({reason}).",
                              channel=reminders.channel_name(request.contact.channel), when=t.datetime(unreachable[0]),
                              reason=t(unreachable[1]))  # fmt: skip
        actions = card_actions(request, t, viewer)
        return Choice(body, actions) if actions else Text(body)

    async def _start_decision(
        self, ex: _Exchange, state: ConversationState, key: str
    ) -> tuple[list[Outbound], ConversationState]:
        name, _, argument = key.partition(":")
        action = DECISION_FLOWS[name]
        assert ex.staff is not None
        request = await usecases.check_decidable(ex.uow, ex.staff, _request_id(argument), action)
        official = self._directory.official(request.official_key)
        data = {
            "request_id": request.id,
            "reference": request.reference,
            "official": request.official_key,
            "preferred": [m.isoformat() for m in request.preferred_times],
            "scheduled": request.scheduled_at.isoformat() if request.scheduled_at else None,
            "room": official.room if official else "",
            "place": request.place,
        }
        await self._calendar(ex, request.official_key, fresh=True)
        base = (
            replace(state, frames=())
            if state.frame and state.frame.flow in {f.name for f in FLOW_OF_ACTION.values()}
            else state
        )
        turn = ex.engine.start_flow(base, FLOW_OF_ACTION[action].name, ex.context, data)
        return list(turn.messages), turn.state

    # ---- completed flows ---------------------------------------------------------------------------------

    async def _completed(
        self, ex: _Exchange, state: ConversationState, done: FlowCompleted
    ) -> tuple[list[Outbound], ConversationState]:
        if done.flow == FEEDBACK_COMMENT.name:
            comment = done.answers.get("comment")
            if comment:
                request = await usecases.owned_request(ex.uow, ex.conversation, int(done.data["request_id"]))
                await self.reminders.record_feedback(ex.uow, request, ex.now, comment=comment)
            turn = self._reprompt(ex, state)
            return [Text(ex.t("Thank you for your feedback, Bapak/Ibu.")), *turn.messages], turn.state
        if done.flow == REQUEST_AUDIENCE.name:
            request = await usecases.submit_request(
                ex.uow, contact=ex.conversation, answers=done.answers, now=ex.now, tz=self._config.tz
            )
            log.info("request submitted: %s", request.reference)
            await self._notify_staff(ex, request, "new_request")
            thanks = Text(ex.t(
                "Thank you. Your request has been received with reference code {reference}.\n"
                "Staff will review it; you will be told of the decision here. Type /status at any time to see "
                "its progress.", reference=request.reference))  # fmt: skip
            turn = self._reprompt(ex, state)
            return [thanks, *turn.messages], turn.state
        if done.flow == PROVIDE_INFO.name:
            request = await usecases.provide_info(
                ex.uow, contact=ex.conversation, request_id=int(done.data["request_id"]),
                answer=done.answers["answer"], now=ex.now)  # fmt: skip
            await self._notify_staff(ex, request, "info_provided", answer=done.answers["answer"])
            sent = Text(ex.t("Thank you. Your answer has been passed on to staff for {reference}.",
                             reference=request.reference))  # fmt: skip
            turn = self._reprompt(ex, state)
            return [sent, *turn.messages], turn.state
        if done.flow in self.LIFECYCLE_FLOWS:
            return await self._lifecycle_completed(ex, state, done)
        action = next(a for a, flow in FLOW_OF_ACTION.items() if flow.name == done.flow)
        assert ex.staff is not None
        before = await usecases.load(ex.uow, int(done.data["request_id"]))
        request = await usecases.decide(
            ex.uow, staff=ex.staff, request_id=int(done.data["request_id"]), action=action, now=ex.now,
            answers=done.answers, calendars=self._suggester)  # fmt: skip
        log.info("request %s: %s by staff %s", request.reference, action.value, ex.staff.key)
        await self._notify_representative(ex, request, action, before)
        await self._notify_staff(ex, request, "decided", exclude=ex.conversation)
        saved = Text(ex.t("Decision saved: {reference} is now “{status}”.", reference=request.reference,
                          status=status_label(request.status, ex.t)))  # fmt: skip
        turn = self._reprompt(ex, state)
        if ex.compact:
            return [saved, *turn.messages], turn.state
        return [saved, await self.card(ex.uow, request, ex.t, viewer=ex.staff), *turn.messages], turn.state

    # ---- notifications -------------------------------------------------------------------------------------

    async def _language_of(self, ex: _Exchange, address: Address) -> Translator:
        stored = await ex.uow.conversations.load(address)
        return self.translator(stored.language if stored else None)

    async def _notify_representative(
        self, ex: _Exchange, request: AudienceRequest, action: Action | None = None,
        before: AudienceRequest | None = None,
    ) -> None:  # fmt: skip
        t = await self._language_of(ex, request.contact)
        official = self._directory.official(request.official_key)
        previous = self._directory.official(before.official_key) if before else None
        messages = representative_notice(request, action, before.status if before else None, official, previous, t)
        if not messages:
            return
        await ex.uow.outbox.enqueue(
            Notification(request.contact.channel, request.contact.external_id, "decision", messages, request.id),
            ex.now,
        )

    async def _notify_staff(
        self,
        ex: _Exchange,
        request: AudienceRequest,
        kind: str,
        *,
        answer: str | None = None,
        exclude: Address | None = None,
    ) -> None:
        # Each staff member hears only of the officials whose requests they may view (an ajudan: their own).
        for address, member in staff_recipients(self._directory, request.official_key):
            if address == exclude:
                continue
            t = await self._language_of(ex, address)
            card = await self.card(ex.uow, request, t, viewer=member)
            line = staff_intro(kind, request, t, answer)
            intro: list[Outbound] = [Text(line)] if line else []
            await ex.uow.outbox.enqueue(
                Notification(address.channel, address.external_id, kind, (*intro, card), request.id), ex.now
            )

    def _time_passed(self, passed: usecases.AudienceTimePassed, t: Translator) -> str:
        request = passed.request
        when = t.datetime(request.scheduled_at) if request.scheduled_at else "—"
        if passed.verb == "attend":
            return t("Thank you, Bapak/Ibu. The time of the audience {reference} ({when}) has already passed.",
                     reference=request.reference, when=when)  # fmt: skip
        return t("The audience {reference} was scheduled for {when}, which has already passed, so it can no longer "
                 "be cancelled or moved. Staff record whether it took place; please contact them if something "
                 "went wrong.", reference=request.reference, when=when)  # fmt: skip

    async def _already_decided(self, ex: _Exchange, request: AudienceRequest) -> str:
        """Staff are told who (or what) set the request's current status, and when: the last change in its audit
        trail — a staff decision, the representative's own step (a cancellation, a move asked for), or the bot."""
        t = ex.t
        status = status_label(request.status, t)
        event = None
        if ex.persona == STAFF and request.id is not None:
            changes = [e for e in await ex.uow.audit.for_request(request.id)
                       if e.to_status is request.status and e.action is not Action.FEEDBACK]  # fmt: skip
            event = changes[-1] if changes else None
        if event is None:
            return t("{reference} can no longer be changed this way; its status is “{status}”.",
                     reference=request.reference, status=status)  # fmt: skip
        params = {"reference": request.reference, "status": status, "who": actor_name(event.actor, t),
                  "when": t.datetime(event.at)}  # fmt: skip
        if event.actor.kind is ActorKind.REPRESENTATIVE:
            return t("{reference} was already handled: “{status}”, at the request of the representative ({who}) "
                     "on {when}.", **params)  # fmt: skip
        return t("{reference} was already handled: “{status}”, decided by {who} on {when}.", **params)


def _request_id(argument: str) -> int:
    try:
        return int(argument)
    except ValueError:
        raise usecases.RequestNotFound(argument) from None


__all__ = ["REPRESENTATIVE", "STAFF", "ConversationService", "DomainError", "ServiceConfig"]
