"""Days off from the command line: `audiensi libur daftar | tambah | buka | hapus`.

The same table staff keep from the chat with /libur: a regional holiday, a changed decree (a cuti bersama the
`holidays` package does not know yet), an official's out-of-town agenda. National holidays and cuti bersama come
from the package and need no entry; when the package is wrong (a decree moved a cuti bersama, an estimated date —
"perkiraan" — proved wrong), `buka` makes that day a working day again, with the reason.

Every change goes through the same use case as the chat (`handlers.usecases.days_off`): `buka` refuses a day
that is no holiday, a day off on a weekend is reported as changing nothing, the approved audiences on a newly
blocked day are listed, and pending day-before reminders move with the working days.

    audiensi libur daftar
    audiensi libur tambah 2026-12-04 "Hari jadi Kota Makassar"            # every official
    audiensi libur tambah "4 Desember 2026" "Kunjungan kerja" --pejabat walikota
    audiensi libur buka 2026-12-24 "SKB 3 Menteri: cuti bersama dipindahkan"
    audiensi libur hapus 3
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from bot.bootstrap import application
from bot.city_config import CityConfig, load_city_config
from bot.clock import SystemClock
from bot.settings import Settings
from handlers.datetext import Ambiguous, Understood, parse_when
from handlers.domain.model import DayOffEntry
from handlers.ports import Clock, SlotSuggester, UnitOfWork
from handlers.suggestions import AvailabilitySuggester
from handlers.usecases import days_off, reminders

LISTED_DAYS = 366


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """Register `libur` on the CLI's sub-command parser."""
    days_off = commands.add_parser("libur", help="staff days off: list, add or remove")
    actions = days_off.add_subparsers(dest="libur_action", required=True)
    actions.add_parser("daftar", help="list the days off ahead")
    add = actions.add_parser("tambah", help="block a day (every official, or one with --pejabat)")
    add.add_argument("tanggal", help='the date: 2026-12-04, 04/12/2026 or "4 Desember 2026"')
    add.add_argument("alasan", help="the reason, shown to representatives")
    add.add_argument("--pejabat", default=None, metavar="KODE", help="only this official (key in the city file)")
    add.add_argument("--oleh", default="Administrator (CLI)", help="who adds it (shown to staff)")
    reopen = actions.add_parser("buka", help="make a national holiday or cuti bersama a working day (decree changed)")
    reopen.add_argument("tanggal", help='the date: 2026-12-24, 24/12/2026 or "24 Desember 2026"')
    reopen.add_argument("alasan", help="why it is a working day, e.g. the decree that moved it")
    reopen.add_argument("--pejabat", default=None, metavar="KODE", help="only this official (key in the city file)")
    reopen.add_argument("--oleh", default="Administrator (CLI)", help="who opens it (shown to staff)")
    remove = actions.add_parser("hapus", help="remove an entry (a blocked day opens, an opened holiday closes)")
    remove.add_argument("id", type=int, help="the number shown by `audiensi libur daftar`")


def run(settings: Settings, args: argparse.Namespace, *, clock: Clock | None = None,
        output: Callable[[str], None] = print) -> int:  # fmt: skip
    """Carry out `audiensi libur …`; returns the process exit code."""
    city = load_city_config(settings.config_file)
    try:
        text = asyncio.run(_run(settings, city, args, clock or SystemClock()))
    except ValueError as problem:
        output(f"error: {problem}")
        return 2
    output(text)
    return 0


async def _run(settings: Settings, city: CityConfig, args: argparse.Namespace, clock: Clock) -> str:
    action = args.libur_action
    if action in ("tambah", "buka"):
        day = parse_day(args.tanggal, clock.now(), city)
        official = args.pejabat
        if official is not None and official not in {o.key for o in city.officials}:
            raise ValueError(f"unknown official {official!r}; known: {', '.join(o.key for o in city.officials)}")
        reason = " ".join(str(args.alasan).split())
        if not 3 <= len(reason) <= 200:
            raise ValueError("the reason must be 3 to 200 characters")
        entry = DayOffEntry(official, day, reason, args.oleh, opens=action == "buka")
        return await add_day_off(settings, city, entry, clock)
    if action == "hapus":
        return await remove_day_off(settings, city, int(args.id), clock)
    return await list_days_off(settings, city, clock)


def parse_day(text: str, now: datetime, city: CityConfig) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        result = parse_when(text, now, city.tz)
        if isinstance(result, Ambiguous) and result.readings:
            result = result.readings[0]  # "Jumat 11" asked for a day: the date ("Jumat depan": the coming one)
        if not isinstance(result, Understood) or result.is_span:
            raise ValueError(f"not a date: {text!r} (write e.g. 2026-12-04 or '4 Desember 2026')") from None
        day = result.day
    if day < now.astimezone(city.tz).date():
        raise ValueError(f"{day.isoformat()} has already passed")
    return day


async def _with_uow(
    settings: Settings, city: CityConfig, clock: Clock, work: Callable[[UnitOfWork, SlotSuggester], Awaitable[str]]
) -> str:
    """Run `work` in one transaction of the bot as it runs: the same calendars, and its reminder planner, so a
    change here moves reminders exactly as the chat's /libur does."""
    async with application(settings, clock=clock) as app:
        reminders.use(app.service.reminders)
        suggester = AvailabilitySuggester(city.tz, city.calendar_rules())
        async with app.service.unit_of_work() as uow:
            text = await work(uow, suggester)
            await uow.commit()
        return text


def _who(entry: DayOffEntry, city: CityConfig) -> str:
    return "all officials" if entry.official_key is None else _official_title(entry.official_key, city)


def _line(entry: DayOffEntry, city: CityConfig) -> str:
    when = f"{entry.day.isoformat()} ({entry.day:%a})"
    kind = "OPEN (working day)  " if entry.opens else ""
    return f"{entry.id:>4}  {when}  {kind}{_who(entry, city)}: {entry.reason}  [{entry.added_by}]"


async def add_day_off(settings: Settings, city: CityConfig, entry: DayOffEntry, clock: Clock) -> str:
    async def work(uow: UnitOfWork, calendars: SlotSuggester) -> str:
        officials = [o.key for o in city.officials]
        try:
            change = await days_off.save_day_off(uow, calendars, entry, officials, clock.now())
        except days_off.NothingToOpen as nothing:
            when = f"{entry.day.isoformat()} ({entry.day:%a})"
            if nothing.holiday is None:
                raise ValueError(
                    f"{when} is not a national holiday or cuti bersama: nothing to open (it is "
                    "a working day unless staff blocked it; `libur daftar` lists those)"
                ) from None
            raise ValueError(f"{when} ({nothing.holiday}) has no office hours anyway: nothing to open") from None
        except days_off.BlockedByStaff as blocked:
            raise ValueError(
                f"{entry.day.isoformat()} is blocked by staff: {_line(blocked.entry, city).strip()}; "
                "remove that day off (`libur hapus ID`) to make it a working day"
            ) from None
        return _report(change, city)

    return await _with_uow(settings, city, clock, work)


def _report(change: days_off.DayOffChange, city: CityConfig) -> str:
    entry, previous = change.entry, change.previous
    lines = ["added:" if previous is None else "updated (it replaces the entry below):", _line(entry, city)]
    if previous is not None:
        lines.append("  was: " + _line(previous, city).strip())
    when = f"{entry.day.isoformat()} ({entry.day:%a})"
    if change.no_hours:
        lines.append(f"warning: {when} has no office hours anyway for {_who(entry, city)}; no time offered changes")
    elif entry.opens:
        lines.append(f"{when} ({change.holiday}) is now a working day for {_who(entry, city)}")
    elif change.holiday:
        lines.append(f"note: {when} is already closed ({change.holiday})")
    if change.affected:
        lines.append(
            f"approved audiences on {when} — postpone each from the chat (its card: Ditunda), the "
            "representative is then offered new times:"
        )
        for r in change.affected:
            at = f"{r.scheduled_at.astimezone(city.tz):%H:%M}" if r.scheduled_at else "--:--"
            lines.append(f"  {r.reference}  {at}  {_official_title(r.official_key, city)}  {r.organization.name}")
    if change.reminders_moved:
        lines.append(f"{change.reminders_moved} day-before reminder(s) moved to the new working day before")
    return "\n".join(lines)


def _official_title(key: str, city: CityConfig) -> str:
    official = next((o for o in city.officials if o.key == key), None)
    return official.title if official else key


async def remove_day_off(settings: Settings, city: CityConfig, entry_id: int, clock: Clock) -> str:
    async def work(uow: UnitOfWork, _calendars: SlotSuggester) -> str:
        removed = await days_off.remove_day_off(uow, entry_id, clock.now())
        if removed is None:
            raise ValueError(f"no day off number {entry_id} (already removed?)")
        return "removed:\n" + _line(removed, city)

    return await _with_uow(settings, city, clock, work)


async def list_days_off(settings: Settings, city: CityConfig, clock: Clock) -> str:
    async def work(uow: UnitOfWork, _calendars: SlotSuggester) -> str:
        today = clock.now().astimezone(city.tz).date()
        entries = await uow.days_off.between(today, today + timedelta(days=LISTED_DAYS))
        if not entries:
            return "no days off added by staff ahead (national holidays and cuti bersama always apply)"
        return "\n".join(_line(e, city) for e in entries)

    return await _with_uow(settings, city, clock, work)


__all__ = ["add_arguments", "parse_day", "run"]
