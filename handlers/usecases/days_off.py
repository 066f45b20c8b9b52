"""Days off and opened holidays: the one use case behind the chat's /libur and `audiensi libur`.

A change of days off is checked, stored and followed by its consequences in the caller's unit of work, whichever
door it came through:

- a day off ("tambah"): stored (the same official and day again replaces the entry: "updated"); the approved
  audiences on that day are reported, so staff can postpone them; a day without office hours (a weekend) is
  stored but reported as changing nothing;
- an opening ("buka": a national holiday or cuti bersama that is a working day after all): only a day the
  `holidays` package closes can be opened; not a day without office hours (an opening never adds hours), and
  not a day staff blocked themselves (that day off is removed instead);
- a removal ("hapus");

and after each, the pending day-before reminders whose working day changed are moved
(:func:`handlers.usecases.reminders.after_days_off_changed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from handlers.domain.model import AudienceRequest, DayOffEntry, DomainError, RequestStatus
from handlers.ports import SlotSuggester, UnitOfWork
from handlers.usecases import reminders

BOOKED = (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED)


class NothingToOpen(DomainError):
    """An opening that would change nothing: the day is no holiday, or has no office hours anyway."""

    def __init__(self, day: date, holiday: str | None, *, no_hours: bool) -> None:
        super().__init__(f"{day.isoformat()}: nothing to open")
        self.day = day
        self.holiday = holiday
        self.no_hours = no_hours


class BlockedByStaff(DomainError):
    """An opening of a day staff blocked: the day off must be removed instead (an opening never undoes it)."""

    def __init__(self, entry: DayOffEntry) -> None:
        super().__init__(f"{entry.day.isoformat()} is blocked by staff: {entry.reason}")
        self.entry = entry


@dataclass(frozen=True)
class DayOffChange:
    """What a saved day off (or opening) did, for the person who made it."""

    entry: DayOffEntry  # as stored
    previous: DayOffEntry | None  # the entry of the same official and day it replaced; None when added
    holiday: str | None  # the national holiday or cuti bersama on that day, if any
    no_hours: bool  # no office hours that weekday for the officials concerned (a weekend): nothing changes
    affected: tuple[AudienceRequest, ...] = ()  # approved audiences on a day now blocked
    reminders_moved: int = 0  # pending day-before reminders moved to another working day

    @property
    def added(self) -> bool:
        return self.previous is None


async def save_day_off(
    uow: UnitOfWork, calendars: SlotSuggester, entry: DayOffEntry, officials: Sequence[str], now: datetime
) -> DayOffChange:
    """Store a day off or an opening (``entry.opens``) for one official or, with no official, for `officials`."""
    keys = [entry.official_key] if entry.official_key is not None else list(officials)
    holiday: str | None = None
    no_hours = True
    for key in keys:
        calendar = await calendars.calendar(uow, key, now)
        holiday = holiday or calendar.holidays.name(entry.day)
        no_hours = no_hours and not calendar.rules.windows_on(entry.day)
    same_day = await uow.days_off.between(entry.day, entry.day)
    previous = next((e for e in same_day if e.official_key == entry.official_key), None)
    if entry.opens:
        if holiday is None or no_hours:
            raise NothingToOpen(entry.day, holiday, no_hours=no_hours)
        blocked = next((e for e in same_day if not e.opens and e.official_key in (None, entry.official_key)), None)
        if blocked is not None:
            raise BlockedByStaff(blocked)
    stored = await uow.days_off.add(entry)
    moved = await reminders.after_days_off_changed(uow, now)
    affected: tuple[AudienceRequest, ...] = ()
    if not entry.opens:
        affected = tuple(await approved_on(uow, keys, entry.day, calendars, now))
    return DayOffChange(stored, previous, holiday, no_hours, affected, moved)


async def remove_day_off(uow: UnitOfWork, entry_id: int, now: datetime) -> DayOffEntry | None:
    """Remove an entry (a blocked day opens, an opened holiday closes again); None when already removed."""
    removed = await uow.days_off.remove(entry_id)
    if removed is not None:
        await reminders.after_days_off_changed(uow, now)
    return removed


async def approved_on(
    uow: UnitOfWork, keys: Sequence[str], day: date, calendars: SlotSuggester, now: datetime
) -> list[AudienceRequest]:
    """Audiences booked on that local day with these officials (approved, or approved with a move requested)."""
    found: list[AudienceRequest] = []
    for key in keys:
        tz = (await calendars.calendar(uow, key, now)).rules.tz
        for request in await uow.requests.list_for_official(key, list(BOOKED)):
            if request.scheduled_at and request.scheduled_at.astimezone(tz).date() == day:
                found.append(request)
    return sorted(found, key=lambda r: (r.scheduled_at, r.reference))
