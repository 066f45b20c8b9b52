"""The WhatsApp channel (Business Cloud API): signed webhooks in, the same flows as Telegram, rendered for WhatsApp.

Receiving: the webhook checks X-Hub-Signature-256 on the raw body before parsing, stores each event (unique on its
id, so Meta's redeliveries are no-ops) and answers 200; a processor then handles the stored events. People are
keyed on the business-scoped user id when Meta gives one, else on the phone number (wa_id).

Sending: choices become reply buttons (≤ 3, titles ≤ 20), a list (≤ 10 rows), or numbered text beyond that.
Outside the 24-hour customer-service window only an approved template can be sent, so notices go as the
configured template there (and when Meta answers 131047). Throughput is paced: the account's rate overall, and
a small burst then about one message per 6 seconds to the same person.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter

from bot.channels.whatsapp_api import (
    GraphClient,
    GraphError,
    GraphUnavailableError,
    ListRow,
    ListSection,
    OutsideWindowError,
    RateLimitedError,
    UndeliverableError,
)
from bot.channels.whatsapp_text import clean_template_param, fit, split_message
from bot.delivery import DeliveryGate
from bot.settings import Settings
from handlers.domain.model import Address, FileRef
from handlers.i18n import N_
from handlers.messages import Choice, ContactIn, FileIn, Inbound, Outbound, PressIn, Text, TextIn
from handlers.ports import Clock
from handlers.service import REPRESENTATIVE, STAFF, ConversationService
from storage.outbox import OutboxItem, OutboxStore
from storage.whatsapp_store import InboxEvent, SentRecord, WhatsAppStore

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT, MAX_BUTTONS = 20, 3
ROW_TITLE_LIMIT, ROW_DESCRIPTION_LIMIT, MAX_ROWS = 24, 72, 10
UNREACHABLE = N_("WhatsApp number cannot receive messages")
MAX_DELIVERY_ATTEMPTS = 8


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Meta signs the exact raw body with the app secret; compare in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256="), expected)


def parse_webhook(payload: dict[str, Any]) -> list[InboxEvent]:
    """Messages and status events of a `whatsapp_business_account` webhook, each with its sender's key."""
    events: list[InboxEvent] = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            profiles = {}
            for contact in value.get("contacts") or []:
                key = contact.get("user_id") or contact.get("wa_id")
                if key:
                    profiles[contact.get("wa_id") or key] = contact
            for message in value.get("messages") or []:
                sender = message.get("from_user_id") or _user_id(profiles, message.get("from")) or message.get("from")
                if not sender or not message.get("id"):
                    continue
                events.append(InboxEvent(f"m:{message['id']}", str(sender), "message", message))
            for status in value.get("statuses") or []:
                recipient = status.get("recipient_user_id") or status.get("recipient_id") or ""
                if status.get("id") and status.get("status"):
                    events.append(InboxEvent(f"s:{status['id']}:{status['status']}", str(recipient), "status", status))
    return events


def _user_id(profiles: dict[str, Any], wa_id: str | None) -> str | None:
    contact = profiles.get(wa_id or "")
    return str(contact["user_id"]) if contact and contact.get("user_id") else None


class WhatsAppChannel:
    def __init__(
        self,
        service: ConversationService,
        client: GraphClient,
        store: WhatsAppStore,
        outbox: OutboxStore,
        clock: Clock,
        settings: Settings,
        *,
        gate: DeliveryGate | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.gate = gate  # quiet hours and past reminders, as for every channel
        assert settings.whatsapp_app_secret is not None
        self._app_secret = settings.whatsapp_app_secret.get_secret_value()
        self._verify_token = settings.whatsapp_verify_token
        self._template = settings.whatsapp_notice_template
        self._template_language = settings.whatsapp_template_language
        self._overall = AsyncLimiter(settings.whatsapp_messages_per_second, 1)
        self._per_person: dict[str, AsyncLimiter] = {}
        self._wake = asyncio.Event()

    # ---- webhook -----------------------------------------------------------------------------------------

    def verify(self, mode: str | None, token: str | None, challenge: str | None) -> str | None:
        """GET verification: the challenge when Meta presents our verify token, else None (403)."""
        if self._verify_token is None or mode != "subscribe" or token is None or challenge is None:
            return None
        if not hmac.compare_digest(token.encode(), self._verify_token.get_secret_value().encode()):
            return None
        return challenge

    async def receive(self, body: bytes, signature: str | None) -> int:
        """POST: the HTTP status to answer. Nothing is parsed or stored unless the signature is right."""
        if not signature_valid(body, signature, self._app_secret):
            log.warning("WhatsApp webhook with a missing or wrong signature refused")
            return 403
        try:
            payload = json.loads(body)
        except ValueError:
            return 400
        if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
            return 400
        if await self.store.store(parse_webhook(payload), self.clock.now()):
            self._wake.set()
        return 200

    # ---- processing stored events ------------------------------------------------------------------------

    async def process_pending(self, limit: int = 20) -> int:
        events = await self.store.claim(limit)
        for event in events:
            assert event.id is not None
            try:
                state = await self._process(event)
            except Exception as error:  # one bad event must not stop the others
                log.exception("WhatsApp event %s could not be handled", event.event_id)
                await self.store.finish(event.id, "failed", self.clock.now(), repr(error))
                continue
            await self.store.finish(event.id, state, self.clock.now())
        return len(events)

    async def run_processing(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                while await self.process_pending():
                    pass
            except Exception:
                log.exception("WhatsApp processing round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    async def _process(self, event: InboxEvent) -> str:
        if event.kind == "status":
            await self._on_status(event.payload)
            return "done"
        address = Address(CHANNEL, event.sender)
        inbound = await self._inbound(event.payload)
        if inbound is None:
            t = self.service.translator()
            note = t(
                "Sorry, we cannot read this kind of message. Please reply with text, a button, or a PDF or "
                "photo of your letter."
            )
            await self.send_replies(address, [Text(note)])
            return "unsupported"
        persona = STAFF if self.service.staff_for(address) else REPRESENTATIVE
        replies = await self.service.handle(
            address, inbound, persona=persona, supports_files=True, event_id=event.event_id
        )
        await self.send_replies(address, replies)
        return "done"

    async def _inbound(self, message: dict[str, Any]) -> Inbound | None:
        kind = message.get("type")
        if kind == "text":
            return TextIn(str((message.get("text") or {}).get("body", "")))
        if kind == "interactive":
            interactive = message.get("interactive") or {}
            reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
            return PressIn(str(reply["id"])) if reply.get("id") else None
        if kind == "button":  # a quick-reply button on a template
            payload = (message.get("button") or {}).get("payload")
            return PressIn(str(payload)) if payload else None
        if kind in ("document", "image"):
            media = message.get(kind) or {}
            info = await self.client.get_media_url(str(media["id"]))
            default_name = "foto.jpg" if kind == "image" else "dokumen"
            name = str(media.get("filename") or default_name)
            mime = str(media.get("mime_type") or info.mime_type)
            return FileIn(FileRef(CHANNEL, str(media["id"]), name, mime, int(info.file_size or 0)))
        if kind == "contacts":
            contacts = message.get("contacts") or []
            phones = contacts[0].get("phones") if contacts else None
            if phones:
                return ContactIn(str(phones[0].get("phone") or phones[0].get("wa_id") or ""))
        return None

    async def _on_status(self, status: dict[str, Any]) -> None:
        errors = status.get("errors") or []
        code = int(errors[0]["code"]) if errors and str(errors[0].get("code", "")).isdigit() else None
        record = await self.store.record_status(str(status["id"]), str(status["status"]), code, self.clock.now())
        if record is None or status.get("status") != "failed":
            return
        log.info("WhatsApp message %s failed with code %s", record.kind, code)
        if code == 131047 and not record.template and record.outbox_id is not None:
            # Delivered late and outside the window: send the notice again as the approved template.
            t = self.service.translator()
            notice = t("You have a new notice about your audience request.")
            await self._send_template(record.recipient, record.kind, record.request_id, record.outbox_id, notice)
        elif code == 131026:
            await self.service.report_unreachable(Address(CHANNEL, record.recipient), UNREACHABLE, record.request_id)

    # ---- sending -----------------------------------------------------------------------------------------

    def plan(self, messages: Sequence[Outbound]) -> list[Outbound]:
        """Fewer, fuller messages: texts in a row are joined, and a text before a choice becomes its body."""
        planned: list[Outbound] = []
        for message in messages:
            previous = planned[-1] if planned else None
            if isinstance(previous, Text) and not isinstance(previous, Choice):
                if isinstance(message, Choice):
                    joined = f"{previous.body}\n\n{message.body}"
                    if len(joined) <= INTERACTIVE_BODY_LIMIT:
                        planned[-1] = Choice(joined, message.options, message.hint)
                        continue
                elif len(previous.body) + len(message.body) + 2 <= TEXT_LIMIT:
                    planned[-1] = Text(f"{previous.body}\n\n{message.body}")
                    continue
            planned.append(message if isinstance(message, Choice) else Text(message.body))
        return planned

    async def send_replies(self, address: Address, messages: Sequence[Outbound]) -> None:
        planned = self.plan(messages)
        for index, message in enumerate(planned):
            try:
                await self.send(address.external_id, message)
            except (GraphUnavailableError, RateLimitedError):
                log.warning("WhatsApp unavailable; %s replies queued", len(planned) - index)
                await self.service.owe(address, planned[index:])
                return
            except UndeliverableError:
                await self.service.report_unreachable(address, UNREACHABLE, None)
                return

    async def send(
        self,
        to: str,
        message: Outbound,
        *,
        outbox_id: int | None = None,
        request_id: int | None = None,
        kind: str = "reply",
    ) -> None:
        t = self.service.translator()
        if isinstance(message, Choice) and message.options:
            body = message.body
            if len(body) > INTERACTIVE_BODY_LIMIT:
                for part in split_message(body, TEXT_LIMIT):
                    await self._paced(to, self.client.send_text(to, part), outbox_id, request_id, kind)
                body = t("Please choose:")
            options = message.options
            if len(options) <= MAX_BUTTONS and all(len(o.label) <= BUTTON_TITLE_LIMIT for o in options):
                buttons = [(o.key, o.label) for o in options]
                await self._paced(to, self.client.send_buttons(to, body, buttons), outbox_id, request_id, kind)
                return
            if len(options) <= MAX_ROWS:
                rows = [
                    ListRow(
                        o.key,
                        fit(o.label, ROW_TITLE_LIMIT),
                        fit(o.description or (o.label if len(o.label) > ROW_TITLE_LIMIT else ""), ROW_DESCRIPTION_LIMIT)
                        or None,
                    )
                    for o in options
                ]
                section = ListSection(None, rows)
                label = fit(t("Choose"), BUTTON_TITLE_LIMIT)
                await self._paced(to, self.client.send_list(to, body, label, [section]), outbox_id, request_id, kind)
                return
            numbered = "\n".join(f"{n}. {o.label}" for n, o in enumerate(options, start=1))
            text = f"{message.body}\n\n{numbered}\n{t('(Type the number of your choice.)')}"
            for part in split_message(text, TEXT_LIMIT):
                await self._paced(to, self.client.send_text(to, part), outbox_id, request_id, kind)
            return
        for part in split_message(message.body, TEXT_LIMIT):
            await self._paced(to, self.client.send_text(to, part), outbox_id, request_id, kind)

    async def _paced(self, to: str, sending: Any, outbox_id: int | None, request_id: int | None, kind: str) -> str:
        # Meta's pair rate: a burst (about 45) to one person, then about one message per 6 seconds.
        limiter = self._per_person.setdefault(to, AsyncLimiter(45, 45 * 6))
        try:
            async with self._overall, limiter:
                wamid: str = await sending
        except BaseException:
            if asyncio.iscoroutine(sending):
                sending.close()
            raise
        await self.store.record_sent(SentRecord(wamid, to, outbox_id, request_id, kind, False), self.clock.now())
        return wamid

    async def _send_template(
        self, to: str, kind: str, request_id: int | None, outbox_id: int | None, summary: str
    ) -> str:
        reference = await self._reference(request_id)
        parameters = [clean_template_param(reference), clean_template_param(fit(summary, 600))]
        async with self._overall:
            wamid = await self.client.send_template(
                to, self._template, self._template_language, parameters, button_payloads=["g:status"]
            )
        await self.store.record_sent(SentRecord(wamid, to, outbox_id, request_id, kind, True), self.clock.now())
        return wamid

    async def _reference(self, request_id: int | None) -> str:
        if request_id is None:
            return "-"
        async with self.service.unit_of_work() as uow:
            request = await uow.requests.get(request_id)
        return request.reference if request else "-"

    # ---- delivering the outbox ---------------------------------------------------------------------------

    async def deliver_due(self, limit: int = 30) -> int:
        items = await self.outbox.claim(self.clock.now(), channel=CHANNEL, limit=limit)
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _window_open(self, recipient: str) -> bool:
        last = await self.store.last_inbound(recipient)
        return last is not None and self.clock.now() - last < WINDOW

    async def _deliver(self, item: OutboxItem) -> None:
        if self.gate is not None and not await self.gate.allow(item):
            return
        now = self.clock.now()
        try:
            if await self._window_open(item.external_id):
                try:
                    for message in self.plan(item.messages):
                        await self.send(
                            item.external_id, message, outbox_id=item.id, request_id=item.request_id, kind=item.kind
                        )
                except OutsideWindowError:
                    await self._send_template(
                        item.external_id, item.kind, item.request_id, item.id, _summary(item.messages)
                    )
            else:
                await self._send_template(
                    item.external_id, item.kind, item.request_id, item.id, _summary(item.messages)
                )
        except RateLimitedError as error:
            delay = 6 if error.code == 131056 else min(300, 2**item.attempts)
            await self.outbox.mark_failed(
                item.id, f"rate limited ({error.code})", retry_at=now + timedelta(seconds=delay)
            )
            return
        except GraphUnavailableError as error:
            if item.attempts >= MAX_DELIVERY_ATTEMPTS:
                await self.outbox.mark_failed(item.id, f"unavailable after {item.attempts} attempts ({error.status})")
            else:
                await self.outbox.mark_failed(
                    item.id,
                    f"unavailable ({error.status})",
                    retry_at=now + timedelta(seconds=min(300, 2**item.attempts)),
                )
            return
        except UndeliverableError as error:
            await self.outbox.mark_failed(item.id, f"undeliverable ({error.code})")
            await self.service.report_unreachable(Address(CHANNEL, item.external_id), UNREACHABLE, item.request_id)
            return
        except GraphError as error:
            await self.outbox.mark_failed(item.id, f"graph error {error.code}: {error.message}"[:300])
            return
        await self.outbox.mark_sent(item.id, now)

    async def run_delivery(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:
                log.exception("WhatsApp delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def _summary(messages: Sequence[Outbound]) -> str:
    """The notice in one line, for a template parameter (no line breaks allowed there)."""
    return " ".join(" ".join(m.body.split()) for m in messages)


def make_client(settings: Settings) -> GraphClient:
    assert settings.whatsapp_access_token is not None and settings.whatsapp_phone_number_id is not None
    return GraphClient(
        settings.whatsapp_graph_base_url,
        settings.whatsapp_api_version,
        settings.whatsapp_phone_number_id,
        settings.whatsapp_access_token.get_secret_value(),
    )
