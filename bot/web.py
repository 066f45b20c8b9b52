"""The web process: the Telegram and WhatsApp webhooks and a health check. FastAPI, one app factory."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import text
from telegram import Update

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Meta's webhook payloads are at most 3 MB; a larger body is not Meta's and is not read into memory.
MAX_WEBHOOK_BYTES = 4 * 1024 * 1024


class NoQueryStrings(logging.Filter):
    """Access-log lines without query strings: Meta's webhook verification carries our verify token in one
    (``?hub.verify_token=…``), and a query string is no business of a log anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client address, method, path with query, HTTP version, status code)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_query_strings() -> None:
    """Install the filter on uvicorn's access logger (after uvicorn has configured its logging)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryStrings) for f in access.filters):
        access.addFilter(NoQueryStrings())


def create_web_app(
    app: App,
    telegram: TelegramChannel | None,
    *,
    deliver: bool = True,
    whatsapp: WhatsAppChannel | None = None,
    telegram_webhook: bool = True,
) -> FastAPI:
    """`telegram`: the channel whose outbox this process delivers (with `deliver`) and, with `telegram_webhook`,
    whose updates arrive at /telegram/webhook. Polling (`audiensi run` without a webhook URL) serves this app for
    WhatsApp with `telegram_webhook=False`: the route then answers 404, as it does without a non-empty secret."""
    secret = app.settings.telegram_webhook_secret
    webhook_secret = secret.get_secret_value() if secret is not None and telegram_webhook else ""

    @asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        if telegram is not None and deliver:
            tasks.append(asyncio.create_task(telegram.run_delivery(stop)))
        if whatsapp is not None:
            tasks.append(asyncio.create_task(whatsapp.run_processing(stop)))
            if deliver:
                tasks.append(asyncio.create_task(whatsapp.run_delivery(stop)))
        yield
        stop.set()
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    web = FastAPI(title="Audiensi", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @web.get("/healthz")
    async def health() -> dict[str, str]:
        async with app.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    @web.post("/telegram/webhook")
    async def telegram_updates(request: Request) -> Response:
        if telegram is None or not webhook_secret:
            return Response(status_code=404)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), webhook_secret.encode()):
            log.warning("webhook request with a wrong or missing secret token refused")
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):  # [], 1, null: valid JSON, but no update
                return Response(status_code=400)
            update = Update.de_json(data, telegram.bot)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        if update is None:
            return Response(status_code=400)
        await telegram.process(update)
        return Response(status_code=200)

    @web.get("/whatsapp/webhook")
    async def whatsapp_verify(request: Request) -> Response:
        if whatsapp is None:
            return Response(status_code=404)
        query = request.query_params
        challenge = whatsapp.verify(query.get("hub.mode"), query.get("hub.verify_token"), query.get("hub.challenge"))
        if challenge is None:
            return Response(status_code=403)
        return PlainTextResponse(challenge)

    @web.post("/whatsapp/webhook")
    async def whatsapp_webhook(request: Request) -> Response:
        if whatsapp is None:
            return Response(status_code=404)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_WEBHOOK_BYTES:
            return Response(status_code=413)
        body = bytearray()
        async for chunk in request.stream():  # without a length (chunked), counted as it comes
            body += chunk
            if len(body) > MAX_WEBHOOK_BYTES:
                return Response(status_code=413)
        status = await whatsapp.receive(bytes(body), request.headers.get("X-Hub-Signature-256"))
        return Response(status_code=status)

    return web
