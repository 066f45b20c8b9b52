"""Properties, through the real flows and use cases: every time offered as a button and every time accepted —
by a representative choosing preferred times, by staff approving, by staff proposing other times (Usulkan Waktu
Lain) and offering new times after a postponement, by the representative tapping one — respects the official's
calendar.

Hypothesis plays random conversations (buttons pressed, Indonesian dates typed, "Ya" to confirm) against the
real service on the in-memory storage, with random staff days off and random approvals. After every reply the
offered times are checked against the calendar as it stands at that moment, by rules restated here
independently of the availability module: a working day, not a national holiday or cuti bersama, not a staff day
off, inside the office hours with the whole audience, clear of every approved audience by the buffer, the day
not full, not inside the minimum notice (representatives), within the horizon. At the end the approved
audiences never overlap (buffers included) and no day holds more than allowed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.conversation.state import ConversationState, Frame
from handlers.domain.model import Address, Booking, DayOffEntry, RequestStatus
from handlers.messages import Choice, PressIn, TextIn
from handlers.scheduling import time_token
from handlers.usecases.requests import submit_request
from tests.conftest import START
from tests.harness import HOLIDAYS, MAKASSAR, PROTOKOL, Harness, harness

OFFICIAL = "wakil-walikota"
SLOT, BUFFER, PER_DAY, NOTICE_DAYS, HORIZON = timedelta(hours=1), timedelta(minutes=30), 4, 2, 60
HOURS = {0: [("08:00", "16:00")], 1: [("08:00", "16:00")], 2: [("08:00", "16:00")], 3: [("08:00", "16:00")],
         4: [("08:00", "11:00"), ("13:30", "16:00")]}  # fmt: skip
TODAY = START.date()
REQUESTS = 4
# A booked audience may have been marked held or not attended by a random press on the card.
HOLDING = (RequestStatus.APPROVED, RequestStatus.RESCHEDULE_REQUESTED, RequestStatus.COMPLETED, RequestStatus.NO_SHOW)

# One thing a person does at a time step: press the n-th option, type a date and time, or confirm.
typed_moments = st.builds(
    lambda days, hour, minute: (START + timedelta(days=days)).strftime("%d/%m/%Y") + f" {hour:02d}:{minute:02d}",
    st.integers(-2, 70), st.integers(6, 18), st.sampled_from([0, 15, 30, 45]),
)  # fmt: skip
moves = st.lists(
    st.one_of(st.tuples(st.just("press"), st.integers(0, 9)), st.tuples(st.just("type"), typed_moments),
              st.just(("say", "Ya")), st.just(("say", "Selesai")), st.just(("say", "/kembali"))),
    min_size=1, max_size=14,
)  # fmt: skip
days_off = st.lists(
    st.tuples(st.integers(0, 45), st.sampled_from([None, OFFICIAL, "walikota"])), max_size=6, unique=True
)


def working_day(day: date) -> bool:
    return day.weekday() in HOURS and HOLIDAYS.name(day) is None


def notice_day() -> date:
    day, found = TODAY, 0
    while found < NOTICE_DAYS:
        day += timedelta(days=1)
        found += working_day(day)
    return day


def inside_hours(local: datetime) -> bool:
    for start, end in HOURS.get(local.weekday(), []):
        opens = datetime.combine(local.date(), time.fromisoformat(start), tzinfo=MAKASSAR)
        closes = datetime.combine(local.date(), time.fromisoformat(end), tzinfo=MAKASSAR)
        if opens <= local and local + SLOT <= closes:
            return True
    return False


def clear(a: datetime, b: datetime) -> bool:
    return a >= b + SLOT + BUFFER or b >= a + SLOT + BUFFER


@dataclass
class World:
    h: Harness
    blocked: dict[date, set[str | None]] = field(default_factory=dict)
    checked: int = 0

    async def bookings(self) -> list[Booking]:
        async with self.h.uow() as uow:
            return await uow.bookings.for_official(OFFICIAL, START - timedelta(days=1), START + timedelta(days=90))

    async def check_offer(
        self, moment: datetime, *, staff: bool, ignore: int | None = None, against_bookings: bool = True
    ) -> None:
        """One offered or accepted time against the calendar as it is now."""
        local = moment.astimezone(MAKASSAR)
        day = local.date()
        assert local >= self.h.clock.now(), f"{local} is past"
        assert working_day(day), f"{local} is on a weekend or a holiday"
        assert not (self.blocked.get(day, set()) & {None, OFFICIAL}), f"{local} is on a staff day off"
        assert inside_hours(local), f"{local} is outside office hours"
        assert day <= TODAY + timedelta(days=HORIZON), f"{local} is beyond the horizon"
        if not staff:
            assert day >= notice_day(), f"{local} is inside the minimum notice"
        if against_bookings:
            problem = await self.clash(local, ignore)
            assert problem is None, problem
        self.checked += 1

    async def clash(self, local: datetime, ignore: int | None) -> str | None:
        """Why `local` cannot be booked now because of other audiences, or None."""
        others = [b for b in await self.bookings() if b.request_id != ignore]
        for booked in others:
            if not clear(local, booked.starts_at):
                return f"{local} clashes with the audience at {booked.starts_at}"
        same_day = [b for b in others if b.starts_at.astimezone(MAKASSAR).date() == local.date()]
        return f"{local.date()} is already full" if len(same_day) >= PER_DAY else None

    async def check_options(self, *, staff: bool, ignore: int | None = None) -> None:
        for message in self.h.last:
            if isinstance(message, Choice):
                for option in message.options:
                    moment = offered_moment(option.key)
                    if moment is not None:
                        await self.check_offer(moment, staff=staff, ignore=ignore)


def offered_moment(key: str) -> datetime | None:
    key = key.split("~")[0]  # the stamp tying the button to its question
    if key.startswith("t:"):  # a time button of the time step
        return datetime.fromisoformat(key[2:])
    return None


async def play(world: World, who: Address, script: list[tuple[str, object]], *, staff: bool, ignore: int | None):
    for kind, value in script:
        offered = [o.key for m in world.h.last if isinstance(m, Choice) for o in m.options]
        if kind == "press":
            if not offered:
                continue
            inbound: PressIn | TextIn = PressIn(offered[int(value) % len(offered)])  # type: ignore[call-overload]
        else:
            inbound = TextIn(str(value))
        await world.h.say(who, inbound, staff=staff)
        await world.check_options(staff=staff, ignore=ignore)
        if not staff:
            for chosen in await chosen_times(world.h, who):
                await world.check_offer(chosen, staff=False)


async def chosen_times(h: Harness, who: Address) -> list[datetime]:
    async with h.uow() as uow:
        state = await uow.conversations.load(who)
    frame = state.frame if state else None
    if frame is None or frame.flow != "request_audience":
        return []
    return [datetime.fromisoformat(v) for v in frame.answers.get("preferred_times") or []]


def request_answers(moment: datetime) -> dict[str, object]:
    return {"org_name": "Karang Taruna Maccini", "org_type": "karang_taruna", "rep_name": "Andi Rahmat",
            "rep_phone": "+6281234567890", "rep_position": "Ketua", "official": OFFICIAL,
            "subject": "Silaturahmi pengurus baru", "description": "Pelaporan pengurus baru organisasi",
            "attendees": 5, "preferred_times": [moment.isoformat()]}  # fmt: skip


async def scenario(blocks: list[tuple[int, str | None]], preferred: list[int], scripts: list[list]) -> World:
    async with harness("memory", START, Path("/nonexistent")) as h:
        world = World(h)
        async with h.uow() as uow:
            for offset, official in blocks:
                day = TODAY + timedelta(days=offset)
                await uow.days_off.add(DayOffEntry(official, day, "Agenda pejabat", "Petugas Protokol"))
                world.blocked.setdefault(day, set()).add(official)
            # Pending requests whose preferred times may clash: they must never block anything.
            ids = []
            for number, hours in enumerate(preferred):
                contact = Address("console", f"warga-{number}")
                moment = START + timedelta(days=2, hours=hours)
                request = await submit_request(uow, contact=contact, answers=request_answers(moment), now=START,
                                               tz=MAKASSAR)  # fmt: skip
                ids.append(request.id or 0)
            await uow.commit()
        # Staff approve each request through the approval flow, pressing and typing at random.
        for request_id, script in zip(ids, scripts[:REQUESTS], strict=False):
            await h.say(PROTOKOL, PressIn(f"g:approve:{request_id}"), staff=True)
            await world.check_options(staff=True, ignore=request_id)
            await play(world, PROTOKOL, [*script, ("press", 0), ("press", 0), ("press", 0)], staff=True,
                       ignore=request_id)  # fmt: skip
            await h.say(PROTOKOL, "/batal", staff=True)
            await h.say(PROTOKOL, "1", staff=True)
        # A representative at the time step of a new request, against the calendar those approvals left.
        rep = Address("console", "warga-new")
        async with h.uow() as uow:
            # The answers before the time step, so that a random walk reaching "Kirim" submits a whole request.
            answers = {k: v for k, v in request_answers(START).items() if k != "preferred_times"}
            frame = Frame("request_audience", "preferred_times", answers)
            await uow.conversations.save(rep, ConversationState(frames=(frame,)))
            await uow.commit()
        await h.say(rep, "/bantuan")
        await world.check_options(staff=False)
        await play(world, rep, scripts[-1], staff=False, ignore=None)
        await check_bookings(world)
        return world


async def check_bookings(world: World) -> None:
    """Approved audiences never overlap, never exceed the daily limit, and match their requests."""
    booked = await world.bookings()
    for b in booked:  # an accepted time (pressed or typed by staff) keeps the calendar like an offered one
        await world.check_offer(b.starts_at, staff=True, ignore=b.request_id)
    for a, b in itertools.combinations(booked, 2):
        assert clear(a.starts_at, b.starts_at), (a, b)
    per_day = Counter(b.starts_at.astimezone(MAKASSAR).date() for b in booked)
    assert all(count <= PER_DAY for count in per_day.values()), per_day
    async with world.h.uow() as uow:
        for b in booked:
            request = await uow.requests.get(b.request_id)
            assert request is not None and request.status in HOLDING
            assert request.scheduled_at == b.starts_at


# Buttons that end a staff proposal, in the order a hurried staff member presses them.
FINISHING = ("kirim usulan", "tunda", "selesai", "lewati")


async def finish(world: World, request_id: int) -> None:
    """Press through to the end of a proposal or postponement, checking every time offered on the way."""
    for _ in range(12):
        options = [o for m in world.h.last if isinstance(m, Choice) for o in m.options]
        if not options:
            return
        labels = {o.label.casefold(): o for o in options}
        pick = next((labels[label] for label in FINISHING if label in labels), options[0])
        await world.h.say(PROTOKOL, PressIn(pick.key), staff=True)
        await world.check_options(staff=True, ignore=request_id)
        if pick.label.casefold() in FINISHING[:2]:
            return


async def offered_to_representative(world: World, request_id: int, contact: Address, tap: int) -> None:
    """The times staff proposed, checked as they stand; the representative then taps one (or declines)."""
    async with world.h.uow() as uow:
        request = await uow.requests.get(request_id)
    assert request is not None
    if request.status not in (RequestStatus.COUNTER_OFFERED, RequestStatus.POSTPONED) or not request.proposed_times:
        return
    # Proposals hold no time: another request may have been approved since at a time that clashes with one.
    for moment in request.proposed_times:
        await world.check_offer(moment, staff=True, ignore=request_id, against_bookings=False)
    if tap < len(request.proposed_times):
        chosen = request.proposed_times[tap]
        taken = await world.clash(chosen.astimezone(MAKASSAR), request_id)
        await world.h.say(contact, PressIn(f"g:accept:{request_id}:{time_token(chosen)}"))
        async with world.h.uow() as uow:
            after = await uow.requests.get(request_id)
        assert after is not None
        # Taken meanwhile: refused, the offer stands; still free: approved at that time.
        assert (after.status, after.scheduled_at) == ((request.status, request.scheduled_at) if taken else
                                                      (RequestStatus.APPROVED, chosen)), taken  # fmt: skip


async def counter_offer_and_postpone(blocks: list[tuple[int, str | None]], first_hours: int,
                                     scripts: list[list], taps: list[int]) -> World:  # fmt: skip
    async with harness("memory", START, Path("/nonexistent")) as h:
        world = World(h)
        async with h.uow() as uow:
            for offset, official in blocks:
                day = TODAY + timedelta(days=offset)
                await uow.days_off.add(DayOffEntry(official, day, "Agenda pejabat", "Petugas Protokol"))
                world.blocked.setdefault(day, set()).add(official)
            ids = []
            for number in range(3):
                moment = START + timedelta(days=2, hours=first_hours + number)
                request = await submit_request(uow, contact=Address("console", f"warga-{number + 1}"),
                                               answers=request_answers(moment), now=START, tz=MAKASSAR)  # fmt: skip
                ids.append(request.id or 0)
            await uow.commit()
        contacts = {request_id: Address("console", f"warga-{number + 1}") for number, request_id in enumerate(ids)}
        # One audience approved with its first offered time, so that later offers have something to avoid.
        await h.say(PROTOKOL, PressIn(f"g:approve:{ids[0]}"), staff=True)
        await play(world, PROTOKOL, [("press", 0)] * 4, staff=True, ignore=ids[0])
        await h.say(PROTOKOL, "/batal", staff=True)
        await h.say(PROTOKOL, "1", staff=True)
        # Usulkan Waktu Lain for the second, pressing and typing at random, then tapped by the representative.
        for request_id, script, tap in ((ids[1], scripts[0], taps[0]), (ids[2], scripts[1], taps[1])):
            await h.say(PROTOKOL, PressIn(f"g:propose:{request_id}"), staff=True)
            await world.check_options(staff=True, ignore=request_id)
            await play(world, PROTOKOL, script, staff=True, ignore=request_id)
            await finish(world, request_id)
            await offered_to_representative(world, request_id, contacts[request_id], tap)
            await check_bookings(world)
        # The official postpones every approved audience: new times offered, checked, and tapped.
        for request_id, script, tap in zip(ids, scripts[2:], taps[2:], strict=False):
            async with h.uow() as uow:
                request = await uow.requests.get(request_id)
            if request is None or request.status is not RequestStatus.APPROVED:
                continue
            await h.say(PROTOKOL, PressIn(f"g:postpone:{request_id}"), staff=True)
            await h.say(PROTOKOL, "Wakil Wali Kota mendadak bertugas ke luar kota.", staff=True)
            await world.check_options(staff=True, ignore=request_id)
            await play(world, PROTOKOL, script, staff=True, ignore=request_id)
            await finish(world, request_id)
            await offered_to_representative(world, request_id, contacts[request_id], tap)
            await check_bookings(world)
        return world


@given(
    blocks=days_off,
    preferred=st.lists(st.integers(-1, 9), min_size=1, max_size=REQUESTS),
    scripts=st.lists(moves, min_size=REQUESTS + 1, max_size=REQUESTS + 1),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_offered_and_accepted_times_always_respect_the_calendar(
    blocks: list[tuple[int, str | None]], preferred: list[int], scripts: list[list]
) -> None:
    world = asyncio.run(scenario(blocks, preferred, scripts))
    assert world.checked > 0  # something was offered and checked in every conversation


@given(
    blocks=days_off,
    first_hours=st.integers(-1, 9),
    scripts=st.lists(moves, min_size=5, max_size=5),
    taps=st.lists(st.integers(0, 3), min_size=5, max_size=5),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_counter_offers_and_times_after_a_postponement_always_respect_the_calendar(
    blocks: list[tuple[int, str | None]], first_hours: int, scripts: list[list], taps: list[int]
) -> None:
    world = asyncio.run(counter_offer_and_postpone(blocks, first_hours, scripts, taps))
    assert world.checked > 0


def test_a_counter_offer_and_a_postponement_on_a_crowded_calendar() -> None:
    """A fixed example: the first free times proposed, accepted, then postponed and the new time accepted."""
    presses = [("press", 0), ("press", 0)]
    world = asyncio.run(counter_offer_and_postpone([(2, OFFICIAL), (3, None)], 0, [presses] * 5, [0] * 5))
    assert world.checked > 10


def test_a_crowded_calendar_is_still_respected() -> None:
    """A fixed, busy example: every request approved with the first offered time fills days in order."""
    scripts = [[("press", 0), ("press", 0), ("press", 0)] for _ in range(REQUESTS)]
    scripts.append([("press", 0), ("press", 0), ("press", 1), ("press", 1), ("say", "Selesai")])
    world = asyncio.run(scenario([(2, OFFICIAL), (3, None)], [0, 0, 1, 1], scripts))
    assert world.checked > 10
    assert START.astimezone(UTC).tzinfo is UTC
