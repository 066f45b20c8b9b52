"""Each kind is due and sent at the right local time in a city on WIB, WITA or WIT: the real flows (the request,
the staff approval), the use case planning the rows, and the console delivering them through the delivery gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.messages import PressIn
from storage.database import session_factory
from storage.outbox import OutboxStore
from tests import harness as harness_module
from tests.conftest import BACKENDS
from tests.harness import PROTOKOL, Harness, harness
from tests.integration.test_reminders import console
from tests.integration.test_request_dialog import HAPPY, REP

ZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}


@pytest.fixture(params=["WIB", "WITA", "WIT"])
def label(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[b for b in BACKENDS if b != "memory"])
async def zoned(
    request: pytest.FixtureRequest, label: str, tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    city, catalogs = harness_module._city_and_catalogs()
    moved = city.model_copy(update={"city": city.city.model_copy(update={"timezone": ZONES[label]})})
    monkeypatch.setattr(harness_module, "_city_and_catalogs", lambda: (moved, catalogs))
    start = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(ZONES[label]))  # Monday 23 November, 09.00 office time
    async with harness(request.param, start, tmp_path, sqlite_template) as built:
        yield built


async def test_each_message_goes_out_at_its_office_time(zoned: Harness, label: str) -> None:
    h, tz = zoned, ZoneInfo(ZONES[label])
    await h.dialog(REP, [(said, expected.replace("WITA", label)) for said, expected in HAPPY])
    [request] = await h.requests_of(REP)
    for said in (PressIn(f"g:open:{request.id}"), "Setujui", "2", "1", "1"):  # Monday 7 December 10.00
        await h.say(PROTOKOL, said, staff=True)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    seen: list[str] = []
    rep = console(h, outbox, seen)
    await rep.deliver_notices()  # the approval
    assert f"Senin, 7 Desember 2026 pukul 10.00 {label}" in seen[-1]
    seen.clear()

    async def at(day: int, hour: int, minute: int = 0) -> list[str]:
        h.clock.set(datetime(2026, 12, day, hour, minute, tzinfo=tz))
        await rep.deliver_notices()
        got = list(seen)
        seen.clear()
        return got

    assert await at(4, 8, 59) == []
    [day_before] = await at(4, 9, 0)  # Friday: the working day before
    assert "Pengingat, Bapak/Ibu: audiensi AUD-2026-000001" in day_before
    assert f"Senin, 7 Desember 2026 pukul 10.00 {label}" in day_before
    assert await at(7, 7, 59) == []
    [soon] = await at(7, 8, 0)
    assert "akan segera dimulai" in soon
    assert await at(7, 11, 59) == []
    [feedback] = await at(7, 12, 0)
    assert "Mohon beri penilaian dari 1 (kurang) sampai 5" in feedback

    # The agendas, in the same office time.
    planner = h.service.reminders
    for moment, made in ((datetime(2026, 12, 7, 6, 59, tzinfo=tz), 0), (datetime(2026, 12, 7, 7, 0, tzinfo=tz), 1)):
        async with h.uow() as uow:
            created = await planner.run_digests(uow, moment)
            await uow.commit()
        assert (created > 0) == bool(made)
    h.clock.set(datetime(2026, 12, 7, 7, 0, tzinfo=tz))
    staff_seen: list[str] = []
    await console(h, outbox, staff_seen, PROTOKOL).deliver_notices()
    assert any("Agenda hari ini, Senin, 7 Desember 2026: 1 audiensi." in text and "10.00 —" in text
               for text in staff_seen)  # fmt: skip


async def test_quiet_hours_are_the_office_night(zoned: Harness, label: str) -> None:
    h, tz = zoned, ZoneInfo(ZONES[label])
    await h.dialog(REP, [(said, expected.replace("WITA", label)) for said, expected in HAPPY])
    [request] = await h.requests_of(REP)
    outbox = OutboxStore(session_factory(h.engine))  # type: ignore[arg-type]
    seen: list[str] = []
    h.clock.set(datetime(2026, 11, 23, 21, 0, tzinfo=tz))  # 21.00 office time
    for said in (PressIn(f"g:reject:{request.id}"), "Jadwal Wakil Wali Kota penuh hingga akhir tahun.", "1"):
        await h.say(PROTOKOL, said, staff=True)
    await console(h, outbox, seen).deliver_notices()
    assert seen == []
    h.clock.set(datetime(2026, 11, 24, 6, 0, tzinfo=tz))
    await console(h, outbox, seen).deliver_notices()
    assert len(seen) == 1 and "tidak dapat dipenuhi" in seen[0]
