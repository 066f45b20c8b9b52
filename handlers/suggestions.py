"""Free times from the officials' real calendars: working hours, Indonesian holidays, staff days off, bookings.

:class:`AvailabilitySuggester` implements the SlotSuggester port. It reads the bookings and days off of one
official inside the caller's unit of work and returns an :class:`OfficialCalendar` snapshot; the pure
availability calculator answers every question from that snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.availability import CalendarRules, DayOff, HolidayCalendar, HolidayLookup
from handlers.ports import UnitOfWork
from handlers.scheduling import OfficialCalendar


class AvailabilitySuggester:
    """Calendars per official; officials without their own rules get the government defaults in `tz`."""

    def __init__(
        self,
        tz: ZoneInfo,
        rules: Mapping[str, CalendarRules] | None = None,
        holidays: HolidayLookup | None = None,
    ) -> None:
        self._default = CalendarRules.default(tz)
        self._rules = dict(rules or {})
        self._holidays = holidays if holidays is not None else HolidayCalendar.indonesia()

    def rules_for(self, official_key: str) -> CalendarRules:
        return self._rules.get(official_key, self._default)

    async def calendar(self, uow: UnitOfWork, official_key: str, now: datetime) -> OfficialCalendar:
        rules = self.rules_for(official_key)
        today = now.astimezone(rules.tz).date()
        # A day's margin either side covers bookings whose buffer reaches into the period, in any zone.
        first, last = today - timedelta(days=1), today + timedelta(days=rules.horizon_days + 1)
        start = datetime.combine(first, datetime.min.time(), tzinfo=rules.tz)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=rules.tz)
        bookings = await uow.bookings.for_official(official_key, start, end)
        entries = await uow.days_off.between(first, last, official_key)
        days_off = tuple(DayOff(e.day, e.reason, e.opens) for e in entries)
        return OfficialCalendar(official_key, rules, tuple(bookings), days_off, self._holidays, now)

    async def suggest(self, uow: UnitOfWork, official_key: str, now: datetime, limit: int) -> Sequence[datetime]:
        return (await self.calendar(uow, official_key, now)).free_slots(limit)
