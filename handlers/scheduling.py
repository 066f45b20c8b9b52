"""One official's calendar at one moment: the availability rules applied to what storage holds.

:class:`OfficialCalendar` is plain data (rules, holidays, staff days off, approved bookings, "now") fetched by
the service before the engine runs, so flows and use cases ask it questions without touching storage. The
answers come from :mod:`handlers.availability`; this module only binds its arguments and words its refusals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from handlers.availability import (
    Busy,
    CalendarRules,
    DayOff,
    HolidayLookup,
    RefusalReason,
    SlotCheck,
    SlotFree,
    SlotRefused,
    check_slot,
    free_days,
    free_slots,
    nearest_free,
)
from handlers.domain.model import Booking
from handlers.i18n import N_, Translator

# How many free start times one day can hold at most (08.00–16.00 every 30 minutes is 15).
_MAX_PER_DAY_GRID = 64


@dataclass(frozen=True)
class OfficialCalendar:
    official_key: str
    rules: CalendarRules
    bookings: tuple[Booking, ...]
    days_off: tuple[DayOff, ...]
    holidays: HolidayLookup
    now: datetime
    ignored_request: int | None = None

    # ---- variants ----------------------------------------------------------------------------------------

    def for_staff(self) -> OfficialCalendar:
        """Staff may book inside the representatives' minimum notice; every other rule still holds."""
        return replace(self, rules=replace(self.rules, min_notice_working_days=0))

    def ignoring(self, request_id: int | None) -> OfficialCalendar:
        """As if the request's own booking were free (moving an audience must not clash with itself)."""
        return replace(self, ignored_request=request_id)

    @property
    def busy(self) -> tuple[Busy, ...]:
        return tuple(Busy(b.starts_at, b.ends_at) for b in self.bookings if b.request_id != self.ignored_request)

    # ---- questions ---------------------------------------------------------------------------------------

    def free_days(self, limit: int = 5, after: date | None = None) -> list[date]:
        start = after + timedelta(days=1) if after else None
        return free_days(self.rules, self.busy, self.days_off, self.holidays, self.now, limit=limit, start_day=start)

    def free_slots(self, limit: int = 10, start_day: date | None = None) -> list[datetime]:
        return free_slots(self.rules, self.busy, self.days_off, self.holidays, self.now, limit=limit,
                          start_day=start_day)  # fmt: skip

    def free_times(self, day: date) -> list[datetime]:
        """Every free start time on one local day (empty when the day is closed or full)."""
        found = self.free_slots(limit=_MAX_PER_DAY_GRID, start_day=day)
        return [moment for moment in found if moment.astimezone(self.rules.tz).date() == day]

    def check(self, start: datetime) -> SlotCheck:
        return check_slot(self.rules, self.busy, self.days_off, self.holidays, self.now, start)

    def is_free(self, start: datetime) -> bool:
        return isinstance(self.check(start), SlotFree)

    def nearest(self, around: datetime, limit: int = 3) -> list[datetime]:
        return nearest_free(self.rules, self.busy, self.days_off, self.holidays, self.now, around, limit=limit)

    def day_refusal(self, day: date) -> SlotRefused:
        """Why a day offers no free time: the day-wide reason when there is one, else "full"."""
        windows = self.rules.windows_on(day)
        probe = datetime.combine(day, windows[0].start if windows else time(9, 0), tzinfo=self.rules.tz)
        result = self.check(probe)
        if isinstance(result, SlotRefused) and result.reason not in (RefusalReason.OUTSIDE_HOURS, RefusalReason.TAKEN,
                                                                    RefusalReason.TOO_CLOSE):  # fmt: skip
            return result
        return SlotRefused(RefusalReason.DAY_FULL)

    def slot_end(self, start: datetime) -> datetime:
        return start + self.rules.slot

    def booking(self, request_id: int, start: datetime) -> Booking:
        end = self.slot_end(start)
        return Booking(request_id, self.official_key, start, end, end + self.rules.buffer)

    def hours_on(self, day: date, t: Translator) -> str:
        windows = self.rules.windows_on(day)
        return t(" and ").join(f"{t.clock(w.start)}–{t.clock(w.end)}" for w in windows)


# ---- refusals, in words --------------------------------------------------------------------------------


def refusal_text(refusal: SlotRefused, at: datetime | date, calendar: OfficialCalendar, t: Translator) -> str:
    """Why a time (or a whole day) cannot be booked, in the person's language, naming holidays and limits."""
    day = at.astimezone(calendar.rules.tz).date() if isinstance(at, datetime) else at
    when = t.datetime(at) if isinstance(at, datetime) else t.date(at)
    reason = refusal.reason
    if reason is RefusalReason.PAST:
        return t("{when} has already passed.", when=when)
    if reason is RefusalReason.TOO_SOON:
        earliest = date.fromisoformat(refusal.detail) if refusal.detail else day
        return t.plural(
            "{when} is too soon. Audiences are arranged at least {n} working day ahead; the earliest possible "
            "date is {date}.",
            "{when} is too soon. Audiences are arranged at least {n} working days ahead; the earliest possible "
            "date is {date}.",
            calendar.rules.min_notice_working_days, when=when, date=t.date(earliest))  # fmt: skip
    if reason is RefusalReason.BEYOND_HORIZON:  # always say which date was understood: it may not be the one meant
        last = date.fromisoformat(refusal.detail) if refusal.detail else day
        return t("{when} is too far ahead. Audiences can be arranged at most {days} days ahead, until {date}.",
                 when=when, days=calendar.rules.horizon_days, date=t.date(last))  # fmt: skip
    if reason is RefusalReason.WEEKEND:
        return t("{date} is not a working day.", date=t.date(day))
    if reason is RefusalReason.HOLIDAY:
        return t("{date} is {holiday}; no audiences are held that day.", date=t.day_month(day),
                 holiday=holiday_name(refusal.detail or "", t))  # fmt: skip
    if reason is RefusalReason.DAY_OFF:
        return t("The official does not receive audiences on {date}: {reason}.", date=t.date(day),
                 reason=refusal.detail or "")  # fmt: skip
    if reason is RefusalReason.DAY_FULL:
        return t("The schedule on {date} is already full.", date=t.date(day))
    if reason is RefusalReason.OUTSIDE_HOURS:
        return t("{when} is outside office hours. An audience takes {minutes} minutes; on {date} it can be held "
                 "within {hours}.", when=when, minutes=calendar.rules.slot_minutes, date=t.date(day),
                 hours=calendar.hours_on(day, t))  # fmt: skip
    if reason is RefusalReason.TOO_CLOSE:
        return t("{when} is too close to another audience: {minutes} minutes are kept free before and after each "
                 "one.", when=when, minutes=calendar.rules.buffer_minutes)  # fmt: skip
    return t("{when} is already taken.", when=when)


ESTIMATED = " (perkiraan)"  # how the `holidays` package marks a date not yet fixed by decree (Idul Fitri, …)


def holiday_name(name: str, t: Translator) -> str:
    """A holiday's name for representatives: the package's bare "(perkiraan)" said in words, in their language."""
    if ESTIMATED not in name:
        return name
    return t("{holiday} (the date is an estimate and may still change)", holiday=name.replace(ESTIMATED, ""))


def unavailable_text(reason: str, detail: str | None, at: datetime | None, calendar: OfficialCalendar,
                     t: Translator) -> str:  # fmt: skip
    """The wording for a SlotUnavailable raised by a use case (reason is a RefusalReason value)."""
    refusal = SlotRefused(RefusalReason(reason), detail)
    if at is None:
        return t(TAKEN_MESSAGE)
    return refusal_text(refusal, at, calendar, t)


TAKEN_MESSAGE = N_("That time is already taken. Please choose another time.")


def times_overlap(a: datetime, b: datetime, calendar: OfficialCalendar) -> bool:
    """Two audiences starting at `a` and `b` would be closer than the buffer (a possible clash)."""
    slot, buffer = calendar.rules.slot, calendar.rules.buffer
    return a < b + slot + buffer and b < a + slot + buffer


def describe_times(times: Sequence[datetime], t: Translator) -> str:
    return "\n".join(f"   • {t.datetime(moment)}" for moment in times)


# ---- offered times on buttons ----------------------------------------------------------------------------
#
# A counter-offer (or the new times after a postponement) reaches the representative as buttons that may be
# pressed days later, after staff have offered other times. So a button names what it answers, never a position
# in the current list: an accept button carries the time itself (UTC, to the minute), the decline button a short
# digest of the times it declines. "g:accept:<id>:202611250000" stays far below Telegram's 64 bytes.


def time_token(moment: datetime) -> str:
    """A moment on a button: UTC, yyyymmddHHMM."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def parse_time_token(token: str) -> datetime | None:
    """The moment a button names, or None for anything else (an old button that carried a list position)."""
    if len(token) != 12 or not token.isdigit():
        return None
    try:
        return datetime.strptime(token, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def offer_token(times: Sequence[datetime]) -> str:
    """Names one set of offered times (whatever their order): the decline button answers exactly these."""
    joined = ",".join(sorted(time_token(moment) for moment in times))
    return hashlib.blake2s(joined.encode(), digest_size=4).hexdigest()
