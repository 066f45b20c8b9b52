"""Reminders and scheduled messages, the pure part: which messages, when, in which zone, and whether to send now.

Everything here is a function of a request, a policy and an instant; no database, no channel. The unit-of-work
side (rows in the outbox, moving and cancelling them) is `handlers/usecases/reminders.py`.

Times are office times (the city's zone: WIB, WITA or WIT). Working days are Monday to Friday except Indonesian
national holidays and cuti bersama (`handlers.availability.HolidayCalendar`) and the city-wide days off staff add
(`/libur`, `ReminderPolicy.with_days_off`); a holiday staff opened as a working day for the whole city counts
as one. A day off (or an opening) for one official only (an out-of-town agenda) closes that
official's calendar but not the office: it still counts as a working day for reminders and nudges.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.availability import HolidayCalendar, HolidayLookup
from handlers.domain.model import AudienceRequest, RequestStatus

REMINDER_DAY_BEFORE = "reminder_day_before"
REMINDER_2H = "reminder_2h"
FEEDBACK = "feedback"
MARK_OUTCOME = "mark_outcome"
DIGEST_TODAY = "digest_today"
DIGEST_TOMORROW = "digest_tomorrow"
NUDGE = "nudge_undecided"
EXPIRED = "expired"
DECISION = "decision"  # a staff decision, question, counter-offer or postponement told to the representative

# Rows planned per request: cancelled and planned again whenever the request changes status (or time).
PLANNED_KINDS = frozenset({REMINDER_DAY_BEFORE, REMINDER_2H, FEEDBACK, MARK_OUTCOME})
# Reminders about an audience: pointless once it has begun.
AUDIENCE_REMINDERS = frozenset({REMINDER_DAY_BEFORE, REMINDER_2H})
# Bot-initiated messages to representatives: quiet hours apply. Replies within the representative's own turn
# (and replies queued because the channel could not take them at once, kind "reply") are not among them.
TO_REPRESENTATIVE = frozenset({REMINDER_DAY_BEFORE, REMINDER_2H, FEEDBACK, EXPIRED, DECISION})
SCHEDULED_KINDS = PLANNED_KINDS | {DIGEST_TODAY, DIGEST_TOMORROW, NUDGE, EXPIRED}
UNDECIDED = (RequestStatus.SUBMITTED, RequestStatus.INFO_REQUESTED, RequestStatus.COUNTER_OFFERED)
# Undecided, or postponed and waiting for the representative to pick one of the offered times: these expire.
EXPIRABLE = (*UNDECIDED, RequestStatus.POSTPONED)
# Waiting for staff: the nudge lists them.
AWAITING_STAFF = (RequestStatus.SUBMITTED, RequestStatus.RESCHEDULE_REQUESTED)
# The audience stands at `scheduled_at`: approved, or approved with a move requested (the original time stays
# booked, with its reminders and its line in the agenda, until staff approve the new time).
BOOKED = (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED)
# Kept when an audience is marked held: the representative is still asked how it went.
KEPT_WHEN_HELD = frozenset({FEEDBACK})
DIGESTS = frozenset({DIGEST_TODAY, DIGEST_TOMORROW})
RETRY_CAP = timedelta(minutes=5)  # the longest wait between two tries of a failed delivery


@dataclass(frozen=True, kw_only=True)
class ReminderPolicy:
    """Every time the scheduler uses, in office time. Defaults are the issue's."""

    tz: ZoneInfo
    day_before_at: time = time(9, 0)
    before: timedelta = timedelta(hours=2)
    digest_today_at: time = time(7, 0)
    digest_tomorrow_at: time = time(16, 0)
    nudge_at: time = time(8, 0)
    nudge_after_working_days: int = 2
    quiet_start: time = time(21, 0)
    quiet_end: time = time(6, 0)
    after_audience: timedelta = timedelta(hours=2)
    holidays: HolidayLookup = field(default_factory=HolidayCalendar.indonesia, compare=False)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def at(self, day: date, clock_time: time) -> datetime:
        return datetime.combine(day, clock_time, tzinfo=self.tz)

    def with_days_off(self, days_off: Mapping[date, str], opened: Iterable[date] = ()) -> ReminderPolicy:
        """The same policy with the city-wide days off staff added (they close the office like a holiday) and
        the national holidays staff opened as working days (`opened`; a day off on the same day still wins)."""
        opened = frozenset(opened) - days_off.keys()
        if not days_off and not opened:
            return self
        return replace(self, holidays=_WithDaysOff(self.holidays, dict(days_off), opened))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holidays.name(day) is None

    def previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Whole working days after `start`'s day up to and including `end`'s day."""
        day, last, count = self.local(start).date(), self.local(end).date(), 0
        while day < last:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    # ---- quiet hours (representatives only) --------------------------------------------------------------

    def in_quiet_hours(self, moment: datetime) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        now = self.local(moment).time()
        return now >= start or now < end if start > end else start <= now < end

    def after_quiet_hours(self, moment: datetime) -> datetime:
        """The end of the quiet period `moment` falls in (or `moment` itself outside one)."""
        if not self.in_quiet_hours(moment):
            return moment
        local = self.local(moment)
        end = self.at(local.date(), self.quiet_end)
        return end if end > local else self.at(local.date() + timedelta(days=1), self.quiet_end)


class _WithDaysOff:
    """National holidays and cuti bersama, less those staff opened, plus the city-wide days off staff added."""

    def __init__(self, base: HolidayLookup, days_off: dict[date, str], opened: frozenset[date] = frozenset()) -> None:
        self._base = base
        self._days_off = days_off
        self._opened = opened

    def name(self, day: date) -> str | None:
        if day in self._opened:
            return None
        return self._base.name(day) or self._days_off.get(day)


@dataclass(frozen=True)
class Planned:
    kind: str
    due_at: datetime
    to_staff: bool = False


def plan(request: AudienceRequest, policy: ReminderPolicy, now: datetime) -> list[Planned]:
    """The per-request messages still to come for the request as it is now.

    A booked audience ahead (approved, or approved with a move requested): the reminders, the feedback request
    and the staff's outcome prompt. A held audience (completed): the feedback request only, at its usual time
    (two hours after the start) or, when staff marked it later than that, now; outside quiet hours. Anything
    else: nothing.
    """
    when = request.scheduled_at
    if request.status is RequestStatus.COMPLETED and when is not None:
        return [Planned(FEEDBACK, policy.after_quiet_hours(max(when + policy.after_audience, now)))]
    if request.status not in BOOKED or when is None or when <= now:
        return []
    planned: list[Planned] = []
    day_before = day_before_at(when, policy)
    if now < day_before < when:
        planned.append(Planned(REMINDER_DAY_BEFORE, policy.after_quiet_hours(day_before)))
    two_hours = policy.after_quiet_hours(when - policy.before)
    if now < two_hours < when:
        planned.append(Planned(REMINDER_2H, two_hours))
    after = when + policy.after_audience
    planned.append(Planned(FEEDBACK, policy.after_quiet_hours(after)))
    planned.append(Planned(MARK_OUTCOME, after, to_staff=True))
    return planned


def day_before_at(when: datetime, policy: ReminderPolicy) -> datetime:
    """When the reminder the working day before an audience at `when` is due (office time)."""
    return policy.at(policy.previous_working_day(policy.local(when).date()), policy.day_before_at)


def day_before_moved(when: datetime, policy: ReminderPolicy, now: datetime) -> datetime | None:
    """Where a pending day-before reminder goes once the working days changed (staff added or removed a day off):
    the new working day before, or now (outside quiet hours) when that has passed; None when it would come only
    after the reminder shortly before the audience, which then suffices."""
    due = day_before_at(when, policy)
    if due <= now:
        due = policy.after_quiet_hours(now)
    return due if due < when - policy.before else None


# ---- at delivery time --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Defer:
    until: datetime


@dataclass(frozen=True)
class Skip:
    reason: str


Decision = Send | Defer | Skip


def gate(
    kind: str, audience_at: datetime | None, now: datetime, policy: ReminderPolicy, *, made_on: date | None = None
) -> Decision:
    """Whether a due message goes out now, waits for the end of quiet hours, or is pointless (skipped).

    `made_on`: the office day a digest was made for; delivered on a later day (the worker or the chat platform
    was down) it would be out of date, so it is skipped.
    """
    if kind in DIGESTS and made_on is not None and policy.local(now).date() > made_on:
        return Skip("the agenda is out of date (its day is over)")
    if kind not in TO_REPRESENTATIVE:
        return Send()
    reminder = kind in AUDIENCE_REMINDERS and audience_at is not None
    if reminder and audience_at is not None and audience_at <= now:
        return Skip("the audience has already begun")
    if policy.in_quiet_hours(now):
        until = policy.after_quiet_hours(now)
        if reminder and audience_at is not None and until >= audience_at:
            return Skip("quiet hours last until the audience begins")
        return Defer(until)
    return Send()


def retried_while_useful(kind: str, extra: Mapping[str, object]) -> bool:
    """Whether a failed delivery is tried again for as long as it is worth sending, rather than given up after a
    fixed number of attempts: a reminder of an audience until the audience begins, the day's agenda until the
    day is over (the gate skips them from then on). A chat platform's outage of an hour loses neither."""
    if kind in AUDIENCE_REMINDERS:
        return isinstance(extra.get("audience_at"), str)
    if kind in DIGESTS:
        return isinstance(extra.get("made_on"), str)
    return False


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 2, 4, 8 … up to RETRY_CAP."""
    return min(RETRY_CAP.total_seconds(), 2.0 ** min(attempts, 16))


def no_longer_fits(
    kind: str, status: RequestStatus, scheduled_at: datetime | None, audience_at: datetime | None
) -> str | None:
    """Why a planned message about a request no longer fits the request as it is now (None: it still does).

    Checked at delivery: a row already being sent when the audience was cancelled or moved (too late for
    `cancel_pending`) must not go out."""
    if kind in AUDIENCE_REMINDERS or kind == MARK_OUTCOME:
        if status not in BOOKED:
            return f"request {status.value}"
    elif kind == FEEDBACK and status not in (*BOOKED, RequestStatus.COMPLETED):
        return f"request {status.value}"
    if kind in PLANNED_KINDS and audience_at is not None and scheduled_at is not None and scheduled_at != audience_at:
        return "the audience was moved"
    return None


# ---- digests, nudges, expiry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSlot:
    kind: str
    days: tuple[date, ...]  # the days whose audiences it lists, in order
    made_on: date  # the office day it is made (and only sent) on
    due_at: datetime

    @property
    def day(self) -> date:
        """The first day it lists (it names the digest's unique key)."""
        return self.days[0]


def digest_slots(now: datetime, policy: ReminderPolicy) -> list[DigestSlot]:
    """Digests that are due at `now` and still worth making. Each is created once per day; the caller's unique key
    makes a second creation a no-op.

    Today's agenda: every day from the morning time until the afternoon one (a day without audiences — a
    weekend, a holiday — records it as skipped). The afternoon agenda: on working days only, listing every day
    up to and including the next working day, so on the last working day before a weekend or a holiday staff
    get the agenda of the working day after it (with anything booked in between).
    """
    local = policy.local(now)
    today = local.date()
    slots = []
    morning = policy.at(today, policy.digest_today_at)
    afternoon = policy.at(today, policy.digest_tomorrow_at)
    if morning <= local < afternoon:
        slots.append(DigestSlot(DIGEST_TODAY, (today,), today, morning))
    if afternoon <= local and policy.is_working_day(today):
        days = [today + timedelta(days=1)]
        while not policy.is_working_day(days[-1]):
            days.append(days[-1] + timedelta(days=1))
        slots.append(DigestSlot(DIGEST_TOMORROW, tuple(days), today, afternoon))
    return slots


def audiences_on(
    requests: Iterable[AudienceRequest], days: Collection[date], policy: ReminderPolicy, officials: Sequence[str] = ()
) -> list[AudienceRequest]:
    """Booked audiences on these days (office time) in time order; only these officials' when given. An audience
    whose move is still being decided stands at its original time."""
    found = [
        r
        for r in requests
        if r.status in BOOKED
        and r.scheduled_at is not None
        and policy.local(r.scheduled_at).date() in days
        and (not officials or r.official_key in officials)
    ]
    return sorted(found, key=lambda r: (r.scheduled_at, r.reference))


def nudge_due(now: datetime, policy: ReminderPolicy) -> datetime | None:
    """The time of today's nudge to staff, when it is due now (working days only)."""
    local = policy.local(now)
    at = policy.at(local.date(), policy.nudge_at)
    if policy.is_working_day(local.date()) and at <= local:
        return at
    return None


def overdue_undecided(
    requests: Iterable[AudienceRequest], now: datetime, policy: ReminderPolicy
) -> list[AudienceRequest]:
    """Requests waiting for staff (new, or a move asked for) longer than the policy allows, oldest first."""
    found = [
        r
        for r in requests
        if r.status in AWAITING_STAFF
        and policy.working_days_between(waiting_since(r), now) >= policy.nudge_after_working_days
    ]
    return sorted(found, key=lambda r: (waiting_since(r), r.reference))


def waiting_since(request: AudienceRequest) -> datetime:
    """When staff were asked: the submission, or for a requested move the moment the move was asked for."""
    if request.status is RequestStatus.RESCHEDULE_REQUESTED and request.updated_at is not None:
        return request.updated_at
    return request.created_at


def times_on_the_table(request: AudienceRequest) -> tuple[datetime, ...]:
    """The times the request still waits on: the representative's preferred times, and for a counter-offer also
    the times staff proposed (either may still become the audience); after a postponement, the offered times."""
    if request.status is RequestStatus.POSTPONED:
        return request.proposed_times
    if request.status is RequestStatus.COUNTER_OFFERED:
        return (*request.preferred_times, *request.proposed_times)
    return request.preferred_times


def moves_lapsed(requests: Iterable[AudienceRequest], now: datetime) -> list[AudienceRequest]:
    """Moves asked for that staff never decided, once every new time asked for has passed: the original time
    stood all along, so the request goes back to approved at it (and its outcome is recorded as usual)."""
    return [
        r
        for r in requests
        if r.status is RequestStatus.RESCHEDULE_REQUESTED and r.preferred_times and max(r.preferred_times) <= now
    ]


def to_expire(requests: Iterable[AudienceRequest], now: datetime) -> list[AudienceRequest]:
    """Undecided (or postponed) requests whose every time on the table has passed."""
    found = []
    for r in requests:
        times = times_on_the_table(r)
        if r.status in EXPIRABLE and times and max(times) <= now:
            found.append(r)
    return found
