"""Reminders and scheduled messages, the unit-of-work side: outbox rows planned, moved and cancelled in the same
transaction as the change that causes them, and the periodic jobs (digests, nudges, expiry) a worker runs.

Hook: `after_transition()` is called by `handlers.usecases.requests.transition` after every status change. It
uses the planner the running service installed with `use()` (a context variable, so tests with several cities in
one process stay apart); without one it does nothing, which keeps plain use-case tests free of scheduling.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import date, datetime, timedelta

from handlers.domain.model import (
    Action,
    Actor,
    ActorKind,
    Address,
    AudienceRequest,
    AuditEvent,
    DomainError,
    NotAuthorized,
    Permission,
    RequestStatus,
    StaffMember,
)
from handlers.i18n import N_, Translator
from handlers.messages import Choice, Notification, Option, Outbound, Text
from handlers.ports import Directory, ScheduledMessage, UnitOfWork
from handlers.presenters import outcome_options, place_with_address
from handlers.recipients import staff_recipients
from handlers.reminders import (
    AWAITING_STAFF,
    BOOKED,
    DECISION,
    DIGEST_TODAY,
    DIGEST_TOMORROW,
    EXPIRABLE,
    EXPIRED,
    FEEDBACK,
    KEPT_WHEN_HELD,
    MARK_OUTCOME,
    NUDGE,
    PLANNED_KINDS,
    REMINDER_2H,
    REMINDER_DAY_BEFORE,
    DigestSlot,
    ReminderPolicy,
    audiences_on,
    day_before_moved,
    digest_slots,
    moves_lapsed,
    nudge_due,
    overdue_undecided,
    plan,
    to_expire,
    waiting_since,
)

log = logging.getLogger(__name__)

KIND_LABELS = {
    REMINDER_DAY_BEFORE: N_("reminder the working day before"),
    REMINDER_2H: N_("reminder shortly before"),
    FEEDBACK: N_("request for feedback"),
}
STATE_LABELS = {
    "pending": N_("scheduled for {when}"),
    "sending": N_("being sent"),
    "sent": N_("sent on {when}"),
    "failed": N_("failed ({error})"),
    "skipped": N_("skipped ({error})"),
}
MANY = 10_000
DAYS_OFF_AHEAD = 31  # how far ahead the city's days off are read to find the next working day
# A card notice to staff: a reminder to the representative could not be delivered (the card shows which).
REMINDER_FAILED = "reminder_failed"

# The staff card for one reader (None: the shared staff group, every button).
CardMaker = Callable[[UnitOfWork, AudienceRequest, Translator, StaffMember | None], Awaitable[Outbound]]
TranslatorFor = Callable[[str | None], Translator]


class AlreadyRated(DomainError):
    """A second rating of the same audience: answered politely, nothing recorded."""

    def __init__(self, request: AudienceRequest, reply: Outbound) -> None:
        super().__init__(f"{request.reference} was rated already")
        self.request = request
        self.reply = reply


class NotRatable(DomainError):
    """A rating for an audience that did not take place (not attended, cancelled) or has not yet."""

    def __init__(self, request: AudienceRequest) -> None:
        super().__init__(f"{request.reference} cannot be rated ({request.status.value})")
        self.request = request


def may_rate(request: AudienceRequest, now: datetime) -> bool:
    """A rating is taken for an audience that was held, or whose time has passed while staff have not yet recorded
    the outcome (the feedback request goes out two hours after the start either way)."""
    if request.status is RequestStatus.COMPLETED:
        return True
    passed = request.scheduled_at is not None and request.scheduled_at <= now
    return request.status is RequestStatus.APPROVED and passed


_current: ContextVar[ReminderPlanner | None] = ContextVar("reminder_planner", default=None)


def use(planner: ReminderPlanner | None) -> None:
    """Install the planner for the current task (the service does this at the start of each message)."""
    _current.set(planner)


async def after_transition(uow: UnitOfWork, before: AudienceRequest, after: AudienceRequest, now: datetime) -> None:
    """Plan, move or cancel the request's scheduled messages now that it changed (the one hook in transition)."""
    planner = _current.get()
    if planner is None:
        return
    if _planning_facts(before) == _planning_facts(after):
        return
    await planner.replan(uow, after, now)


async def after_days_off_changed(uow: UnitOfWork, now: datetime) -> int:
    """Staff added or removed a day off: move the pending day-before reminders whose working day changed; how
    many were moved."""
    planner = _current.get()
    if planner is None:
        return 0
    return await planner.move_day_before_reminders(uow, now)


def _planning_facts(request: AudienceRequest) -> tuple[object, ...]:
    """What the planned messages depend on. A move asked for (approved -> reschedule requested) or refused
    (-> approved at the same time) changes none of them: the audience still stands at its time."""
    state = "booked" if request.status in BOOKED else request.status
    return state, request.scheduled_at, request.place, request.official_key  # disposisi names another official


class ReminderPlanner:
    def __init__(self, *, policy: ReminderPolicy, directory: Directory, translator: TranslatorFor) -> None:
        self.policy = policy
        self._directory = directory
        self._translator = translator
        self._made_keys: set[str] = set()  # digests this process already created (skips recomputing them)
        self.card: CardMaker | None = None  # the staff card, installed by the service

    async def policy_for(self, uow: UnitOfWork, first: date, last: date) -> ReminderPolicy:
        """The policy with the city-wide days off staff added between these days (office dates, inclusive), and
        the national holidays staff opened for the whole city as working days.

        A day off (or an opening) for one official only does not close (or open) the office: reminders and
        nudges keep the office's working days.
        """
        entries = [e for e in await uow.days_off.between(first, last) if e.official_key is None]
        closed = {e.day: e.reason for e in entries if not e.opens}
        return self.policy.with_days_off(closed, opened={e.day for e in entries if e.opens})

    async def _t(self, uow: UnitOfWork, address: Address) -> Translator:
        stored = await uow.conversations.load(address)
        return self._translator(stored.language if stored else None).with_zone(self.policy.tz)

    def _official(self, request: AudienceRequest) -> str:
        official = self._directory.official(request.official_key)
        return official.display if official else request.official_key

    # ---- per request -------------------------------------------------------------------------------------

    async def replan(self, uow: UnitOfWork, request: AudienceRequest, now: datetime) -> None:
        """Cancel what was planned for the request and plan what its current state calls for."""
        assert request.id is not None
        kept = KEPT_WHEN_HELD if request.status is RequestStatus.COMPLETED else frozenset()
        reason = f"request {request.status.value}"
        cancelled = await uow.outbox.cancel_pending(request.id, PLANNED_KINDS - kept, reason)
        policy = self.policy
        if request.scheduled_at is not None:
            policy = await self.policy_for(uow, self.policy.local(now).date(),
                                           self.policy.local(request.scheduled_at).date())  # fmt: skip
        planned = plan(request, policy, now)
        if kept:  # a held audience: its feedback request stands (or went out already); plan one only if none did
            live = {m.kind for m in await uow.outbox.for_request(request.id) if m.state != "cancelled"}
            planned = [p for p in planned if p.kind not in live]
        if cancelled or planned:
            log.info("%s: %s scheduled message(s) cancelled, %s planned", request.reference, cancelled, len(planned))
        audience_at = request.scheduled_at.isoformat() if request.scheduled_at else None
        for item in planned:
            recipients = self._staff_for(request) if item.to_staff else [(request.contact, None)]
            for address, viewer in recipients:
                t = await self._t(uow, address)
                messages = self._render(item.kind, request, t, viewer)
                notification = Notification(address.channel, address.external_id, item.kind, messages, request.id,
                                            {"audience_at": audience_at})  # fmt: skip
                await uow.outbox.enqueue(notification, item.due_at)

    async def move_day_before_reminders(self, uow: UnitOfWork, now: datetime) -> int:
        """Pending day-before reminders whose working day is no longer the one before the audience (a city day
        off added or removed since they were planned) are moved; how many."""
        moved = 0
        today = self.policy.local(now).date()
        for request in await uow.requests.list_by_status(list(BOOKED), limit=MANY):
            when = request.scheduled_at
            if request.id is None or when is None or when <= now:
                continue
            pending = [m for m in await uow.outbox.for_request(request.id)
                       if m.kind == REMINDER_DAY_BEFORE and m.state == "pending"]  # fmt: skip
            if not pending:
                continue  # sent already (or never planned): nothing to move
            policy = await self.policy_for(uow, today, self.policy.local(when).date())
            due = day_before_moved(when, policy, now)
            if due is not None and all(m.due_at == due for m in pending):
                continue
            await uow.outbox.cancel_pending(request.id, {REMINDER_DAY_BEFORE}, "working days changed")
            if due is not None:
                messages = self._render(REMINDER_DAY_BEFORE, request, await self._t(uow, request.contact))
                await uow.outbox.enqueue(Notification(request.contact.channel, request.contact.external_id,
                                                      REMINDER_DAY_BEFORE, messages, request.id,
                                                      {"audience_at": when.isoformat()}), due)  # fmt: skip
            moved += 1
        if moved:
            log.info("%s day-before reminder(s) moved after a change of days off", moved)
        return moved

    def _staff_for(self, request: AudienceRequest) -> list[tuple[Address, StaffMember | None]]:
        """Staff addresses that may view the request's official (the shared group always), each with its member."""
        return staff_recipients(self._directory, request.official_key)

    def _render(
        self, kind: str, request: AudienceRequest, t: Translator, viewer: StaffMember | None = None
    ) -> tuple[Outbound, ...]:
        assert request.scheduled_at is not None and request.id is not None
        place = place_with_address(request.place, self._directory.officials())
        params = {"reference": request.reference, "official": self._official(request),
                  "when": t.datetime(request.scheduled_at), "place": place}  # fmt: skip
        if kind in (REMINDER_DAY_BEFORE, REMINDER_2H):
            if kind == REMINDER_DAY_BEFORE:
                body = t("Reminder, Bapak/Ibu: your audience {reference} with {official} is on {when}.\n"
                         "Place: {place}\nPlease arrive 15 minutes early and bring this reference code.",
                         **params)  # fmt: skip
            else:
                body = t("Bapak/Ibu, your audience {reference} with {official} begins soon: {when}.\n"
                         "Place: {place}\nPlease bring this reference code.", **params)  # fmt: skip
            options = (Option(f"g:r:attend:{request.id}", t("I will attend")),
                       Option(f"g:r:cancel:{request.id}", t("Cancel the audience")))  # fmt: skip
            return (Choice(body, options),)
        if kind == FEEDBACK:
            body = t("Thank you, Bapak/Ibu, for the audience {reference} with {official}. How did it go? "
                     "Please rate it from 1 (poor) to 5 (very good).", **params)  # fmt: skip
            return (Choice(body, tuple(Option(f"g:r:rate:{request.id}:{n}", str(n)) for n in range(1, 6))),)
        if kind == MARK_OUTCOME:
            body = t("The audience {reference} ({organization}) with {official} was scheduled for {when}. "
                     "Please record whether it was held or not attended.",
                     organization=request.organization.name, **params)  # fmt: skip
            outcomes = outcome_options(request, t, viewer)
            return (Choice(body, outcomes),) if outcomes else (Text(body),)
        raise ValueError(kind)

    # ---- periodic jobs -----------------------------------------------------------------------------------

    async def run_digests(self, uow: UnitOfWork, now: datetime) -> int:
        """Create the digests due now, once per day and recipient; a day with no audiences sends nothing.

        A key is remembered in this process only once the database holds its row (a later round finds it there):
        a round whose transaction fails before its commit leaves nothing remembered, so the next one makes it.
        """
        created = 0
        booked: list[AudienceRequest] | None = None
        slots = digest_slots(now, self.policy)
        if any(slot.kind == DIGEST_TOMORROW for slot in slots):  # the city's days off decide the working days too
            today = self.policy.local(now).date()
            slots = digest_slots(now, await self.policy_for(uow, today, today + timedelta(days=DAYS_OFF_AHEAD)))
        for slot in slots:
            for address in self._digest_recipients():
                key = f"{slot.kind}:{slot.day.isoformat()}:{address.channel}:{address.external_id}"
                if key in self._made_keys:
                    continue
                if booked is None:
                    booked = await uow.requests.list_by_status(list(BOOKED), limit=MANY)
                member = self._directory.staff_for(address)
                listed = [r for r in audiences_on(booked, slot.days, self.policy) if _sees(member, r)]
                t = await self._t(uow, address)
                messages = (Text(self._digest_text(slot, listed, t)),) if listed else ()
                notification = Notification(address.channel, address.external_id, slot.kind, messages,
                                            extra={"made_on": slot.made_on.isoformat()})  # fmt: skip
                skipped = None if listed else "no audiences that day"
                if await uow.outbox.enqueue(notification, slot.due_at, key=key, skipped=skipped):
                    created += 1 if listed else 0
                else:  # already stored (and committed) by an earlier round or another worker
                    self._made_keys.add(key)
        return created

    def _digest_recipients(self) -> list[Address]:
        """The staff group (or each staff console) and, in their private chats, each official's aides."""
        recipients = list(self._directory.staff_addresses())
        recipients += [a for a in self._directory.aide_addresses() if a not in recipients]
        return recipients

    def _digest_text(self, slot: DigestSlot, audiences: Sequence[AudienceRequest], t: Translator) -> str:
        date_text = t.date(slot.days[-1])
        several_days = len(slot.days) > 1
        if slot.kind == DIGEST_TODAY:
            head = t.plural("Today's agenda, {date}: {n} audience.", "Today's agenda, {date}: {n} audiences.",
                            len(audiences), date=date_text)  # fmt: skip
        elif several_days:
            head = t.plural("Agenda up to the next working day, {date}: {n} audience.",
                            "Agenda up to the next working day, {date}: {n} audiences.", len(audiences),
                            date=date_text)  # fmt: skip
        else:
            head = t.plural("Tomorrow's agenda, {date}: {n} audience.", "Tomorrow's agenda, {date}: {n} audiences.",
                            len(audiences), date=date_text)  # fmt: skip
        lines = [head]
        for request in audiences:
            assert request.scheduled_at is not None
            local = request.scheduled_at.astimezone(self.policy.tz)
            shown = local.strftime("%H.%M" if t.language == "id" else "%H:%M")
            if several_days:  # which of the days
                shown = f"{t.date(local.date())} {shown}"
            attendees = t.plural("{n} person", "{n} people", request.attendees)
            lines.append(t("{time} — {organization}: {subject}\n   {official}; {attendees}; {place} ({reference})",
                           time=shown, organization=request.organization.name, subject=request.subject,
                           official=self._official(request), attendees=attendees, place=request.place or "-",
                           reference=request.reference))  # fmt: skip
        return "\n".join(lines)

    async def run_nudges(self, uow: UnitOfWork, now: datetime) -> int:
        """Once a working day: staff are told which requests wait too long for a decision, oldest first.

        Working days leave out national holidays, cuti bersama and the city-wide days off staff added.
        """
        today = self.policy.local(now).date()
        keys = [f"{NUDGE}:{today.isoformat()}:{a.channel}:{a.external_id}" for a in self._directory.staff_addresses()]
        if nudge_due(now, self.policy) is None or all(key in self._made_keys for key in keys):
            return 0  # (staff days off only ever remove working days)
        pending = await uow.requests.list_by_status(list(AWAITING_STAFF), limit=MANY)
        first = min((self.policy.local(waiting_since(r)).date() for r in pending), default=today)
        policy = await self.policy_for(uow, min(first, today), today)
        at = nudge_due(now, policy)
        if at is None:
            return 0
        created = 0
        day = today.isoformat()
        waiting: list[AudienceRequest] | None = None
        for address in self._directory.staff_addresses():
            key = f"{NUDGE}:{day}:{address.channel}:{address.external_id}"
            if key in self._made_keys:
                continue
            if waiting is None:
                waiting = overdue_undecided(pending, now, policy)
            member = self._directory.staff_for(address)
            mine = [r for r in waiting if _sees(member, r)]
            t = await self._t(uow, address)
            lines = [t.plural("{n} request has waited for a decision for {days} working days or more, oldest first:",
                              "{n} requests have waited for a decision for {days} working days or more, oldest first:",
                              len(mine), days=self.policy.nudge_after_working_days)]  # fmt: skip
            lines += [self._nudge_line(r, t) for r in mine]
            messages = (Text("\n".join(lines)),) if mine else ()
            notification = Notification(address.channel, address.external_id, NUDGE, messages)
            if await uow.outbox.enqueue(notification, at, key=key, skipped=None if mine else "nothing overdue"):
                created += 1 if mine else 0
            else:  # already stored (and committed): remembered only now, never before the commit
                self._made_keys.add(key)
        return created

    def _nudge_line(self, request: AudienceRequest, t: Translator) -> str:
        params = {"reference": request.reference, "organization": request.organization.name,
                  "when": t.datetime(waiting_since(request))}  # fmt: skip
        if request.status is RequestStatus.RESCHEDULE_REQUESTED:
            return t("{reference} — {organization} — a new time asked for {when}", **params)
        return t("{reference} — {organization} — submitted {when}", **params)

    async def run_expiry(self, uow: UnitOfWork, now: datetime) -> int:
        """Requests whose every time on the table has passed expire (undecided ones, and postponed ones whose
        offered times all passed unchosen); the representative is told, with a button to request again, and the
        staff cards lose their buttons. A move asked for whose new times all passed undecided lapses: the audience
        stays at its original time (see `lapse_moves`). Returns how many requests changed."""
        from handlers.usecases import requests as usecases

        use(self)
        expired = 0
        for request in to_expire(await uow.requests.list_by_status(list(EXPIRABLE), limit=MANY), now):
            updated = await usecases.transition(uow, request, Action.EXPIRE, Actor.system(), now)
            t = await self._t(uow, request.contact)
            params = {"reference": request.reference, "official": self._official(request)}
            if request.proposed_times:
                body = t("We are sorry, Bapak/Ibu: the times offered for your audience request {reference} with "
                         "{official} have all passed, so the request has expired. You are welcome to request an "
                         "audience again with new times.", **params)  # fmt: skip
            else:
                body = t("We are sorry, Bapak/Ibu: your audience request {reference} with {official} could not be "
                         "decided before the times you proposed had passed, so it has expired. You are welcome to "
                         "request an audience again with new times.", **params)  # fmt: skip
            message = Choice(body, (Option("g:request", t("Request an audience")),))
            await uow.outbox.enqueue(Notification(request.contact.channel, request.contact.external_id, EXPIRED,
                                                  (message,), updated.id), now)  # fmt: skip
            note = N_("{reference} has expired: every time it waited on has passed without a decision.")
            await self._tell_staff(uow, updated, now, "decided", note, self.card)
            expired += 1
        return expired + await self.lapse_moves(uow, now)

    async def lapse_moves(self, uow: UnitOfWork, now: datetime) -> int:
        """A move the representative asked for and staff never decided, once every new time asked for has passed:
        the request goes back to approved at its original time (recorded as the system keeping it), so it leaves
        the nudge, and staff record its outcome (Terlaksana / Tidak hadir) as for any approved audience; the
        representative and staff are told."""
        from handlers.usecases import requests as usecases

        lapsed = moves_lapsed(await uow.requests.list_by_status([RequestStatus.RESCHEDULE_REQUESTED], limit=MANY),
                              now)  # fmt: skip
        for request in lapsed:
            assert request.id is not None and request.scheduled_at is not None
            original = await uow.bookings.for_request(request.id)
            kept = (original.starts_at,) if original else (request.scheduled_at,)
            updated = await usecases.transition(uow, request, Action.DECLINE_RESCHEDULE, Actor.system(), now,
                                                note="the new times asked for passed undecided",
                                                preferred_times=kept)  # fmt: skip
            t = await self._t(uow, request.contact)
            params = {"reference": request.reference, "when": t.datetime(request.scheduled_at)}
            if request.scheduled_at > now:
                body: Outbound = Text(t("We are sorry, Bapak/Ibu: your request to move the audience {reference} "
                                        "could not be decided before the times you proposed had passed. The audience "
                                        "stays at {when}.", **params))  # fmt: skip
            else:
                body = Choice(t("We are sorry, Bapak/Ibu: your request to move the audience {reference} could not "
                                "be decided before the times you proposed had passed. The audience was scheduled for "
                                "{when}; you are welcome to request an audience again.", **params),
                              (Option("g:request", t("Request an audience")),))  # fmt: skip
            await uow.outbox.enqueue(Notification(request.contact.channel, request.contact.external_id, DECISION,
                                                  (body,), updated.id), now)  # fmt: skip
            note = N_("The move asked for on {reference} lapsed: the new times passed without a decision, so the "
                      "original time stands.")  # fmt: skip
            await self._tell_staff(uow, updated, now, "decided", note, self.card)
        return len(lapsed)

    # ---- buttons on reminders ------------------------------------------------------------------------------

    async def press(
        self, uow: UnitOfWork, contact: Address, argument: str, t: Translator, now: datetime, card: CardMaker
    ) -> list[Outbound]:
        """Hadir / Batalkan on a reminder, the cancel confirmation, and the feedback rating (its buttons, or
        "Rate" from /status for the 1–5 buttons)."""
        from handlers.usecases import requests as usecases

        use(self)
        verb, _, rest = argument.partition(":")
        number, _, value = rest.partition(":")
        request = await usecases.owned_request(uow, contact, _int(number))
        if verb in ("rate", "rateask"):
            if not may_rate(request, now):
                raise NotRatable(request)
            if await self.rated(uow, request):
                reply = Text(t("Thank you, Bapak/Ibu: we have already received your rating of the audience "
                               "{reference}.", reference=request.reference))  # fmt: skip
                raise AlreadyRated(request, reply)
            if verb == "rateask":
                return list(self._render(FEEDBACK, request, t))
            if value not in {"1", "2", "3", "4", "5"}:
                raise NotAuthorized(argument)
            await self.record_feedback(uow, request, now, rating=int(value))
            return [Text(t("Thank you for your rating, Bapak/Ibu."))]
        if request.status not in BOOKED or request.scheduled_at is None:
            raise usecases.AlreadyDecided(request)
        when = t.datetime(request.scheduled_at)
        if verb == "attend":
            usecases.ensure_time_ahead(request, now, "attend")
            return [Text(t("Thank you, Bapak/Ibu. We look forward to welcoming you on {when}.", when=when))]
        if verb == "keep":
            return [Text(t("Your audience {reference} stays as scheduled: {when}.", reference=request.reference,
                           when=when))]  # fmt: skip
        if verb == "cancel":
            usecases.ensure_time_ahead(request, now, "cancel")
            question = t("Do you want to cancel your audience {reference} on {when}? This cannot be undone.",
                         reference=request.reference, when=when)  # fmt: skip
            return [Choice(question, (Option(f"g:r:cancelyes:{request.id}", t("Yes, cancel it")),
                                      Option(f"g:r:keep:{request.id}", t("No, keep it"))))]  # fmt: skip
        if verb == "cancelyes":
            usecases.ensure_time_ahead(request, now, "cancel")
            actor = Actor(ActorKind.REPRESENTATIVE, str(request.representative.id), request.representative.full_name)
            assert request.id is not None
            await uow.bookings.release(request.id)  # the official's time is free again, as with /status
            updated = await usecases.transition(uow, request, Action.CANCEL, actor, now, note="reminder")
            note = N_("The representative cancelled the audience {reference}.")
            await self._tell_staff(uow, updated, now, "decided", note, card)
            return [Text(t("Your audience {reference} has been cancelled. Staff have been told.",
                           reference=request.reference))]  # fmt: skip
        raise NotAuthorized(argument)

    async def rated(self, uow: UnitOfWork, request: AudienceRequest) -> bool:
        """Whether the representative already rated this audience (the rating is kept once; the database keeps a
        second one from two processes at once out with a unique index, and the loser's retry finds the first)."""
        assert request.id is not None
        events = await uow.audit.for_request(request.id)
        return any(e.action is Action.FEEDBACK and (e.note or "").startswith("rating ") for e in events)

    async def status_extras(
        self, uow: UnitOfWork, requests: Sequence[AudienceRequest], now: datetime
    ) -> tuple[set[int], set[int]]:
        """For /status: the requests that can be rated now (and are not yet), and the approved ones ahead whose
        reminder went out (so /status offers what the reminder offered)."""
        ratable: set[int] = set()
        reminded: set[int] = set()
        for request in requests:
            if request.id is None:
                continue
            if may_rate(request, now) and not await self.rated(uow, request):
                ratable.add(request.id)
            ahead = request.scheduled_at is not None and request.scheduled_at > now
            if request.status is RequestStatus.APPROVED and ahead:
                rows = await uow.outbox.for_request(request.id)
                if any(m.kind in (REMINDER_DAY_BEFORE, REMINDER_2H) and m.state == "sent" for m in rows):
                    reminded.add(request.id)
        return ratable, reminded

    async def record_feedback(
        self, uow: UnitOfWork, request: AudienceRequest, now: datetime, *, rating: int | None = None,
        comment: str | None = None,
    ) -> None:  # fmt: skip
        """Keep the representative's rating or comment on the request's record, and pass it to staff."""
        assert request.id is not None
        actor = Actor(ActorKind.REPRESENTATIVE, str(request.representative.id), request.representative.full_name)
        note = f"rating {rating}/5" if rating is not None else f"comment: {comment}"
        await uow.audit.add(AuditEvent(request.id, now, actor, Action.FEEDBACK, request.status, request.status, note))
        if rating is not None:
            told = N_("The representative rated the audience {reference}: {rating} of 5.")
            await self._tell_staff(uow, request, now, "feedback_received", told, None, rating=rating)
        else:
            told = N_("The representative's comment on the audience {reference}: “{comment}”")
            await self._tell_staff(uow, request, now, "feedback_received", told, None, comment=comment)

    async def _tell_staff(
        self, uow: UnitOfWork, request: AudienceRequest, now: datetime, kind: str, note: str,
        card: CardMaker | None, **params: object,
    ) -> None:  # fmt: skip
        for address, member in self._staff_for(request):
            t = await self._t(uow, address)
            messages: tuple[Outbound, ...] = (Text(t(note, reference=request.reference, **params)),)
            if card is not None:
                messages = (*messages, await card(uow, request, t, member))
            notification = Notification(address.channel, address.external_id, kind, messages, request.id)
            await uow.outbox.enqueue(notification, now)


def _sees(member: StaffMember | None, request: AudienceRequest) -> bool:
    """Whether a staff address hears of this request: the shared group always, a person if they may view it."""
    return member is None or member.may(Permission.VIEW, request.official_key)


def status_lines(messages: Sequence[ScheduledMessage], t: Translator) -> list[str]:
    """The reminder status for the staff card: one line per planned message that is not cancelled."""
    lines = []
    for message in messages:
        if message.kind not in KIND_LABELS or message.state not in STATE_LABELS:
            continue
        moment = message.sent_at if message.state == "sent" and message.sent_at else message.due_at
        state = t(STATE_LABELS[message.state], when=t.datetime(moment), error=message.last_error or "-")
        lines.append(t("{what}: {state}", what=t(KIND_LABELS[message.kind]), state=state))
    return lines


# Notices to the representative that are not reminders (those have their lines above): a failure is told on the card.
UNDELIVERED_LABELS = {
    "decision": N_("The decision notice was not delivered via {channel}: {reason}"),
}
UNDELIVERED_OTHER = N_("A notice to the representative was not delivered via {channel}: {reason}")
CHANNEL_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel.title())


def undelivered_lines(messages: Sequence[ScheduledMessage], contact: Address, t: Translator) -> list[str]:
    """One line per notice to the representative that failed for good (not tried again) and was not followed by
    one of the same kind that got through — whatever the channel. Reminders are in `status_lines`."""
    lines: list[str] = []
    mine = [m for m in messages if (m.channel, m.external_id) == (contact.channel, contact.external_id)]
    for index, message in enumerate(mine):
        if message.state != "failed" or message.kind in KIND_LABELS:
            continue
        if any(later.kind == message.kind and later.state == "sent" for later in mine[index + 1 :]):
            continue  # a later notice of the same kind reached them
        label = UNDELIVERED_LABELS.get(message.kind, UNDELIVERED_OTHER)
        lines.append(t(label, channel=channel_name(message.channel), reason=message.last_error or "-"))
    return lines


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NotAuthorized(text) from None
