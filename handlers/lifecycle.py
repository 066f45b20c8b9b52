"""The conversation service's actions around time: calendars, proposals, cancelling, moving, days off.

A mixin of :class:`handlers.service.ConversationService` (kept apart so the service stays readable): the
representative accepts or declines proposed times, cancels, asks to move an audience; staff mark an audience
held / not attended, and keep the officials' days off (/libur). Calendars are fetched here, inside the unit of
work, before the engine runs, so flows stay pure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from handlers.conversation.engine import FlowCompleted, GlobalAction, Turn
from handlers.conversation.state import ConversationState
from handlers.domain.model import (
    TRANSITIONS,
    Action,
    Address,
    AudienceRequest,
    DayOffEntry,
    NotAuthorized,
    Permission,
    RequestStatus,
    SlotUnavailable,
    StaffMember,
)
from handlers.flows.decisions import (
    ALL_OFFICIALS,
    APPROVE,
    CANCEL_REQUEST,
    DAY_OFF,
    DECLINE_PROPOSAL,
    POSTPONE,
    PROPOSE,
    RESCHEDULE,
)
from handlers.i18n import Translator
from handlers.messages import Choice, Option, Outbound, Refusal, Text
from handlers.ports import Directory, SlotSuggester, UnitOfWork
from handlers.presenters import (
    approval_text,
    clash_lines,
    offer_choice,
    status_label,
)
from handlers.scheduling import OfficialCalendar, parse_time_token, unavailable_text
from handlers.usecases import days_off
from handlers.usecases import requests as usecases

if TYPE_CHECKING:
    from handlers.service import _Exchange

Result = tuple[list[Outbound], ConversationState]
CANCELLABLE = frozenset(status for status in RequestStatus if (status, Action.CANCEL) in TRANSITIONS)
PENDING = (RequestStatus.SUBMITTED, RequestStatus.INFO_REQUESTED, RequestStatus.RESCHEDULE_REQUESTED)
DAYS_OFF_LISTED = 365  # how far ahead /libur lists days off
REPRESENTATIVE_ACTIONS = ("cancel", "reschedule", "accept", "decline", "offer")
STAFF_ACTIONS = ("held", "noshow", "daysoff", "dayoff", "dayopen", "dayoff_del")


class LifecycleActions:
    _directory: Directory
    _suggester: SlotSuggester

    # Provided by the service.
    def _reprompt(self, ex: _Exchange, state: ConversationState) -> Turn:
        raise NotImplementedError

    async def card(
        self, uow: UnitOfWork, request: AudienceRequest, t: Translator, viewer: StaffMember | None = None
    ) -> Outbound:
        raise NotImplementedError

    async def _notify_staff(
        self, ex: _Exchange, request: AudienceRequest, kind: str, *, answer: str | None = None,
        exclude: Address | None = None,
    ) -> None:  # fmt: skip
        raise NotImplementedError

    async def _language_of(self, ex: _Exchange, address: Address) -> Translator:
        raise NotImplementedError

    # ---- calendars ---------------------------------------------------------------------------------------

    async def _calendar(self, ex: _Exchange, official_key: str, *, fresh: bool = False) -> OfficialCalendar:
        if fresh or official_key not in ex.calendars:
            ex.calendars[official_key] = await self._suggester.calendar(ex.uow, official_key, ex.now)
        return ex.calendars[official_key]

    async def _prefetch(self, ex: _Exchange, state: ConversationState | None) -> None:
        """The calendars the conversation's flows may ask about, fetched before the (pure) engine runs."""
        for frame in state.frames if state else ():
            for key in (frame.answers.get("official"), frame.data.get("official")):
                if isinstance(key, str) and self._directory.official(key) is not None:
                    await self._calendar(ex, key)

    async def _clashes(self, uow: UnitOfWork, request: AudienceRequest, t: Translator, now: Any) -> list[str]:
        """Possible clashes on a staff card: times no longer free, other pending requests for the same time."""
        if not request.status.awaits_staff:
            return []
        calendar = await self._suggester.calendar(uow, request.official_key, now)
        others = await uow.requests.list_for_official(request.official_key, PENDING)
        return clash_lines(request, calendar, others, t)

    def _lifecycle_handlers(self) -> Mapping[str, Callable[[_Exchange, ConversationState, str], Awaitable[Result]]]:
        return {
            "cancel": self._start_cancel,
            "reschedule": self._start_reschedule,
            "accept": self._accept,
            "decline": self._start_decline,
            "offer": self._show_offer,
            "held": self._mark_held,
            "noshow": self._mark_no_show,
            "daysoff": self._days_off,
            "dayoff": self._start_day_off,
            "dayopen": self._start_day_open,
            "dayoff_del": self._remove_day_off,
        }

    # ---- representative: proposals, cancelling, moving ----------------------------------------------------

    def _status_options(
        self, requests: list[AudienceRequest], t: Translator, now: datetime, *, ratable: Collection[int] = (),
        reminded: Collection[int] = (),
    ) -> tuple[Option, ...]:  # fmt: skip
        """What a representative can do from /status, request by request (the newest first).

        What reminders and the feedback request offer is here too (a WhatsApp notice outside the 24-hour window
        is a template whose only button opens this list): "I will attend" once a reminder went out, and a rating
        for an audience that took place and is not rated yet (`ratable`, `reminded`: request ids).
        """
        options: list[Option] = []
        for r in requests[:5]:
            booked = r.status in (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED)
            ahead = not (booked and r.scheduled_at is not None and r.scheduled_at <= now)  # past: staff record it
            if r.status is RequestStatus.INFO_REQUESTED:
                options.append(Option(f"g:answer:{r.id}",
                                      t("Answer the question on {reference}", reference=r.reference)))  # fmt: skip
            if r.status in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED):
                options.append(Option(f"g:offer:{r.id}", t("Choose an offered time for {reference}",
                                                             reference=r.reference)))  # fmt: skip
            if r.status is RequestStatus.APPROVED and ahead and r.id in reminded:
                options.append(Option(f"g:r:attend:{r.id}", t("I will attend {reference}", reference=r.reference)))
            if r.status is RequestStatus.APPROVED and ahead:
                options.append(Option(f"g:reschedule:{r.id}", t("Move {reference} to another time",
                                                                 reference=r.reference)))  # fmt: skip
            if r.status in CANCELLABLE and ahead:
                options.append(Option(f"g:cancel:{r.id}", t("Cancel {reference}", reference=r.reference)))
            if r.id in ratable:
                options.append(Option(f"g:r:rateask:{r.id}", t("Rate {reference}", reference=r.reference)))
        return tuple(options)

    async def _owned(self, ex: _Exchange, argument: str) -> AudienceRequest:
        return await usecases.owned_request(ex.uow, ex.conversation, _request_id(argument))

    async def _start_cancel(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        request = await self._owned(ex, argument)
        if not request.may(Action.CANCEL):
            raise usecases.AlreadyDecided(request)
        usecases.ensure_time_ahead(request, ex.now, "cancel")
        data = {"request_id": request.id, "reference": request.reference}
        turn = ex.engine.start_flow(state, CANCEL_REQUEST.name, ex.context, data)
        return list(turn.messages), turn.state

    async def _start_reschedule(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        request = await self._owned(ex, argument)
        if not request.may(Action.REQUEST_RESCHEDULE):
            raise usecases.AlreadyDecided(request)
        usecases.ensure_time_ahead(request, ex.now, "reschedule")
        await self._calendar(ex, request.official_key)
        data = {"request_id": request.id, "reference": request.reference, "official": request.official_key,
                "scheduled": request.scheduled_at.isoformat() if request.scheduled_at else None}  # fmt: skip
        turn = ex.engine.start_flow(state, RESCHEDULE.name, ex.context, data)
        return list(turn.messages), turn.state

    async def _start_decline(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        request_part, _, offer = argument.partition(":")
        request = await self._owned(ex, request_part)
        try:
            usecases.check_offer(request, offer or None)
        except usecases.OfferChanged as changed:
            return self._offer_changed(ex, state, changed.request)
        data = {"request_id": request.id, "reference": request.reference, "offer": offer}
        turn = ex.engine.start_flow(state, DECLINE_PROPOSAL.name, ex.context, data)
        return list(turn.messages), turn.state

    async def _show_offer(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        request = await self._owned(ex, argument)
        if request.status not in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED):
            raise usecases.AlreadyDecided(request)
        choice = offer_choice(request, self._directory.official(request.official_key), ex.t)
        return [choice], replace(state, offered=choice.options)

    def _offer_changed(self, ex: _Exchange, state: ConversationState, request: AudienceRequest) -> Result:
        """A button of an earlier offer: say so, change nothing, and show the times offered now."""
        note = Refusal(ex.t("The times offered for {reference} have changed since that message, so nothing was "
                            "changed. The current offer is below.", reference=request.reference))  # fmt: skip
        choice = offer_choice(request, self._directory.official(request.official_key), ex.t)
        return [note, choice], replace(state, offered=choice.options)

    async def _accept(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        request_part, _, time_part = argument.partition(":")
        request = await self._owned(ex, request_part)
        official = self._directory.official(request.official_key)
        try:
            accepted = await usecases.accept_proposal(
                ex.uow, contact=ex.conversation, request_id=_request_id(request_part), at=parse_time_token(time_part),
                place=official.room if official else "", calendars=self._suggester, now=ex.now)  # fmt: skip
        except usecases.OfferChanged as changed:
            return self._offer_changed(ex, state, changed.request)
        await self._notify_staff(ex, accepted, "proposal_accepted")
        turn = self._reprompt(ex, replace(state, offered=()))
        return [Text(approval_text(accepted, official, ex.t)), *turn.messages], turn.state

    # ---- staff: outcomes and days off --------------------------------------------------------------------

    async def _mark_held(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        return await self._mark(ex, state, argument, Action.COMPLETE)

    async def _mark_no_show(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        return await self._mark(ex, state, argument, Action.MARK_NO_SHOW)

    async def _mark(self, ex: _Exchange, state: ConversationState, argument: str, action: Action) -> Result:
        assert ex.staff is not None
        request = await usecases.mark_outcome(ex.uow, staff=ex.staff, request_id=_request_id(argument),
                                              action=action, now=ex.now)  # fmt: skip
        await self._notify_staff(ex, request, "decided", exclude=ex.conversation)
        saved = Text(ex.t("Decision saved: {reference} is now “{status}”.", reference=request.reference,
                          status=status_label(request.status, ex.t)))  # fmt: skip
        turn = self._reprompt(ex, replace(state, offered=()))
        if ex.compact:  # a staff group: the channel edits the card in place
            return [saved, *turn.messages], turn.state
        return [saved, await self.card(ex.uow, request, ex.t, viewer=ex.staff), *turn.messages], turn.state

    def _may_block(self, staff: StaffMember, official_key: str | None) -> bool:
        if official_key is None:
            return all(staff.may(Permission.DECIDE, o.key) for o in self._directory.officials())
        return staff.may(Permission.DECIDE, official_key)

    async def _days_off(self, ex: _Exchange, state: ConversationState, _argument: str) -> Result:
        t = ex.t
        today = ex.now.astimezone(t.tz).date()
        entries = await ex.uow.days_off.between(today, today + timedelta(days=DAYS_OFF_LISTED))
        lines = [t("Days off added by staff:")] if entries else [t("No days off have been added by staff.")]
        options: list[Option] = []
        for entry in entries:
            who = self._official_label(entry.official_key, t)
            kind = t("working day") + ", " if entry.opens else ""  # a package holiday opened again
            lines.append(f"  • {t.date(entry.day)} — {who}: {kind}{entry.reason} ({entry.added_by})")
            if ex.staff is not None and self._may_block(ex.staff, entry.official_key) and len(options) < 8:
                options.append(Option(f"g:dayoff_del:{entry.id}", t("Remove {date} ({official})",
                                      date=t.day_month(entry.day), official=who)))  # fmt: skip
        opened = {e.day for e in entries if e.opens and e.official_key is None}  # no longer closed for anyone
        holidays = [(day, name) for day, name in await self._next_holidays(ex, today) if day not in opened]
        if holidays:
            lines += ["", t("National holidays and cuti bersama ahead (always closed):")]
            lines += [f"  • {t.date(day)} — {name}" for day, name in holidays]
        options.insert(0, Option("g:dayoff", t("Add a day off")))
        options.insert(1, Option("g:dayopen", t("Open a holiday as a working day")))
        body = "\n".join(lines)
        return [Choice(body, tuple(options))], replace(state, offered=tuple(options))

    async def _next_holidays(self, ex: _Exchange, today: date) -> list[tuple[date, str]]:
        official = next(iter(self._directory.officials()), None)
        if official is None:
            return []
        calendar = await self._calendar(ex, official.key)
        found = []
        for offset in range(1, 91):
            day = today + timedelta(days=offset)
            name = calendar.holidays.name(day)
            if name:
                found.append((day, name))
        return found[:5]

    def _official_label(self, key: str | None, t: Translator) -> str:
        if key is None:
            return t("All officials")
        official = self._directory.official(key)
        return official.title if official else key

    async def _start_day_open(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        return await self._start_day_off(ex, state, argument, opens=True)

    async def _start_day_off(self, ex: _Exchange, state: ConversationState, _argument: str, *,
                             opens: bool = False) -> Result:  # fmt: skip
        staff = ex.staff
        assert staff is not None
        allowed = [o.key for o in self._directory.officials() if staff.may(Permission.DECIDE, o.key)]
        if not allowed:
            raise NotAuthorized(staff.key)
        data = {"officials": allowed, "all_allowed": self._may_block(staff, None), "opens": opens}
        turn = ex.engine.start_flow(state, DAY_OFF.name, ex.context, data)
        return list(turn.messages), turn.state

    async def _remove_day_off(self, ex: _Exchange, state: ConversationState, argument: str) -> Result:
        staff = ex.staff
        assert staff is not None
        entry_id = _request_id(argument)
        known = {e.id: e for e in await ex.uow.days_off.between(date.min, date.max)}
        entry = known.get(entry_id)
        if entry is None:
            turn = self._reprompt(ex, replace(state, offered=()))
            return [Refusal(ex.t("That day off was already removed.")), *turn.messages], turn.state
        if not self._may_block(staff, entry.official_key):
            raise NotAuthorized(staff.key)
        await days_off.remove_day_off(ex.uow, entry_id, ex.now)
        done = Text(ex.t("Removed: {date} is open again for {official}.", date=ex.t.date(entry.day),
                         official=self._official_label(entry.official_key, ex.t)))  # fmt: skip
        more, state = await self._days_off(ex, state, "")
        return [done, *more], state

    # ---- completed flows of this module ------------------------------------------------------------------

    LIFECYCLE_FLOWS = frozenset({CANCEL_REQUEST.name, RESCHEDULE.name, DECLINE_PROPOSAL.name, DAY_OFF.name})

    async def _lifecycle_completed(self, ex: _Exchange, state: ConversationState, done: FlowCompleted) -> Result:
        answers, t = done.answers, ex.t
        if done.flow == DAY_OFF.name:
            if done.data.get("opens"):
                return await self._holiday_opened(ex, state, answers)
            return await self._day_off_added(ex, state, answers)
        request_id = int(done.data["request_id"])
        if done.flow == CANCEL_REQUEST.name:
            request = await usecases.cancel(ex.uow, contact=ex.conversation, request_id=request_id,
                                            reason=answers["reason"], now=ex.now)  # fmt: skip
            await self._notify_staff(ex, request, "cancelled")
            said = t("Your request {reference} has been cancelled. Staff have been told.", reference=request.reference)
        elif done.flow == RESCHEDULE.name:
            before = await usecases.owned_request(ex.uow, ex.conversation, request_id)
            request = await usecases.request_reschedule(ex.uow, contact=ex.conversation, request_id=request_id,
                                                        times=answers["times"], message=answers.get("message"),
                                                        now=ex.now)  # fmt: skip
            postponed = before.status is RequestStatus.POSTPONED
            await self._notify_staff(ex, request, "resubmitted" if postponed else "reschedule_requested")
            said = t("Your request for a new time for {reference} has been passed on to staff. You will be told "
                     "of their decision here.", reference=request.reference)  # fmt: skip
            if not postponed and request.scheduled_at:
                said += "\n" + t("Until then your audience stays at {when}.", when=t.datetime(request.scheduled_at))
        else:
            try:
                request = await usecases.decline_proposal(ex.uow, contact=ex.conversation, request_id=request_id,
                                                          offer=done.data.get("offer"), message=answers.get("message"),
                                                          now=ex.now)  # fmt: skip
            except usecases.OfferChanged as changed:  # staff offered other times while the message was typed
                return self._offer_changed(ex, state, changed.request)
            await self._notify_staff(ex, request, "proposal_declined")
            said = t("Thank you. Staff have been told that the proposed times for {reference} do not suit you.",
                     reference=request.reference)  # fmt: skip
        turn = self._reprompt(ex, state)
        return [Text(said), *turn.messages], turn.state

    async def _day_off_added(self, ex: _Exchange, state: ConversationState, answers: Mapping[str, Any]) -> Result:
        staff, t = ex.staff, ex.t
        assert staff is not None
        official_key = None if answers["official"] == ALL_OFFICIALS else str(answers["official"])
        if not self._may_block(staff, official_key):
            raise NotAuthorized(staff.key)
        entry = DayOffEntry(official_key, date.fromisoformat(answers["day"]), answers["reason"], staff.name)
        change = await days_off.save_day_off(ex.uow, self._suggester, entry, self._official_keys(), ex.now)
        said = [Text(day_off_saved_text(change, self._official_label(official_key, t), t))]
        if change.affected:
            listed = ", ".join(r.reference for r in change.affected)
            said.append(Text(t("Approved audiences on that day: {references}. Open each one to postpone it (the "
                               "representative is then offered new times).", references=listed)))  # fmt: skip
        turn = self._reprompt(ex, state)
        return [*said, *turn.messages], turn.state

    async def _holiday_opened(self, ex: _Exchange, state: ConversationState, answers: Mapping[str, Any]) -> Result:
        """A national holiday or cuti bersama that is a working day after all (a changed decree, a wrong estimate)."""
        staff, t = ex.staff, ex.t
        assert staff is not None
        official_key = None if answers["official"] == ALL_OFFICIALS else str(answers["official"])
        if not self._may_block(staff, official_key):
            raise NotAuthorized(staff.key)
        day = date.fromisoformat(answers["day"])
        who = self._official_label(official_key, t)
        entry = DayOffEntry(official_key, day, answers["reason"], staff.name, opens=True)
        try:
            change = await days_off.save_day_off(ex.uow, self._suggester, entry, self._official_keys(), ex.now)
        except days_off.NothingToOpen as nothing:
            if nothing.holiday is None:
                said = Text(t("{date} is not a national holiday or cuti bersama, so there is nothing to open; it is "
                              "already a working day unless staff blocked it.", date=t.date(day)))  # fmt: skip
            else:
                said = Text(t("{date} ({holiday}) has no office hours anyway, so opening it would offer no times; "
                              "nothing was changed.", date=t.date(day), holiday=nothing.holiday))  # fmt: skip
        except days_off.BlockedByStaff as blocked:
            said = Text(t("{date} is blocked by staff for {official} (“{reason}”). To make it a working day, "
                          "remove that day off with /libur.", date=t.date(day),
                          official=self._official_label(blocked.entry.official_key, t),
                          reason=blocked.entry.reason))  # fmt: skip
        else:
            said = Text(t("Saved: {date} ({holiday}) is a working day for {official} ({reason}); free times are "
                          "offered on it.", date=t.date(day), holiday=change.holiday, official=who,
                          reason=change.entry.reason))  # fmt: skip
        turn = self._reprompt(ex, state)
        return [said, *turn.messages], turn.state

    def _official_keys(self) -> list[str]:
        return [o.key for o in self._directory.officials()]

    # ---- a time that can no longer be booked -------------------------------------------------------------

    async def _slot_refused(
        self, ex: _Exchange, state: ConversationState, effect: FlowCompleted | GlobalAction, refused: SlotUnavailable
    ) -> Result:
        """Say why, then ask again with fresh free times: the same decision flow, or the offered times."""
        if isinstance(effect, FlowCompleted):
            request = await usecases.load(ex.uow, int(effect.data["request_id"]))
        else:
            request = await self._owned(ex, effect.key.split(":")[1])
        calendar = (await self._calendar(ex, request.official_key, fresh=True)).for_staff()
        note = Refusal(unavailable_text(refused.reason, refused.detail, refused.at, calendar, ex.t))
        if isinstance(effect, FlowCompleted) and effect.flow in (APPROVE.name, PROPOSE.name, POSTPONE.name):
            turn = ex.engine.start_flow(state, effect.flow, ex.context, effect.data)
            return [note, *turn.messages], turn.state
        if request.status in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED):
            offer = offer_choice(request, self._directory.official(request.official_key), ex.t)
            options = tuple(o for o in offer.options if _still_free(o, calendar))
            return [note, Choice(offer.body, options)], replace(state, offered=options)
        turn = self._reprompt(ex, state)
        return [note, *turn.messages], turn.state


def day_off_saved_text(change: days_off.DayOffChange, official: str, t: Translator) -> str:
    """What staff read after saving a day off: added or updated, and whether it changes anything."""
    entry, previous = change.entry, change.previous
    if previous is None:
        said = t("Saved: {date} is blocked for {official} ({reason}).", date=t.date(entry.day), official=official,
                 reason=entry.reason)  # fmt: skip
    elif previous.opens:
        said = t("Updated: {date} had been opened as a working day for {official}; it is now blocked ({reason}).",
                 date=t.date(entry.day), official=official, reason=entry.reason)  # fmt: skip
    else:
        said = t("Updated: {date} was already blocked for {official} (“{previous}”); the reason is now: {reason}.",
                 date=t.date(entry.day), official=official, previous=previous.reason, reason=entry.reason)  # fmt: skip
    if change.no_hours:
        said += "\n" + t("Note: {date} has no office hours anyway, so no time offered changes.",
                         date=t.date(entry.day))  # fmt: skip
    return said


def _still_free(option: Option, calendar: OfficialCalendar) -> bool:
    """Accept buttons name their time; only the ones still free are shown again."""
    if not option.key.startswith("g:accept:"):
        return True
    moment = parse_time_token(option.key.rsplit(":", 1)[1])
    return moment is not None and calendar.is_free(moment)


def _request_id(argument: str) -> int:
    try:
        return int(argument)
    except ValueError:
        raise usecases.RequestNotFound(argument) from None
