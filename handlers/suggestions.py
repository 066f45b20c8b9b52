"""The times offered to a representative before the availability module knows the officials' calendars.

Weekdays from two days ahead, at common audience hours. The availability issue replaces this with free times
computed from working hours, holidays and bookings; the flow only sees the SlotSuggester port.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.ports import UnitOfWork

HOURS = (time(9, 0), time(10, 0), time(13, 0))


class WeekdaySuggester:
    def __init__(self, tz: ZoneInfo, lead_days: int = 2) -> None:
        self._tz = tz
        self._lead_days = lead_days

    async def suggest(self, uow: UnitOfWork, official_key: str, now: datetime, limit: int) -> Sequence[datetime]:
        day = now.astimezone(self._tz).date() + timedelta(days=self._lead_days)
        found: list[datetime] = []
        while len(found) < limit:
            if day.weekday() < 5:
                found.extend(datetime.combine(day, hour, tzinfo=self._tz) for hour in HOURS)
            day += timedelta(days=1)
        return found[:limit]
