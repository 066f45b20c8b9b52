"""The one composition root: settings in, a wired application out. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.letters import LetterFiles
from bot.channels.telegram import TelegramChannel, make_bot
from bot.channels.whatsapp import WhatsAppChannel, make_client
from bot.city_config import CityConfig, ConfiguredDirectory, load_city_config
from bot.clock import SystemClock
from bot.delivery import DeliveryGate
from bot.i18n import load_catalogs
from bot.settings import Settings
from handlers.domain.model import Address
from handlers.i18n import Catalogs
from handlers.ports import Clock, UnitOfWork
from handlers.service import ConversationService, ServiceConfig
from handlers.suggestions import AvailabilitySuggester
from storage.channel_messages import ChannelMessages
from storage.database import create_engine, session_factory
from storage.directory_sync import sync_officials
from storage.migrate import upgrade_async
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork
from storage.whatsapp_store import WhatsAppStore


@dataclass
class App:
    settings: Settings
    city: CityConfig
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    catalogs: Catalogs
    directory: ConfiguredDirectory
    service: ConversationService
    outbox: OutboxStore
    gate: DeliveryGate

    def new_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, self.clock)

    def telegram(self) -> TelegramChannel:
        """The Telegram channel (only when a token is configured)."""
        return TelegramChannel(
            self.service,
            make_bot(self.settings),
            self.outbox,
            ChannelMessages(self.sessions),
            self.clock,
            staff_chat_id=self.settings.telegram_staff_chat_id,
            gate=self.gate,
            files=LetterFiles(self.settings.files_dir, self.settings),
        )

    def whatsapp(self) -> WhatsAppChannel:
        """The WhatsApp channel (only when its access token, phone number id and app secret are configured)."""
        return WhatsAppChannel(
            self.service,
            make_client(self.settings),
            WhatsAppStore(self.sessions),
            self.outbox,
            self.clock,
            self.settings,
            gate=self.gate,
            files=LetterFiles(self.settings.files_dir, self.settings),
        )


def aide_addresses(settings: Settings, city: CityConfig) -> list[Address]:
    """Staff who act for some officials only (an ajudan) also get those officials' agendas in private."""
    addresses: list[Address] = []
    for member in city.staff:
        if not member.officials:
            continue
        if settings.telegram_enabled and member.telegram_user_id is not None:
            addresses.append(Address("telegram", str(member.telegram_user_id)))
        if settings.whatsapp_enabled and member.whatsapp_id:
            addresses.append(Address("whatsapp", member.whatsapp_id))
    return addresses


def staff_addresses(settings: Settings, city: CityConfig) -> list[Address]:
    """Where notices for staff go: the Telegram staff group and staff on WhatsApp; else each staff console."""
    addresses: list[Address] = []
    if settings.telegram_enabled and settings.telegram_staff_chat_id is not None:
        addresses.append(Address("telegram", str(settings.telegram_staff_chat_id)))
    if settings.whatsapp_enabled:
        addresses.extend(Address("whatsapp", m.whatsapp_id) for m in city.staff if m.whatsapp_id)
    return addresses or [Address("console", f"staf:{member.key}") for member in city.staff]


@asynccontextmanager
async def application(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> AsyncIterator[App]:
    city = load_city_config(settings.config_file)
    if migrate:
        await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        clock = clock or SystemClock()
        catalogs = load_catalogs(settings.locales_dir)
        directory = ConfiguredDirectory(city, staff_addresses(settings, city), aide_addresses(settings, city))
        await sync_officials(sessions, directory.officials())

        def uow_factory() -> UnitOfWork:
            return SqlUnitOfWork(sessions, clock)

        service = ConversationService(
            uow_factory=uow_factory,
            clock=clock,
            catalogs=catalogs,
            directory=directory,
            config=ServiceConfig(
                city=city.city.name,
                tz=city.tz,
                max_attendees=city.city.max_attendees,
                reminders=settings.reminder_policy(city.tz),
            ),
            suggester=AvailabilitySuggester(city.tz, city.calendar_rules()),
        )
        outbox = OutboxStore(sessions)
        gate = DeliveryGate(outbox, service.reminders.policy, clock, lost=service.report_reminder_lost)
        yield App(settings, city, engine, sessions, clock, catalogs, directory, service, outbox, gate)
    finally:
        await engine.dispose()
