"""The city's own configuration file (TOML): its name and zone, its officials, and the staff who decide.

Validated at start; every problem is reported with where it is in the file, in plain words.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Sequence
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from handlers.availability import DEFAULT_WEEKLY_HOURS, CalendarRules, WorkingWindow
from handlers.domain.model import Address, Official, StaffMember, StaffRole

_KEY = r"^[a-z0-9][a-z0-9_-]{1,63}$"
Key = Annotated[str, StringConstraints(pattern=_KEY)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
_WHATSAPP_ID = r"^\+?[0-9A-Za-z._-]{5,64}$"
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
_WINDOW = r"^\d{1,2}[:.]\d{2}\s*-\s*\d{1,2}[:.]\d{2}$"
Window = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_WINDOW)]


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
    whatsapp_id: Annotated[str, StringConstraints(pattern=_WHATSAPP_ID)] | None = None


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
        for number, member in enumerate(self.staff, start=1):
            unknown = [k for k in member.officials if k not in known]
            if unknown:
                problems.append(f"staff #{number} ({member.key}): unknown official(s) {', '.join(unknown)}")
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
    problems = config_problems(raw)
    if not problems:
        try:
            return CityConfig.model_validate(raw)
        except ValidationError as error:  # a rule the checks above do not know yet: still say where
            problems = [f"{_where(p['loc'])}: {_plain(p)}" for p in error.errors()]
    lines = [f"{path}: {len(problems)} problem(s):", *(f"  - {problem}" for problem in problems)]
    raise ConfigError("\n".join(lines))


# ---- reporting every problem at once, in the operator's words -----------------------------------------------
# Each section and each entry is validated on its own, so one bad entry neither hides the others nor the checks
# across entries (duplicate keys, unknown officials), and cannot make a list look empty. Entries are numbered
# from 1 in the order they appear in the file, with their key when it is known: "officials #2 (sekda): room: …".

_SECTIONS = {"city": "[city]", "officials": "[[officials]]", "staff": "[[staff]]"}
_PATTERNS = {
    _KEY: "must be 2–64 lowercase letters, digits, '-' or '_', starting with a letter or digit (e.g. sekda)",
    _WINDOW: 'must be a time span such as "08:00-16:00"',
}
_PATTERNS[_WHATSAPP_ID] = "must be the WhatsApp id or number (5–64 letters or digits, e.g. 6281234567890)"


def config_problems(raw: dict[str, object]) -> list[str]:
    """Every problem in the file, each with its place, in file order; empty when the file can be used."""
    found: list[tuple[int, int, str]] = []  # (section, entry number, text): sorted so each entry's lines stay together
    for name in raw:
        if name not in _SECTIONS:
            found.append((0, 0, f"{name}: unknown section; expected {', '.join(_SECTIONS.values())}"))
    if "city" not in raw:
        found.append((1, 0, 'city: the [city] section is missing (it needs at least name = "…")'))
    else:
        found += [(1, 0, text) for text in _entry_problems("city", CitySection, raw["city"])]
    officials = _entries(raw, "officials", found)
    staff = _entries(raw, "staff", found)
    if not officials and isinstance(raw.get("officials", []), list):  # (not a list: said above)
        found.append((2, 0, "officials: no [[officials]] entry; at least one official is needed"))
    for rank, section, model, entries in ((2, "officials", OfficialEntry, officials), (3, "staff", StaffEntry, staff)):
        for number, entry in enumerate(entries, start=1):
            found += [(rank, number, text) for text in _entry_problems(_place(section, number, entry), model, entry)]
    found += [(2, n, text) for n, text in _duplicates("officials", officials, "key")]
    for field_name in ("key", "telegram_user_id", "whatsapp_id"):
        found += [(3, n, text) for n, text in _duplicates("staff", staff, field_name)]
    known = list(dict.fromkeys(o["key"] for o in officials if isinstance(o, dict) and isinstance(o.get("key"), str)))
    for number, entry in enumerate(staff, start=1):
        listed = entry.get("officials") if isinstance(entry, dict) else None
        unknown = [k for k in listed if isinstance(k, str) and k not in known] if isinstance(listed, list) else []
        if unknown:
            place, officials_are = _place("staff", number, entry), ", ".join(known) or "(none)"
            found.append((3, number, f"{place}: officials: no official with the key {', '.join(unknown)}; "
                                     f"the officials are {officials_are}"))  # fmt: skip
    return [text for _rank, _number, text in sorted(found, key=lambda item: item[:2])]


def _entries(raw: dict[str, object], section: str, found: list[tuple[int, int, str]]) -> list[object]:
    value = raw.get(section, [])
    if not isinstance(value, list):
        rank = 2 if section == "officials" else 3
        found.append((rank, 0, f"{section}: must be a list of {_SECTIONS[section]} entries, one block per entry"))
        return []
    return value


def _place(section: str, number: int, entry: object) -> str:
    key = entry.get("key") if isinstance(entry, dict) else None
    return f"{section} #{number} ({key})" if isinstance(key, str) and key.strip() else f"{section} #{number}"


def _entry_problems(place: str, model: type[BaseModel], entry: object) -> list[str]:
    if not isinstance(entry, dict):
        return [f'{place}: must be a table of settings (name = "…" lines), not {type(entry).__name__}']
    try:
        model.model_validate(entry)
    except ValidationError as error:
        errors = error.errors()
        # A list whose items failed is not also "too short": its bad items were dropped before the length check.
        failed_inside = {e["loc"][:i] for e in errors for i in range(1, len(e["loc"]))}
        # A section reads like a path ("city.timezone"), an entry by its number ("officials #2 (sekda): room").
        joint = ": " if "#" in place else "."
        return [f"{place}{joint}{_where(e['loc'])}: {_plain(e)}" for e in errors
                if not (e["type"] == "too_short" and e["loc"] in failed_inside)]  # fmt: skip
    return []


def _duplicates(section: str, entries: Sequence[object], field_name: str) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    first: dict[object, str] = {}
    for number, entry in enumerate(entries, start=1):
        value = entry.get(field_name) if isinstance(entry, dict) else None
        if value is None or isinstance(value, dict | list):
            continue
        place = _place(section, number, entry)
        if value in first:
            problems.append((number, f"{place}: {field_name}: {value!r} is already used by {first[value]}; "
                                     "each must be different"))  # fmt: skip
        else:
            first[value] = place
    return problems


def _where(loc: Sequence[int | str]) -> str:
    """('calendar', 'hours', 'senin', 0) -> 'calendar.hours.senin #1': list positions count from 1."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f" #{part + 1}"
        else:
            text += f".{part}" if text else str(part)
    return text or "(file)"


def _plain(error: ErrorDetails) -> str:
    """Pydantic's message, in the words of someone editing the file."""
    kind, ctx = error["type"], error.get("ctx", {})
    given = error.get("input")
    if kind == "missing":
        return "missing; this setting is required"
    if kind == "extra_forbidden":
        return "unknown setting (check the spelling, or remove it)"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return f"{given!r} " + _PATTERNS.get(pattern, f"does not have the expected form ({pattern})")
    if kind == "string_too_short":
        return f"{given!r} is too short; at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"too long ({len(str(given))} characters); at most {ctx.get('max_length')}"
    if kind == "string_type":
        return "must be text in quotes"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{given!r} is not a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{given!r} is too small; at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{given!r} is too large; at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "enum":
        return f"{given!r} is not one of {ctx.get('expected')}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind in ("list_type", "tuple_type"):
        return 'must be a list in square brackets, e.g. ["…"]'
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a table of settings"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"].removeprefix("Value error, ")))
    return error["msg"]


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
