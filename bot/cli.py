"""`audiensi` / `python -m bot`: run the bot, open the console, migrate, manage catalogs, check configuration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from contextlib import suppress
from typing import Any

from bot import calendar_admin
from bot.bootstrap import App, application
from bot.channels.console import ConsoleChannel
from bot.channels.letters import LetterFiles
from bot.channels.telegram import TelegramChannel
from bot.city_config import ConfigError, load_city_config
from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from handlers.domain.model import Address, Permission
from handlers.i18n import N_, Translator
from handlers.ports import ScheduledMessage
from handlers.service import REPRESENTATIVE, STAFF
from storage import migrate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiensi", description="Audiensi — audience requests for city halls.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run everything in one process (console when no chat channel is configured)")
    chat = commands.add_parser("chat", help="open the console channel")
    chat.add_argument("--staf", nargs="?", const="", metavar="KODE", help="as staff (optionally: staff key)")
    chat.add_argument("--pengguna", default="warga", help="console user id (to try several representatives)")
    commands.add_parser("migrate", help="apply database migrations")
    down = commands.add_parser("downgrade", help="revert database migrations")
    down.add_argument("revision", nargs="?", default="-1")
    commands.add_parser("release", help="release phase: migrations and catalog compilation")
    i18n = commands.add_parser("i18n", help="translation catalogs")
    i18n.add_argument("action", choices=["update", "compile", "check"])
    commands.add_parser("check-config", help="validate the city's configuration file")
    calendar_admin.add_arguments(commands)
    commands.add_parser("worker", help="the scheduler: reminders, digests and queued messages")
    messages = commands.add_parser("messages", help="scheduled and recent messages of a request")
    messages.add_argument("reference", help="e.g. AUD-2026-000001")
    web = commands.add_parser("web", help="the web process: Telegram webhook and health check")
    web.add_argument("--host", default="0.0.0.0")
    web.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    telegram = commands.add_parser("telegram", help="Telegram webhook registration")
    telegram.add_argument("action", choices=["set-webhook", "delete-webhook"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    command = args.command or "run"
    try:
        if command == "migrate":
            migrate.upgrade(settings.database_url)
        elif command == "downgrade":
            migrate.downgrade(settings.database_url, args.revision)
        elif command == "release":
            from bot import i18n

            migrate.upgrade(settings.database_url)
            i18n.compile_all(PROJECT_ROOT)
        elif command == "i18n":
            return _i18n(args.action)
        elif command == "check-config":
            config = load_city_config(settings.config_file)
            print(f"OK: {config.city.name}, {len(config.officials)} official(s), {len(config.staff)} staff")
        elif command == "chat":
            asyncio.run(_chat(settings, staff=args.staf, user=args.pengguna))
        elif command == "run":
            asyncio.run(_run(settings))
        elif command == "libur":
            return calendar_admin.run(settings, args)
        elif command == "worker":
            asyncio.run(_worker(settings))
        elif command == "messages":
            return asyncio.run(_messages(settings, args.reference))
        elif command == "web":
            asyncio.run(_web(settings, args.host, args.port))
        elif command == "telegram":
            asyncio.run(_telegram_webhook(settings, args.action))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def configure_logging(level: str) -> None:
    """The log format and level; libraries that would log what people wrote are kept above DEBUG."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry the bot token in the URL
    # At DEBUG python-telegram-bot logs every request's parameters (message texts, names, phone numbers),
    # aiosqlite every statement's (the conversation's answers) and httpcore its traffic: never below INFO,
    # whatever AUDIENSI_LOG_LEVEL says.
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in ("telegram", "httpcore", "aiosqlite"):
        logging.getLogger(name).setLevel(floor)


def _i18n(action: str) -> int:
    from bot import i18n

    if action == "update":
        i18n.update(PROJECT_ROOT)
    elif action == "compile":
        i18n.compile_all(PROJECT_ROOT)
    else:
        problems = i18n.check(PROJECT_ROOT)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print("catalogs OK")
    return 0


async def _chat(settings: Settings, *, staff: str | None, user: str) -> None:
    # Logs go to stderr at WARNING in the console so they do not interleave with the conversation.
    logging.getLogger().setLevel(logging.WARNING)
    async with application(settings) as app:
        if staff is None:
            address, persona = Address("console", user), REPRESENTATIVE
        else:
            members = [m for m in app.directory.staff() if not staff or m.key == staff]
            deciders = [m for m in members if any(Permission.DECIDE in r.permissions for r in m.roles)]
            chosen = next(iter(deciders or members), None)
            if chosen is None:
                raise ConfigError(f"no staff member {staff!r} in {settings.config_file}")
            address, persona = Address("console", f"staf:{chosen.key}"), STAFF
        channel = ConsoleChannel(
            app.service, app.outbox, app.clock.now, address=address, persona=persona, gate=app.gate,
            files=LetterFiles(app.settings.files_dir),
        )  # fmt: skip
        await channel.run()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signame in ("SIGINT", "SIGTERM"):
        with suppress(NotImplementedError):
            loop.add_signal_handler(getattr(signal, signame), stop.set)
    return stop


async def _run(settings: Settings) -> None:
    """Everything in one process: the configured chat channels (else the console) and the scheduler's jobs.

    Telegram polls (one process per token) unless a webhook URL is set; WhatsApp always arrives by webhook, so
    the web app is served whenever WhatsApp or a Telegram webhook is configured.
    """
    from bot.worker import Worker, single_worker_on_sqlite

    if settings.telegram_enabled and settings.telegram_webhook_url:
        _require_webhook_secret(settings)
    with single_worker_on_sqlite(settings.database_url):
        if not settings.telegram_enabled and not settings.whatsapp_enabled:
            # The console: migrations' and the worker's INFO lines would come before and between the conversation.
            logging.getLogger().setLevel(logging.WARNING)
            async with application(settings) as app:
                stop = asyncio.Event()
                scheduler = asyncio.create_task(Worker(app, None).run(stop, settings.worker_interval_seconds))
                try:
                    await _chat(settings, staff=None, user="warga")
                finally:
                    stop.set()
                    await scheduler
            return
        polling = settings.telegram_enabled and not settings.telegram_webhook_url
        serve = settings.whatsapp_enabled or (settings.telegram_enabled and not polling)
        async with application(settings) as app:
            telegram = app.telegram() if settings.telegram_enabled else None
            stop = _stop_on_signals()
            jobs: list[Coroutine[Any, Any, None]] = []
            if telegram is not None:
                await telegram.bot.initialize()
                await telegram.setup()
                if polling:
                    jobs.append(telegram.run_polling(stop))
                if not serve:  # the web app's lifespan delivers otherwise; the worker's round is every 15 s
                    jobs.append(telegram.run_delivery(stop))
            jobs.append(Worker(app, telegram).run(stop, settings.worker_interval_seconds))
            if serve:
                host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000"))
                # Polling: the web app is for WhatsApp; its Telegram webhook route stays closed (404).
                jobs.append(_serve(app, telegram, stop, host, port, telegram_webhook=not polling))
            running = ", ".join(name for name, on in (("Telegram polling", polling), ("web", serve)) if on)
            logging.getLogger(__name__).info("Audiensi running: %s, worker", running)
            try:
                await asyncio.gather(*jobs)
            finally:
                if telegram is not None:
                    await telegram.bot.shutdown()


async def _worker(settings: Settings) -> None:
    from bot.worker import Worker, single_worker_on_sqlite

    with single_worker_on_sqlite(settings.database_url):
        async with application(settings) as app:
            channel = app.telegram() if settings.telegram_enabled else None
            whatsapp = app.whatsapp() if settings.whatsapp_enabled else None
            stop = _stop_on_signals()
            logging.getLogger(__name__).info("worker started (every %s s)", settings.worker_interval_seconds)
            async with contextlib.AsyncExitStack() as clients:
                if whatsapp is not None:
                    await clients.enter_async_context(whatsapp.client)
                if channel is None:
                    await Worker(app, None, whatsapp).run(stop, settings.worker_interval_seconds)
                    return
                async with channel.bot:
                    await Worker(app, channel, whatsapp).run(stop, settings.worker_interval_seconds)


# How a message's state reads for staff; the stored word follows in brackets (what the logs and the database say).
STATE_NAMES = {"pending": N_("scheduled"), "sending": N_("being sent"), "sent": N_("sent"), "failed": N_("failed"),
               "skipped": N_("skipped"), "cancelled": N_("cancelled")}  # fmt: skip


async def _messages(settings: Settings, reference: str) -> int:
    """Scheduled and recent messages of one request, for staff: what, to whom, when, how it went."""
    async with application(settings, migrate=False) as app:
        t = app.service.translator()
        async with app.new_uow() as uow:
            request = await uow.requests.get_by_reference(reference.strip().upper())
            if request is None or request.id is None:
                print(t("That request was not found."), file=sys.stderr)
                return 1
            rows = await uow.outbox.for_request(request.id)
        print(t("Messages for {reference}:", reference=request.reference))
        if not rows:
            print(t("No messages."))
            return 0
        for line in message_table(rows, t):
            print(line)
        return 0


def message_table(rows: Sequence[ScheduledMessage], t: Translator) -> list[str]:
    """One line per message under a header: number, kind, recipient, state (in words, the stored state in
    brackets), due or sent time, attempts, and the last error or reason."""
    table = [[t("No."), t("Kind"), t("Recipient"), t("State"), t("Due / sent"), t("Attempts"), t("Note")]]
    for row in rows:
        moment = row.sent_at if row.sent_at else row.due_at
        state = f"{t(STATE_NAMES[row.state])} [{row.state}]" if row.state in STATE_NAMES else row.state
        table.append([str(row.id), row.kind, f"{row.channel}:{row.external_id}", state, t.datetime(moment),
                      str(row.attempts), row.last_error or "-"])  # fmt: skip
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]) - 1)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)) + "  " + cells[-1]
            for cells in table]  # fmt: skip


async def _serve(
    app: App, telegram: TelegramChannel | None, stop: asyncio.Event, host: str, port: int, *,
    telegram_webhook: bool = True,
) -> None:  # fmt: skip
    """The web app (webhooks, health; its lifespan runs the delivery and processing loops) until `stop`."""
    import uvicorn

    from bot.web import create_web_app, quiet_query_strings

    whatsapp = app.whatsapp() if app.settings.whatsapp_enabled else None
    web = create_web_app(app, telegram, whatsapp=whatsapp, telegram_webhook=telegram_webhook)
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="info"))
    quiet_query_strings()  # the access log keeps paths, never query strings (Meta's verify token travels in one)
    async with contextlib.AsyncExitStack() as resources:
        if whatsapp is not None:
            await resources.enter_async_context(whatsapp.client)
        watcher = asyncio.create_task(stop.wait())
        serving = asyncio.create_task(server.serve())
        await asyncio.wait({watcher, serving}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        watcher.cancel()


def _require_webhook_secret(settings: Settings) -> None:
    """Telegram webhook requests without the secret are refused: without one set, every update would be."""
    if settings.telegram_webhook_secret is None or not settings.telegram_webhook_secret.get_secret_value():
        raise ConfigError(
            "AUDIENSI_TELEGRAM_WEBHOOK_SECRET is not set: the Telegram webhook refuses every request without it, "
            "so the bot would receive nothing. Set it (letters, digits, _ and -, up to 256 characters), then run "
            "`audiensi telegram set-webhook` again."
        )


async def _web(settings: Settings, host: str, port: int) -> None:
    if settings.telegram_enabled:
        _require_webhook_secret(settings)
    async with application(settings) as app:
        telegram = app.telegram() if settings.telegram_enabled else None
        if telegram is not None:
            await telegram.bot.initialize()
            await telegram.setup()
        try:
            await _serve(app, telegram, asyncio.Event(), host, port)
        finally:
            if telegram is not None:
                await telegram.bot.shutdown()


async def _telegram_webhook(settings: Settings, action: str) -> None:
    if not settings.telegram_enabled:
        raise ConfigError("AUDIENSI_TELEGRAM_TOKEN is not set")
    if action == "set-webhook":
        if not settings.telegram_webhook_url:
            raise ConfigError("set AUDIENSI_TELEGRAM_WEBHOOK_URL and AUDIENSI_TELEGRAM_WEBHOOK_SECRET first")
        _require_webhook_secret(settings)
    from bot.channels.telegram import make_bot, setup_bot
    from bot.i18n import load_catalogs

    city = load_city_config(settings.config_file)
    t = load_catalogs(settings.locales_dir).translator("id", city.tz)
    async with make_bot(settings) as bot:
        if action == "delete-webhook":
            await bot.delete_webhook()
            print("webhook deleted")
            return
        assert settings.telegram_webhook_url and settings.telegram_webhook_secret is not None
        await bot.set_webhook(
            url=settings.telegram_webhook_url,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=["message", "callback_query"],
        )
        await setup_bot(bot, t, settings.telegram_staff_chat_id)
        print("webhook set")
