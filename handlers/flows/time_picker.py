"""Choosing a time, for every flow that needs one: buttons first, typing second, always confirmed.

Buttons: the next free dates of the official, then the free times on the chosen date, with "Tanggal lain" for
later dates (a flow may first offer its own suggestions, e.g. the representative's preferred times to staff).
Typing: Indonesian as people write it ("Senin depan jam 10", "7 Desember pukul 14.00", "besok sore"), read by
:func:`handlers.datetext.parse_when`; the understood date and time is echoed back in full ("Senin, 7 Desember
2026 pukul 10.00 WITA — benar?") and used only after "Ya". A time that cannot be booked is refused with the
reason (a named holiday, office hours, minimum notice, taken) and the nearest free times as buttons. "Minggu"
alone (Sunday, or a week?) and a weekday with a number that fits both a date and an hour ("Selasa 15": the
15th, or 15.00?) are asked about.

Every function here is pure: the official's calendar was fetched before the engine ran (FlowEnv.calendar).
The unfinished answer lives in the step's draft:

    {}                                   the first question (suggestions, or the next free dates)
    {"stage": "dates", "after": D}       free dates after D ("Tanggal lain"); "from": D starts at D (a week);
                                         "time": "10:00" = the time typed with the week ("minggu depan jam 10"),
                                         used once a date is chosen
    {"stage": "times", "day": D}         free times on D ("period": "pagi" / "siang" / "sore" narrows them);
                                         typed text that is only a time ("9", "setengah 10") means it on D
    {"stage": "confirm", "at": T}        "T — benar?" ("zone": the zone the person typed, when not the office's)
    {"stage": "refused", "alternatives": [T…], "on": D}   the nearest free times after a refusal of a time on D;
                                         a time typed alone ("jam 9.45") means it on D
    {"stage": "ambiguous", "text": S}    "Minggu": Sunday or a week?
    {"stage": "ambiguous", "kind": K, "readings": [{"day": D, "time": "15:00" | None, "period": …, "zone": …}, …]}
                                         two readings to choose from: "Selasa 15" (the 15th, or 15.00?),
                                         "Jumat depan" on a weekend (the coming Friday, or the one after?)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.availability import SlotFree
from handlers.conversation.flow import Pending, StepContext
from handlers.datetext import WEEKDAY_NUMBER, Ambiguous, DayPeriod, NotUnderstood, TimeOnly, Understood, parse_when
from handlers.i18n import N_, Msg, Translator, zone_abbreviation
from handlers.messages import Inbound, Option, PressIn, TextIn
from handlers.scheduling import OfficialCalendar, refusal_text
from handlers.validators import Invalid, clean_text

DAY, AT = "d:", "t:"
MORE_DATES, ALL_DATES, YES, NO, SUNDAY, WEEK = "f:later", "f:dates", "f:ok", "f:redo", "f:sunday", "f:week"
READING = "f:reading"  # + the index of one of the readings of an ambiguous text
YES_WORDS = frozenset({"ya", "iya", "benar", "betul", "ya benar", "ok", "oke", "yes"})
NO_WORDS = frozenset({"tidak", "bukan", "salah", "no"})
EXAMPLE = "Senin depan jam 10"

# Parts of the day, for "besok pagi": which local start times they cover.
PERIOD_HOURS: dict[DayPeriod, tuple[time, time]] = {
    DayPeriod.PAGI: (time(0, 0), time(11, 0)),
    DayPeriod.SIANG: (time(11, 0), time(15, 0)),
    DayPeriod.SORE: (time(15, 0), time(19, 0)),
    DayPeriod.MALAM: (time(18, 0), time(23, 59)),
}


def _nothing(_ctx: StepContext) -> Sequence[datetime]:
    return ()


def _from_data(ctx: StepContext) -> str | None:
    value = ctx.data.get("official") or ctx.answers.get("official")
    return str(value) if value else None


@dataclass(frozen=True)
class TimePicker:
    """The parts of a time step; `key` is the step's key (to leave out times already chosen)."""

    key: str
    intro: str  # message id of the first question
    staff: bool = False  # staff are not bound by the representatives' minimum notice
    official: Callable[[StepContext], str | None] = _from_data
    suggested: Callable[[StepContext], Sequence[datetime]] = _nothing
    intro_params: Callable[[StepContext], Mapping[str, object]] = field(default=lambda _ctx: {})
    dates_shown: int = 5
    times_shown: int = 8

    # ---- the calendar and the current stage --------------------------------------------------------------

    def calendar(self, ctx: StepContext) -> OfficialCalendar | None:
        official = self.official(ctx)
        calendar = ctx.env.calendar(official) if official else None
        if calendar is None:
            return None
        calendar = calendar.ignoring(_int(ctx.data.get("request_id")))  # moving an audience: not against itself
        return calendar.for_staff() if self.staff else calendar

    def _chosen(self, ctx: StepContext) -> set[str]:
        value = ctx.answers.get(self.key)
        if isinstance(value, list):
            return {str(v) for v in value}
        return set()

    def _suggestions(self, ctx: StepContext, calendar: OfficialCalendar | None) -> list[datetime]:
        chosen = self._chosen(ctx)
        found = [m for m in self.suggested(ctx) if m.isoformat() not in chosen]
        if calendar is not None:
            found = [m for m in found if calendar.is_free(m)]
        return found[: self.times_shown]

    # ---- prompt and options ------------------------------------------------------------------------------

    @staticmethod
    def numbers_are_times(ctx: StepContext) -> bool:
        """While a date's free times are shown, a typed "9" means 09.00 (elsewhere it may pick option 9)."""
        return ctx.draft.get("stage") == "times"

    def ask(self, ctx: StepContext) -> str:
        t, draft = ctx.t, ctx.draft
        stage = draft.get("stage")
        calendar = self.calendar(ctx)
        if stage == "confirm":
            at = datetime.fromisoformat(draft["at"])
            if draft.get("zone"):  # typed in another zone: say it in the office's, and as typed
                typed = ZoneInfo(draft["zone"])
                as_typed = f"{t.with_zone(typed).clock(at)} {zone_abbreviation(typed, at)}"
                return t("{when} ({typed}) — is that right?", when=t.datetime(at), typed=as_typed)
            return t("{when} — is that right?", when=t.datetime(at))
        if stage == "times":
            day = date.fromisoformat(draft["day"])
            if not self._times(ctx, calendar):
                return t("There are no more free times on {date}. Please choose another date.", date=t.date(day))
            return t("Free times on {date}. Choose one, choose “Other date”, or type another time (e.g. 10.30).",
                     date=t.date(day))  # fmt: skip
        if stage == "refused":
            return t("The nearest free times are below. Choose one, choose “Other date”, or type another date "
                     "and time.")  # fmt: skip
        if stage == "ambiguous" and draft.get("readings"):
            first, second = (_reading(r) for r in draft["readings"][:2])
            if draft.get("kind") == WEEKDAY_NUMBER:
                assert second.time is not None
                return t("Do you mean the date {day} or the time {time}?", day=first.day.day, time=t.clock(second.time))
            return t("Do you mean {first} or {second}?", first=_label(first, t), second=_label(second, t))
        if stage == "ambiguous":
            return t("“Minggu” can mean Sunday or a week. Which one do you mean?")
        if stage == "dates":
            if not self._days(ctx, calendar):
                return t("There are no free dates after that within the booking period. Please choose an "
                         "earlier date.")  # fmt: skip
            if draft.get("time"):
                return t("Which date at {time}? Choose one of these dates with free times, or type a date and "
                         "time (e.g. “{example}”).", time=t.clock(time.fromisoformat(draft["time"])),
                         example=EXAMPLE)  # fmt: skip
            return t("Dates with free times. Choose one, or type a date and time (e.g. “{example}”).",
                     example=EXAMPLE)  # fmt: skip
        return t(self.intro, **self.intro_params(ctx))

    def options(self, ctx: StepContext) -> list[Option]:
        t, draft = ctx.t, ctx.draft
        stage = draft.get("stage")
        calendar = self.calendar(ctx)
        other_date = Option(ALL_DATES, t("Other date"))
        if stage == "confirm":
            return [Option(YES, t("Yes, that is right")), Option(NO, t("No, choose again"))]
        if stage == "times":
            return [*(Option(AT + m.isoformat(), t.clock(m)) for m in self._times(ctx, calendar)), other_date]
        if stage == "refused":
            alternatives = [datetime.fromisoformat(v) for v in draft.get("alternatives", ())]
            return [*(Option(AT + m.isoformat(), t.datetime(m)) for m in alternatives), other_date]
        if stage == "ambiguous" and draft.get("readings"):
            readings = [_reading(r) for r in draft["readings"]]
            return [Option(f"{READING}{i}", _label(r, t)) for i, r in enumerate(readings)]
        if stage == "ambiguous":
            return [Option(SUNDAY, t("Sunday (hari Minggu)")), Option(WEEK, t("A week (sepekan)"))]
        if stage is None:
            suggestions = self._suggestions(ctx, calendar)
            if suggestions:
                return [*(Option(AT + m.isoformat(), t.datetime(m)) for m in suggestions), other_date]
        days = self._days(ctx, calendar)
        if not days:
            return [] if stage is None else [other_date]
        return [*(Option(DAY + d.isoformat(), t.date(d)) for d in days), Option(MORE_DATES, t("Other date"))]

    def _days(self, ctx: StepContext, calendar: OfficialCalendar | None) -> list[date]:
        if calendar is None:
            return []
        draft = ctx.draft
        after = date.fromisoformat(draft["after"]) if draft.get("after") else None
        if draft.get("from"):
            after = date.fromisoformat(draft["from"]) - timedelta(days=1)
        return calendar.free_days(self.dates_shown, after=after)

    def _times(self, ctx: StepContext, calendar: OfficialCalendar | None) -> list[datetime]:
        if calendar is None:
            return []
        day = date.fromisoformat(ctx.draft["day"])
        chosen = self._chosen(ctx)
        times = [m for m in calendar.free_times(day) if m.isoformat() not in chosen]
        period = ctx.draft.get("period")
        if period:
            start, end = PERIOD_HOURS[DayPeriod(period)]
            narrowed = [m for m in times if start <= m.timetz().replace(tzinfo=None) < end]
            times = narrowed or times
        return _spread(times, self.times_shown)

    # ---- reading the answer ------------------------------------------------------------------------------

    def parse(self, inbound: Inbound, ctx: StepContext) -> str:
        calendar = self.calendar(ctx)
        if isinstance(inbound, PressIn):
            return self._pressed(inbound.key, ctx, calendar)
        if not isinstance(inbound, TextIn):
            raise Invalid(N_("Please type your answer as text."))
        text = clean_text(inbound.text)
        folded = text.casefold().strip(" .!")
        if ctx.draft.get("stage") == "confirm":
            if folded in YES_WORDS:
                return self._pressed(YES, ctx, calendar)
            if folded in NO_WORDS:
                return self._pressed(NO, ctx, calendar)
        return self._typed(text, ctx, calendar)

    def _pressed(self, key: str, ctx: StepContext, calendar: OfficialCalendar | None) -> str:
        if not any(o.key == key for o in self.options(ctx)):
            raise Invalid(N_("Please choose one of the options by pressing a button or typing its number."))
        draft = ctx.draft
        if key.startswith(AT):
            return self._accept(datetime.fromisoformat(key[len(AT) :]), ctx, calendar)
        if key.startswith(DAY):
            if draft.get("time"):  # "minggu depan jam 10": the time was given with the week
                at = datetime.combine(date.fromisoformat(key[len(DAY) :]), time.fromisoformat(draft["time"]),
                                      tzinfo=ctx.t.tz)  # fmt: skip
                return self._candidate(at, ctx, calendar)
            raise Pending({"stage": "times", "day": key[len(DAY) :]})
        if key == MORE_DATES:
            shown = self._days(ctx, calendar)
            later: dict[str, Any] = {"stage": "dates", "after": shown[-1].isoformat()} if shown else {"stage": "dates"}
            if draft.get("time"):
                later["time"] = draft["time"]
            raise Pending(later)
        if key == ALL_DATES:
            raise Pending({"stage": "dates"})
        if key == YES:
            return self._accept(datetime.fromisoformat(draft["at"]), ctx, calendar)
        if key == NO:
            raise Pending({"stage": "dates"})
        if key.startswith(READING):
            return self._understood(_reading(draft["readings"][int(key[len(READING) :])]), ctx, calendar)
        text = str(draft.get("text", ""))
        if key == SUNDAY:
            sunday = re.sub(r"\bminggu\b", "hari minggu", text, count=1, flags=re.IGNORECASE)
            return self._typed(sunday, ctx, calendar)
        today = ctx.now.astimezone(ctx.t.tz).date()
        monday = today - timedelta(days=today.weekday())
        start = today if re.search(r"\bini\b", text, re.IGNORECASE) else monday + timedelta(days=7)
        raise Pending({"stage": "dates", "from": start.isoformat()})

    def _typed(self, text: str, ctx: StepContext, calendar: OfficialCalendar | None) -> str:
        tz = ctx.t.tz
        draft = ctx.draft
        time_asked = bool(draft.get("day"))  # the free times of a date are shown: "9" or "setengah 10" is a time
        result = parse_when(text, ctx.now, tz, time_expected=time_asked)
        if isinstance(result, NotUnderstood):
            raise _not_understood(result.reason, time_asked)
        if isinstance(result, Ambiguous) and result.readings:
            raise Pending({"stage": "ambiguous", "kind": result.kind, "text": text,
                           "readings": [_stored(r) for r in result.readings]})  # fmt: skip
        if isinstance(result, Ambiguous):
            raise Pending({"stage": "ambiguous", "text": text})
        if isinstance(result, TimeOnly):
            # The date on screen: the one whose times are shown, the one being confirmed, or the one just refused.
            day_text = draft.get("day") or (draft.get("at", "")[:10] if draft.get("at") else None) or draft.get("on")
            if not day_text:
                raise Invalid(N_("Please write the date as well, e.g. “Senin depan jam 10” or “7 Desember jam 14.00”."))
            day = date.fromisoformat(day_text)
            if result.time is None:
                return self._day(day, result.period, ctx, calendar)
            return self._candidate(datetime.combine(day, result.time, tzinfo=tz), ctx, calendar, result.zone)
        return self._understood(result, ctx, calendar)

    def _understood(self, result: Understood, ctx: StepContext, calendar: OfficialCalendar | None) -> str:
        """A date (with a time, a part of the day or neither) or a span of days ("minggu depan", "bulan depan")."""
        if result.is_span:  # the free dates from its first day on (a time said with it is kept for the date chosen)
            span: dict[str, Any] = {"stage": "dates", "from": result.day.isoformat()}
            if result.time is not None:
                span["time"] = result.time.isoformat(timespec="minutes")
            raise Pending(span)
        if result.time is None:
            return self._day(result.day, result.period, ctx, calendar)
        at = datetime.combine(result.day, result.time, tzinfo=ctx.t.tz)
        return self._candidate(at, ctx, calendar, result.zone)

    def _day(self, day: date, period: DayPeriod | None, ctx: StepContext, calendar: OfficialCalendar | None) -> str:
        if calendar is None:
            raise Pending({"stage": "times", "day": day.isoformat()})
        times = calendar.free_times(day)
        if not times:
            refusal = calendar.day_refusal(day)
            around = datetime.combine(day, time(9, 0), tzinfo=calendar.rules.tz)
            self._refuse(refusal_text(refusal, day, calendar, ctx.t), around, ctx, calendar)
        note = None
        if period is not None:
            start, end = PERIOD_HOURS[period]
            if not any(start <= m.timetz().replace(tzinfo=None) < end for m in times):
                note = ctx.t("There is no free time in that part of the day; here are the other free times.")
        raise Pending({"stage": "times", "day": day.isoformat(), "period": period.value if period else None}, note)

    def _candidate(self, at: datetime, ctx: StepContext, calendar: OfficialCalendar | None,
                   zone: str | None = None) -> str:  # fmt: skip
        """A typed time: echoed back for confirmation when free, else refused with the nearest free times."""
        if at.isoformat() in self._chosen(ctx):
            raise Invalid(N_("You already chose that one."))
        typed = {"zone": zone} if zone else {}
        if calendar is None:
            if at <= ctx.now:
                raise Invalid(N_("That time has already passed. Please choose a time in the future."))
            raise Pending({"stage": "confirm", "at": at.isoformat(), **typed})
        result = calendar.check(at)
        if isinstance(result, SlotFree):
            raise Pending({"stage": "confirm", "at": at.astimezone(calendar.rules.tz).isoformat(), **typed})
        self._refuse(refusal_text(result, at, calendar, ctx.t), at, ctx, calendar)
        raise AssertionError("unreachable")  # pragma: no cover

    def _accept(self, at: datetime, ctx: StepContext, calendar: OfficialCalendar | None) -> str:
        """The final check before a time is taken: still free (someone may have booked it meanwhile)."""
        if calendar is not None:
            result = calendar.check(at)
            if not isinstance(result, SlotFree):
                self._refuse(refusal_text(result, at, calendar, ctx.t), at, ctx, calendar)
            return at.astimezone(calendar.rules.tz).isoformat()
        return at.isoformat()

    def _refuse(self, note: str, around: datetime, ctx: StepContext, calendar: OfficialCalendar) -> None:
        chosen = self._chosen(ctx)
        alternatives = [m for m in calendar.nearest(around, limit=3 + len(chosen)) if m.isoformat() not in chosen]
        if not alternatives:  # nothing after that day (beyond the horizon): the earliest free times instead
            alternatives = [m for m in calendar.free_slots(3 + len(chosen)) if m.isoformat() not in chosen]
        on = around.astimezone(calendar.rules.tz).date().isoformat()  # a time typed next means it on this date
        raise Pending({"stage": "refused", "alternatives": [m.isoformat() for m in alternatives[:3]], "on": on}, note)

    # ---- how a chosen time reads -------------------------------------------------------------------------

    @staticmethod
    def show(value: str, ctx: StepContext) -> str:
        return ctx.t.datetime(datetime.fromisoformat(value))

    @staticmethod
    def acknowledge(value: str, ctx: StepContext) -> str:
        return ctx.t("Noted: {when}.", when=ctx.t.datetime(datetime.fromisoformat(value)))


def _stored(reading: Understood) -> dict[str, str | None]:
    """A reading of an ambiguous text, as the draft keeps it (plain JSON)."""
    return {"day": reading.day.isoformat(),
            "time": reading.time.isoformat(timespec="minutes") if reading.time else None,
            "period": reading.period.value if reading.period else None, "zone": reading.zone}  # fmt: skip


def _reading(stored: Mapping[str, Any]) -> Understood:
    clock = time.fromisoformat(stored["time"]) if stored.get("time") else None
    period = DayPeriod(stored["period"]) if stored.get("period") else None
    return Understood(date.fromisoformat(stored["day"]), clock, period, zone=stored.get("zone"))


def _label(reading: Understood, t: Translator) -> str:
    if reading.time is None:
        return t.date(reading.day)
    return t.datetime(datetime.combine(reading.day, reading.time, tzinfo=t.tz))


def _spread(times: list[datetime], limit: int) -> list[datetime]:
    """At most `limit` times for buttons: whole hours first (people think in hours), in order."""
    if len(times) <= limit:
        return times
    whole = [m for m in times if m.minute == 0]
    rest = [m for m in times if m.minute != 0]
    return sorted((whole + rest)[:limit])


def _not_understood(reason: str, time_asked: bool = False) -> Invalid:
    if reason == "weekday_mismatch":
        return Invalid(N_("The day and the date do not match. Please check them, e.g. “Senin, 7 Desember 2026 "
                          "jam 10”."))  # fmt: skip
    if reason == "invalid_date":
        return Invalid(N_("That date does not exist. Example: {example}"), {"example": Msg(N_("7/12/2026 10.00"))})
    if reason == "invalid_time":
        return Invalid(N_("That time is not valid. Example: {example}"), {"example": Msg(N_("10.00 or 14.00"))})
    if time_asked:  # the free times of a date are shown: a time was asked for, not a date
        return Invalid(
            N_("Sorry, we could not read that time. Please write it like “{example}”, “jam 2 siang” or "
               "“setengah 10”, or choose a button."),
            {"example": "10.30"},
        )  # fmt: skip
    return Invalid(
        N_(
            "Sorry, we could not read that date. Please write it like “{example}”, “7 Desember 2026 pukul 14.00” "
            "or “besok jam 9 pagi”, or choose a button."
        ),
        {"example": EXAMPLE},
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
