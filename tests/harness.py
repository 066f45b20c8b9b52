"""A test harness: the real service over a chosen storage backend, a controllable clock, and the real catalogs."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.city_config import CityConfig, ConfiguredDirectory, load_city_config
from bot.i18n import load_catalogs
from bot.settings import PROJECT_ROOT
from handlers.availability import HolidayCalendar
from handlers.domain.model import Address, AudienceRequest
from handlers.i18n import Catalogs
from handlers.messages import Choice, Inbound, Notification, Outbound, TextIn, outbound_from_dict
from handlers.ports import UnitOfWork
from handlers.service import REPRESENTATIVE, STAFF, ConversationService, ServiceConfig
from handlers.suggestions import AvailabilitySuggester
from storage.database import async_url, create_engine, session_factory
from storage.directory_sync import sync_officials
from storage.migrate import upgrade_async
from storage.tables import OutboxRow
from storage.unit_of_work import SqlUnitOfWork
from tests.fakes.memory import FakeClock, MemoryDatabase

MAKASSAR = ZoneInfo("Asia/Makassar")
CITY_CONFIG = PROJECT_ROOT / "config" / "kota.toml"
POSTGRES_URL_VARIABLE = "AUDIENSI_TEST_POSTGRES_URL"
PROTOKOL = Address("console", "staf:protokol")
AJUDAN = Address("console", "staf:ajudan-wawali")
VIEWER = Address("console", "staf:umum")


_isolated_url: str | None = None
HOLIDAYS = HolidayCalendar.indonesia()  # shared: each year's holidays are computed once per test session


def postgres_url() -> str | None:
    """The PostgreSQL database of this test session (its own, so concurrent runs never meet)."""
    return _isolated_url or os.environ.get(POSTGRES_URL_VARIABLE) or None


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


async def create_session_database() -> str | None:
    """CREATE DATABASE audiensi_test_<pid>_<random> next to the configured one, and use it from now on."""
    global _isolated_url
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        return None
    name = f"audiensi_test_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    _isolated_url = make_url(async_url(base)).set(database=name).render_as_string(hide_password=False)
    return name


async def drop_session_database(name: str) -> None:
    global _isolated_url
    base = os.environ.get(POSTGRES_URL_VARIABLE) or ""
    _isolated_url = None
    await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reply_text(messages: Sequence[Outbound]) -> str:
    """What a person reads, as the console shows it (options numbered)."""
    parts: list[str] = []
    for message in messages:
        parts.append(message.body)
        if isinstance(message, Choice):
            parts.extend(f"{i}. {o.label}" for i, o in enumerate(message.options, start=1))
    return "\n".join(parts)


@dataclass
class Harness:
    service: ConversationService
    clock: FakeClock
    backend: str
    uow_factory: object
    engine: AsyncEngine | None = None
    memory: MemoryDatabase | None = None
    last: list[Outbound] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        return self.uow_factory()  # type: ignore[operator,no-any-return]

    async def say(self, who: Address, message: str | Inbound, *, staff: bool = False, files: bool = False) -> str:
        inbound = TextIn(message) if isinstance(message, str) else message
        self.last = await self.service.handle(
            who, inbound, persona=STAFF if staff else REPRESENTATIVE, supports_files=files
        )
        return reply_text(self.last)

    async def dialog(self, who: Address, script: Sequence[tuple[str | Inbound, str]], *, staff: bool = False) -> None:
        """Play a dialog as data: each input and a fragment the reply must contain."""
        for number, (said, expected) in enumerate(script, start=1):
            reply = await self.say(who, said, staff=staff)
            assert expected in reply, f"step {number}: after {said!r} expected {expected!r} in:\n{reply}"

    async def notifications(self, to: Address | None = None) -> list[Notification]:
        if self.memory is not None:
            found = self.memory.notifications
        else:
            assert self.engine is not None
            sessions = session_factory(self.engine)
            async with sessions() as session:
                rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().all()  # type: ignore[arg-type]
            found = [
                Notification(r.channel, r.external_id, r.kind,
                             tuple(outbound_from_dict(m) for m in r.payload["messages"]), r.request_id)
                for r in rows
            ]  # fmt: skip
        if to is None:
            return found
        return [n for n in found if (n.channel, n.external_id) == (to.channel, to.external_id)]

    async def requests_of(self, who: Address) -> list[AudienceRequest]:
        async with self.uow() as uow:
            return await uow.requests.list_for_contact(who)

    async def request(self, reference: str) -> AudienceRequest:
        async with self.uow() as uow:
            found = await uow.requests.get_by_reference(reference)
        assert found is not None, reference
        return found


@functools.cache
def _city_and_catalogs() -> tuple[CityConfig, Catalogs]:
    """Read once per test session: the city file and the catalogs do not change while tests run."""
    return load_city_config(CITY_CONFIG), load_catalogs(PROJECT_ROOT / "locales")


def build_service(uow_factory: object, clock: FakeClock) -> tuple[ConversationService, ConfiguredDirectory]:
    city, catalogs = _city_and_catalogs()
    directory = ConfiguredDirectory(city, [Address("console", f"staf:{m.key}") for m in city.staff])
    service = ConversationService(
        uow_factory=uow_factory,  # type: ignore[arg-type]
        clock=clock,
        catalogs=catalogs,
        directory=directory,
        config=ServiceConfig(city=city.city.name, tz=city.tz, max_attendees=city.city.max_attendees),
        suggester=AvailabilitySuggester(city.tz, city.calendar_rules(), HOLIDAYS),
    )
    return service, directory


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def empty_database_url(backend: str) -> str | None:
    """For "postgres", this session's PostgreSQL emptied; for "sqlite", None (the caller makes its own file)."""
    if backend != "postgres":
        return None
    url = postgres_url()
    assert url is not None
    await reset_postgres(url)
    return url


@asynccontextmanager
async def harness(
    backend: str, start: datetime, tmp_path: Path, sqlite_template: Path | None = None
) -> AsyncIterator[Harness]:
    clock = FakeClock(start)
    if backend == "memory":
        memory = MemoryDatabase()
        service, _ = build_service(memory.uow, clock)
        yield Harness(service, clock, backend, memory.uow, memory=memory)
        return
    if backend == "sqlite":
        db_file = tmp_path / "audiensi.db"
        if sqlite_template is not None:
            shutil.copy(sqlite_template, db_file)
        url = f"sqlite:///{db_file}"
        if sqlite_template is None:
            await upgrade_async(url)
    else:
        url = postgres_url() or ""
        await reset_postgres(url)
        await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock)

    service, directory = build_service(factory, clock)
    await sync_officials(sessions, directory.officials())
    try:
        yield Harness(service, clock, backend, factory, engine=engine)
    finally:
        await engine.dispose()
