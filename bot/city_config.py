"""The city's own configuration file (TOML): its name and zone, its officials, and the staff who decide.

Validated at start; every problem is reported with where it is in the file, in plain words.
"""

from __future__ import annotations

import itertools
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from handlers.availability import DEFAULT_WEEKLY_HOURS, CalendarRules, WorkingWindow
from handlers.domain.model import Address, Official, StaffMember, StaffRole

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
INDONESIAN_ZONES = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")


class ConfigError(Exception):
    """The configuration file cannot be used; the message lists every problem found."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitySection(_Strict):
    name: Name
    timezone: str = "Asia/Jakarta"
    max_attendees: int = Field(default=50, ge=1, le=500)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in INDONESIAN_ZONES:
            raise ValueError(f"must be one of {', '.join(INDONESIAN_ZONES)} (WIB, WITA, WIT)")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as error:  # pragma: no cover - tzdata is part of the platform
            raise ValueError(f"unknown time zone {value}") from error
        return value


WEEKDAYS = {"senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "sabtu": 5, "minggu": 6}
Window = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,2}[:.]\d{2}\s*-\s*\d{1,2}[:.]\d{2}$")]


def _clock(text: str) -> time:
    hour, minute = text.strip().replace(".", ":").split(":")
    return time(int(hour), int(minute))


def _windows(spans: list[str]) -> tuple[WorkingWindow, ...]:
    return tuple(WorkingWindow(_clock(a), _clock(b)) for a, b in (span.split("-") for span in spans))


class CalendarSettings(_Strict):
    """An official's calendar; every setting defaults to the government's usual rules."""

    # Weekday (senin … minggu) -> working windows "08:00-16:00"; a day left out keeps the default hours
    # (Monday–Thursday 08.00–16.00, Friday 08.00–11.00 and 13.30–16.00, weekend closed); [] closes a day.
    hours: dict[str, list[Window]] = Field(default_factory=dict)
    slot_minutes: int = Field(default=60, ge=15, le=480)
    buffer_minutes: int = Field(default=30, ge=0, le=240)
    max_per_day: int = Field(default=4, ge=0, le=50)  # 0: no daily limit
    min_notice_working_days: int = Field(default=2, ge=0, le=30)
    horizon_days: int = Field(default=60, ge=1, le=730)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            try:
                windows = _windows(spans)
            except ValueError as error:
                raise ValueError(f"{day}: {error}") from None
            for earlier, later in itertools.pairwise(windows):
                if earlier.end > later.start:
                    raise ValueError(f"{day}: working windows must be in order and must not overlap")
        return value

    def rules(self, tz: ZoneInfo) -> CalendarRules:
        weekly = dict(DEFAULT_WEEKLY_HOURS)
        weekly.update({WEEKDAYS[day]: _windows(spans) for day, spans in self.hours.items()})
        return CalendarRules(
            tz=tz,
            weekly_hours=weekly,
            slot_minutes=self.slot_minutes,
            buffer_minutes=self.buffer_minutes,
            max_per_day=self.max_per_day or None,
            min_notice_working_days=self.min_notice_working_days,
            horizon_days=self.horizon_days,
        )


class OfficialEntry(_Strict):
    key: Key
    name: Name
    title: Name
    office: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    room: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    active: bool = True
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)


class StaffEntry(_Strict):
    key: Key
    name: Name
    unit: Name
    roles: tuple[StaffRole, ...] = Field(min_length=1)
    officials: tuple[str, ...] = ()
    telegram_user_id: int | None = None
    whatsapp_id: Annotated[str, StringConstraints(pattern=r"^\+?[0-9A-Za-z._-]{5,64}$")] | None = None


class CityConfig(_Strict):
    city: CitySection
    officials: tuple[OfficialEntry, ...] = Field(min_length=1)
    staff: tuple[StaffEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CityConfig:
        problems: list[str] = []
        for label, keys in (("officials", [o.key for o in self.officials]), ("staff", [s.key for s in self.staff])):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates:
                problems.append(f"{label}: duplicate key(s) {', '.join(duplicates)}")
        known = {o.key for o in self.officials}
        for index, member in enumerate(self.staff):
            unknown = [k for k in member.officials if k not in known]
            if unknown:
                problems.append(f"staff[{index}] ({member.key}): unknown official(s) {', '.join(unknown)}")
        telegram_ids = [s.telegram_user_id for s in self.staff if s.telegram_user_id is not None]
        if len(telegram_ids) != len(set(telegram_ids)):
            problems.append("staff: the same telegram_user_id is given to two staff members")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.city.timezone)

    def calendar_rules(self) -> dict[str, CalendarRules]:
        """Each official's booking rules (working hours, audience length, buffer, limits) in the city's zone."""
        return {o.key: o.calendar.rules(self.tz) for o in self.officials}

    def domain_officials(self) -> list[Official]:
        return [Official(o.key, o.name, o.title, o.office, o.room, o.active) for o in self.officials]

    def domain_staff(self) -> list[StaffMember]:
        return [
            StaffMember(s.key, s.name, s.unit, s.roles, s.officials, s.telegram_user_id, s.whatsapp_id)
            for s in self.staff
        ]


def load_city_config(path: Path) -> CityConfig:
    if not path.exists():
        raise ConfigError(f"{path}: file not found. Copy config/kota.toml and edit it for your city.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return CityConfig.model_validate(raw)
    except ValidationError as error:
        lines = [f"{path}: {error.error_count()} problem(s):"]
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "(file)"
            lines.append(f"  - {where}: {problem['msg']}")
        raise ConfigError("\n".join(lines)) from None


class ConfiguredDirectory:
    """Officials and staff from the city's file; where staff notices go depends on the channels in use."""

    def __init__(
        self, config: CityConfig, staff_addresses: list[Address], aide_addresses: list[Address] | None = None
    ) -> None:
        self._officials = config.domain_officials()
        self._by_key = {o.key: o for o in self._officials}
        self._staff = config.domain_staff()
        self._staff_addresses = staff_addresses
        self._aide_addresses = aide_addresses or []

    def officials(self) -> list[Official]:
        return list(self._officials)

    def official(self, key: str) -> Official | None:
        return self._by_key.get(key)

    def staff(self) -> list[StaffMember]:
        return list(self._staff)

    def staff_by_key(self, key: str) -> StaffMember | None:
        return next((s for s in self._staff if s.key == key), None)

    def staff_for(self, address: Address) -> StaffMember | None:
        for member in self._staff:
            if address.channel == "console" and address.external_id == f"staf:{member.key}":
                return member
            if address.channel == "telegram" and address.external_id == str(member.telegram_user_id):
                return member
            if address.channel == "whatsapp" and member.whatsapp_id and address.external_id == member.whatsapp_id:
                return member
        return None

    def staff_addresses(self) -> list[Address]:
        return list(self._staff_addresses)

    def aide_addresses(self) -> list[Address]:
        return list(self._aide_addresses)
