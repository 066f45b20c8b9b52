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
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter

from bot.channels.letters import REFUSED, LetterFiles, LetterUnavailable, caption, is_image
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
from bot.channels.whatsapp_text import clean_template_param, fit, split_message, unique_titles
from bot.delivery import DeliveryGate
from bot.settings import Settings
from handlers.domain.model import Address, FileRef
from handlers.flows.request_audience import ACCEPTED_LETTER_TYPES
from handlers.i18n import N_
from handlers.messages import Choice, ContactIn, Document, FileIn, Inbound, Outbound, PressIn, Text, TextIn
from handlers.ports import Clock
from handlers.service import REPRESENTATIVE, STAFF, ConversationService, ServiceConfig
from storage.outbox import OutboxItem, OutboxStore
from storage.whatsapp_store import MAX_EVENT_ID, MAX_KEY, InboxEvent, MediaFiles, SentRecord, WhatsAppStore

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT, MAX_BUTTONS = 20, 3
ROW_TITLE_LIMIT, ROW_DESCRIPTION_LIMIT, MAX_ROWS = 24, 72, 10
UNREACHABLE = N_("WhatsApp number cannot receive messages")
MAX_DELIVERY_ATTEMPTS = 8
# Meta's pair rate: a burst (about 45) to one person, then about one message per 6 seconds.
PAIR_BURST, PAIR_SECONDS = 45, 6.0
MAX_LETTER_BYTES = ServiceConfig.max_file_bytes  # the letter step's limit, as on Telegram
SEND_AGAIN = N_("Sorry, we could not receive your file. Please send it again.")
TRY_AGAIN = N_("Sorry, we could not process your message. Please send it again.")
RECEIPT_TRIES = 3  # a failure receipt for a message we have no record of: looked at again twice, then kept as is
EMPTY_NOTICE = N_("You have a new notice about your audience request.")
MAX_RECORDED_BODY = 100_000  # of a signed body that is not JSON, what is kept
LETTER_LATER = N_("{caption}. WhatsApp lets us send files only within 24 hours of your last message: press the "
                  "button below, then “View letter”.")  # fmt: skip


class _Parts:
    """The parts of one outbox row in the order they are sent; those Meta already accepted are skipped."""

    def __init__(self, done: set[int]) -> None:
        self.done = done
        self._next = 0

    def take(self) -> tuple[int, bool]:
        """The next part's number, and whether it was sent already."""
        index, self._next = self._next, self._next + 1
        return index, index in self.done

    def next_done(self) -> bool:
        return self._next in self.done


class ReceiptTooEarly(LookupError):
    """A failure receipt for a message we have not recorded yet (Meta's webhook overtook our record)."""


class MalformedWebhook(ValueError):
    """A part of a signed webhook that is not shaped like Meta's (recorded, not acted on)."""


class MediaUnavailable(Exception):
    """The media of a message cannot be fetched from the Graph API (gone, refused, or not given)."""


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Meta signs the exact raw body with the app secret; compare in constant time (as bytes: a header with
    characters outside ASCII is simply wrong, never an error)."""
    if not header:
        return False
    try:
        given = header.encode("ascii")
    except UnicodeEncodeError:
        return False
    if not given.startswith(b"sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode("ascii")
    return hmac.compare_digest(given.removeprefix(b"sha256="), expected)


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedWebhook(f"{what} is not a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{what} is not an object")
    return value


def _recorded(prefix: str, content: Any, **why: Any) -> InboxEvent:
    """Something we do not act on (another webhook field, errors, another phone number's events, a part not
    shaped like Meta's, an id too long to be one): kept as it came, with why."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    return InboxEvent(f"{prefix}:{digest}", "", "other", {"recorded": content, **why})


def parse_webhook(payload: dict[str, Any], phone_number_id: str | None = None) -> list[InboxEvent]:
    """Messages and status events of a `whatsapp_business_account` webhook, each with its sender's key.

    Recorded instead (kind "other", never acted on): other fields, `value.errors`, the events of another
    business phone number than `phone_number_id` (an app may serve several; a webhook for one of them must
    not be answered from ours), and any part not shaped like Meta's or with an id longer than we keep — so
    one odd part never costs the rest of the batch."""
    events: list[InboxEvent] = []
    for entry in _list_or_recorded(payload.get("entry"), "entry", events):
        if not isinstance(entry, dict):
            events.append(_recorded("x", entry, unreadable="entry is not an object"))
            continue
        for change in _list_or_recorded(entry.get("changes"), "changes", events):
            try:
                events += _change_events(_dict(change, "change"), phone_number_id)
            except MalformedWebhook as error:
                events.append(_recorded("x", change, unreadable=str(error)))
    return events


def _list_or_recorded(value: Any, what: str, events: list[InboxEvent]) -> list[Any]:
    try:
        return _list(value, what)
    except MalformedWebhook as error:
        events.append(_recorded("x", value, unreadable=str(error)))
        return []


def _change_events(change: dict[str, Any], phone_number_id: str | None) -> list[InboxEvent]:
    events: list[InboxEvent] = []
    value = _dict(change.get("value") or {}, "value")
    if change.get("field", "messages") != "messages":
        return [_recorded("x", change)]
    metadata = value.get("metadata")
    ours = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if phone_number_id is not None and str(ours) != phone_number_id:
        log.warning("WhatsApp webhook for another phone number id recorded, not acted on")
        return [_recorded("x", change, not_ours=str(ours)[:MAX_KEY] if ours is not None else None)]
    profiles: dict[str, dict[str, Any]] = {}
    for contact in _list(value.get("contacts"), "contacts"):
        contact = _dict(contact, "contact")
        key = contact.get("wa_id") or contact.get("user_id")
        if key:
            profiles[str(key)] = contact
    for message in _list(value.get("messages"), "messages"):
        message = _dict(message, "message")
        sender = message.get("from_user_id") or _user_id(profiles, message.get("from")) or message.get("from")
        if not sender or not message.get("id"):
            events.append(_recorded("x", message))
        elif len(str(sender)) > MAX_KEY or len(f"m:{message['id']}") > MAX_EVENT_ID:
            events.append(_recorded("x", message, unreadable="an id longer than WhatsApp's"))
        else:
            events.append(InboxEvent(f"m:{message['id']}", str(sender), "message", message,
                                     sent_at=_message_time(message.get("timestamp"))))  # fmt: skip
    for status in _list(value.get("statuses"), "statuses"):
        status = _dict(status, "status")
        recipient = str(status.get("recipient_user_id") or status.get("recipient_id") or "")
        if not status.get("id") or not status.get("status"):
            events.append(_recorded("x", status))
            continue
        event_id = f"s:{status['id']}:{status['status']}"
        if len(recipient) > MAX_KEY or len(event_id) > MAX_EVENT_ID:
            events.append(_recorded("x", status, unreadable="an id longer than WhatsApp's"))
        else:
            events.append(InboxEvent(event_id, recipient, "status", status))
    if value.get("errors"):
        events.append(_recorded("e", value["errors"]))
    return events


def _message_time(timestamp: Any) -> datetime | None:
    """A message's `timestamp` (Unix seconds, as a string), when it is one."""
    try:
        return datetime.fromtimestamp(int(str(timestamp)), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _code(errors: Any) -> tuple[int | None, str]:
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    number = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    return number, str(first.get("title") or first.get("message") or "")[:120]


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
        files: LetterFiles | None = None,
    ) -> None:
        self.letters = files or LetterFiles(settings.files_dir, settings)
        self.service = service
        self.client = client
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.gate = gate  # quiet hours and past reminders, as for every channel
        assert settings.whatsapp_app_secret is not None
        self._app_secret = settings.whatsapp_app_secret.get_secret_value()
        self._verify_token = settings.whatsapp_verify_token
        self._phone_number_id = settings.whatsapp_phone_number_id
        self._template = settings.whatsapp_notice_template
        self._template_language = settings.whatsapp_template_language
        self._overall = AsyncLimiter(settings.whatsapp_messages_per_second, 1)
        # Per-person limiters, least recently used first; one idle long enough to be full again is forgotten.
        self._per_person: OrderedDict[str, tuple[AsyncLimiter, float]] = OrderedDict()
        self._concurrency = settings.whatsapp_delivery_concurrency
        self._lease = timedelta(seconds=settings.whatsapp_processing_lease_seconds)
        self._max_attempts = settings.whatsapp_max_event_attempts
        self._files = MediaFiles(settings.files_dir)
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
        """POST: the HTTP status to answer. Nothing is parsed or stored unless the signature is right.

        A signed body is Meta's (or from someone holding our app secret): whatever it holds is stored and
        answered 200 — what we cannot read is recorded, not acted on — since any other answer only makes
        Meta deliver it again for days."""
        if not signature_valid(body, signature, self._app_secret):
            log.warning("WhatsApp webhook with a missing or wrong signature refused")
            return 403
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not JSON (or not UTF-8), or absurdly nested
            log.warning("signed WhatsApp webhook whose body is not JSON recorded")
            text = body[:MAX_RECORDED_BODY].decode("utf-8", errors="replace")
            events = [_recorded("x", text, unreadable="not JSON")]
        else:
            if isinstance(payload, dict) and payload.get("object") == "whatsapp_business_account":
                events = parse_webhook(payload, self._phone_number_id)
            else:
                log.warning("signed WhatsApp webhook not shaped like Meta's recorded")
                events = [_recorded("x", payload, unreadable="not a whatsapp_business_account webhook")]
        now = self.clock.now()
        keyed = [await self._keyed(event, now) for event in events]
        if await self.store.store(keyed, now):
            self._wake.set()
        return 200

    async def _keyed(self, event: InboxEvent, now: Any) -> InboxEvent:
        """Someone first known by their number (wa_id) stays under it when Meta adds the business-scoped id."""
        if event.kind != "message":
            return event
        wa_id = event.payload.get("from")
        user_id = event.sender if event.sender != wa_id else None
        if not user_id:
            return event
        if wa_id and self.service.staff_for(Address(CHANNEL, str(wa_id))) is not None:
            return replace(event, sender=str(wa_id))  # staff configured by their number
        key = await self.store.resolve_sender(str(wa_id) if wa_id else None, user_id, now)
        return replace(event, sender=key or event.sender)

    # ---- processing stored events ------------------------------------------------------------------------

    async def process_pending(self, limit: int = 20) -> int:
        events = await self.store.claim(self.clock.now(), limit)
        for event in events:
            assert event.id is not None
            try:
                state = await self._process(event)
            except Exception as error:  # one bad event must not stop the others
                await self._failed(event, error)
                continue
            await self.store.finish(event.id, state, self.clock.now())
        return len(events)

    async def _failed(self, event: InboxEvent, error: Exception) -> None:
        """Retried with backoff a few times (nothing was committed: handling is idempotent), then given up."""
        assert event.id is not None
        now = self.clock.now()
        if isinstance(error, ReceiptTooEarly):  # expected now and then: quietly, without a traceback
            log.info("WhatsApp failure receipt before our record of the send; again in %s s", 2**event.attempts)
            await self.store.retry(event.id, now + timedelta(seconds=2**event.attempts), str(error))
            return
        if event.attempts < self._max_attempts:
            delay = min(300, 2**event.attempts)
            log.warning("WhatsApp event %s failed (attempt %s of %s, %s); again in %s s", event.event_id,
                        event.attempts, self._max_attempts, type(error).__name__, delay)  # fmt: skip
            await self.store.retry(event.id, now + timedelta(seconds=delay), repr(error))
            return
        log.error("WhatsApp event %s given up after %s attempts", event.event_id, event.attempts, exc_info=error)
        await self.store.finish(event.id, "failed", now, repr(error))
        if event.kind == "message":
            media = event.payload.get("type") in ("document", "image")
            t = self.service.translator()
            with contextlib.suppress(Exception):  # tell them, if WhatsApp lets us; the event stays failed
                await self.send_replies(Address(CHANNEL, event.sender), [Text(t(SEND_AGAIN if media else TRY_AGAIN))])

    async def run_processing(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        checked = float("-inf")
        while not stop.is_set():
            try:
                if loop.time() - checked >= min(30.0, interval * 5):  # a cheap query, not on every round
                    checked = loop.time()
                    released = await self.store.release_stuck(self.clock.now() - self._lease, self._max_attempts)
                    if released:
                        log.warning("%s WhatsApp events left by a stopped processor taken again", released)
                while not stop.is_set() and await self.process_pending():
                    pass
            except Exception:
                log.exception("WhatsApp processing round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    async def _process(self, event: InboxEvent) -> str:
        if event.kind == "other":
            return "recorded"
        if event.kind == "status":
            return await self._on_status(event)
        address = Address(CHANNEL, event.sender)
        if event.payload.get("type") in ("reaction", "system"):
            # An emoji on one of our messages, or WhatsApp telling us the person changed their number or id:
            # kept, not answered (they did not write to us).
            return "ignored"
        t = self.service.translator()
        try:
            inbound = await self._inbound(event.payload)
        except MediaUnavailable:
            # The conversation stays where it was: the same step takes the file when it comes again.
            await self.send_replies(address, [Text(t(SEND_AGAIN))])
            return "media_failed"
        if inbound is None:
            note = t(
                "Sorry, we cannot read this kind of message. Please reply with text, a button, or a PDF or "
                "photo of your letter."
            )
            await self.send_replies(address, [Text(note)])
            return "unsupported"
        persona = STAFF if self.service.staff_for(address) else REPRESENTATIVE
        replies = await self.service.handle(
            address, inbound, persona=persona, supports_files=True, event_id=event.event_id,
            numbered_above=MAX_ROWS,  # beyond a list's rows the options go as numbered text
        )  # fmt: skip
        await self.send_replies(address, replies)
        return "done"

    async def _inbound(self, message: dict[str, Any]) -> Inbound | None:
        kind = message.get("type")
        if kind == "request_welcome":  # they opened the chat for the first time: the welcome, as for "Halo"
            return TextIn("/mulai")
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
            return FileIn(await self._letter(kind, message.get(kind) or {}))
        if kind == "contacts":
            contacts = message.get("contacts") or []
            phones = contacts[0].get("phones") if contacts else None
            if phones:
                return ContactIn(str(phones[0].get("phone") or phones[0].get("wa_id") or ""))
        return None

    async def _letter(self, kind: str, media: dict[str, Any]) -> FileRef:
        """Look the media up and, when it can be a letter (PDF or image, at most 10 MB), download and keep it.
        A Graph outage raises (the event is retried); media that is gone or refused raises MediaUnavailable."""
        media_id = str(media.get("id") or "")
        if not media_id:
            raise MediaUnavailable
        try:
            info = await self.client.get_media_url(media_id)
        except GraphUnavailableError:
            raise
        except (GraphError, ValueError) as error:
            log.warning("WhatsApp media could not be looked up: %s", error)
            raise MediaUnavailable from error
        name = str(media.get("filename") or ("foto.jpg" if kind == "image" else "dokumen"))
        mime = str(media.get("mime_type") or info.mime_type).split(";")[0].strip()
        size = int(info.file_size or 0)
        if mime not in ACCEPTED_LETTER_TYPES or size > MAX_LETTER_BYTES:
            return FileRef(CHANNEL, media_id, name, mime, size)  # the letter step says why it is refused
        try:
            content = await self.client.download_media(info.url, max_bytes=MAX_LETTER_BYTES)
        except GraphUnavailableError:
            raise
        except GraphError as error:
            if "larger than" in error.message:
                return FileRef(CHANNEL, media_id, name, mime, MAX_LETTER_BYTES + 1)
            log.warning("WhatsApp media could not be downloaded: %s", error)
            raise MediaUnavailable from error
        except ValueError as error:
            raise MediaUnavailable from error
        self._files.save(media_id, mime, content)
        return FileRef(CHANNEL, media_id, name, mime, len(content))

    async def _on_status(self, event: InboxEvent) -> str:
        status = event.payload
        code, title = _code(status.get("errors"))
        record = await self.store.record_status(str(status["id"]), str(status["status"]), code, self.clock.now())
        if record is None:
            if status.get("status") != "failed":
                return "done"
            if event.attempts < min(RECEIPT_TRIES, self._max_attempts):
                # The receipt may overtake our record of the send (written just after Meta answered).
                raise ReceiptTooEarly("failure receipt for a message not recorded (yet)")
            log.info("WhatsApp failure receipt (code %s) for a message we have no record of", code)
            return "unknown"
        if status.get("status") != "failed":
            return "done"
        log.info("WhatsApp %s message failed with code %s", record.kind, code)
        now = self.clock.now()
        if code == 131047 and not record.template and record.outbox_id is not None:
            # Delivered late and outside the window: send the same notice again as the approved template.
            if await self.store.template_sent_for(record.outbox_id):
                return "done"  # another part of the notice already brought it back
            t = self.service.translator()
            notice = record.notice if record.notice and record.notice.strip() else t(EMPTY_NOTICE)
            try:
                await self._send_template(record.recipient, record.kind, record.request_id, record.outbox_id, notice)
            except (GraphError, ValueError) as error:
                reason = f"failed (131047), then the template: {error}"[:300]
                await self._give_up(record.outbox_id, record.recipient, record.request_id, reason)
            return "done"
        if code == 131026:
            if record.outbox_id is not None:
                await self.outbox.mark_failed(record.outbox_id, "undeliverable (131026)")
            await self.service.report_unreachable(Address(CHANNEL, record.recipient), UNREACHABLE, record.request_id)
            return "done"
        if record.outbox_id is None:
            return "done"
        if code in (130429, 131056):  # throughput or pair rate: the notice goes again a little later
            attempts = await self.outbox.attempts_of(record.outbox_id)
            if attempts is not None and attempts < MAX_DELIVERY_ATTEMPTS:
                delay = PAIR_SECONDS if code == 131056 else 60
                await self.outbox.mark_failed(record.outbox_id, f"rate limited ({code})",
                                              retry_at=now + timedelta(seconds=delay))  # fmt: skip
                return "done"
        reason = f"failed ({code if code is not None else '-'}{': ' + title if title else ''})"
        await self._give_up(record.outbox_id, record.recipient, record.request_id, reason)
        return "done"

    async def _give_up(self, outbox_id: int, recipient: str, request_id: int | None, reason: str) -> None:
        """The notice failed for good: recorded on its row and, the first time, told to staff (on the card)."""
        if await self.outbox.fail_for_good(outbox_id, reason):
            await self.service.report_undelivered(Address(CHANNEL, recipient), request_id, reason)

    # ---- sending -----------------------------------------------------------------------------------------

    def plan(self, messages: Sequence[Outbound]) -> list[Outbound]:
        """Fewer, fuller messages: texts in a row are joined, and a text before a choice becomes its body."""
        planned: list[Outbound] = []
        for message in messages:
            if isinstance(message, Document):
                planned.append(message)  # a file goes on its own, never joined into a text
                continue
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
            except UndeliverableError:
                await self.service.report_unreachable(address, UNREACHABLE, None)
                return
            except GraphError as error:  # unavailable, rate limited, window closed…: the outbox tries again
                log.warning("WhatsApp reply not sent (%s); %s replies queued", error.code, len(planned) - index)
                await self.service.owe(address, planned[index:])
                return

    async def send(
        self,
        to: str,
        message: Outbound,
        *,
        outbox_id: int | None = None,
        request_id: int | None = None,
        kind: str = "reply",
        notice: str | None = None,
        parts: _Parts | None = None,
    ) -> None:
        """Send one message (in as many parts as it takes). With `parts` (delivering an outbox row), each part
        is numbered in the record of what was sent, and parts Meta already accepted are not sent again."""
        t = self.service.translator()

        async def paced(sending: Any) -> None:
            part = None
            if parts is not None:
                part, done = parts.take()
                if done:
                    sending.close()  # this part went out on an earlier try
                    return
            await self._paced(to, sending, SentRecord("", to, outbox_id, request_id, kind, False, notice, part))

        if isinstance(message, Document):
            if parts is not None and parts.next_done():
                parts.take()  # the letter went out on an earlier try: not uploaded again
                return
            await self._send_letter(to, message, paced)
            return
        if isinstance(message, Choice) and message.options:
            body = message.body if message.body.strip() else t("Please choose:")
            if len(body) > INTERACTIVE_BODY_LIMIT:
                for part in split_message(body, TEXT_LIMIT):
                    await paced(self.client.send_text(to, part))
                body = t("Please choose:")
            options = message.options
            if len(options) <= MAX_BUTTONS and all(len(o.label) <= BUTTON_TITLE_LIMIT for o in options):
                titles = unique_titles([o.label for o in options], BUTTON_TITLE_LIMIT)  # WhatsApp wants them unique
                await paced(
                    self.client.send_buttons(to, body, [(o.key, t) for o, t in zip(options, titles, strict=True)])
                )
                return
            if len(options) <= MAX_ROWS:
                titles = unique_titles([o.label for o in options], ROW_TITLE_LIMIT)
                rows = [
                    ListRow(
                        o.key,
                        title,
                        fit(o.description or (o.label if title != o.label else ""), ROW_DESCRIPTION_LIMIT) or None,
                    )
                    for o, title in zip(options, titles, strict=True)
                ]
                section = ListSection(None, rows)
                label = fit(t("Choose"), BUTTON_TITLE_LIMIT)
                await paced(self.client.send_list(to, body, label, [section]))
                return
            numbered = "\n".join(f"{n}. {o.label}" for n, o in enumerate(options, start=1))
            text = f"{message.body}\n\n{numbered}\n{t('(Type the number of your choice.)')}"
            for part in split_message(text, TEXT_LIMIT):
                await paced(self.client.send_text(to, part))
            return
        for part in split_message(message.body, TEXT_LIMIT):
            await paced(self.client.send_text(to, part))

    async def _send_letter(self, to: str, document: Document, paced: Any) -> None:
        """Upload the letter (from disk, or fetched from Telegram) and send it as a document or an image.
        What cannot be had, or what Meta refuses outright, is said in a text; a closed window, a rate limit or
        an outage raises, so the outbox tries again (or sends the template)."""
        file, t = document.file, self.service.translator()
        try:
            media_id = await self.client.upload_media(await self.letters.content(file), file.mime_type, file.name)
            if is_image(file):
                await paced(self.client.send_image(to, media_id=media_id, caption=caption(document)))
            else:
                await paced(self.client.send_document(to, media_id=media_id, filename=file.name[:240],
                                                      caption=caption(document)))  # fmt: skip
            return
        except LetterUnavailable as unavailable:
            text = unavailable.tell(t)
        except (OutsideWindowError, RateLimitedError, GraphUnavailableError, UndeliverableError):
            raise
        except (GraphError, ValueError) as error:
            log.warning("WhatsApp refused the letter (%s)", type(error).__name__)
            text = LetterUnavailable(REFUSED, platform="WhatsApp", name=file.name).tell(t)
        await paced(self.client.send_text(to, text))

    def _limiter(self, to: str) -> AsyncLimiter:
        """This person's pair-rate limiter. Limiters idle long enough to be full again are dropped, so the
        dict holds only people written to in the last few minutes."""
        now = asyncio.get_running_loop().time()
        entry = self._per_person.pop(to, None)
        limiter = entry[0] if entry else AsyncLimiter(PAIR_BURST, PAIR_BURST * PAIR_SECONDS)
        while self._per_person:
            oldest, (_idle, used) = next(iter(self._per_person.items()))
            if now - used < PAIR_BURST * PAIR_SECONDS:
                break
            del self._per_person[oldest]
        self._per_person[to] = (limiter, now)
        return limiter

    def _paced_now(self, to: str) -> bool:
        """Whether one more message to this person fits their pair rate without waiting."""
        entry = self._per_person.get(to)
        return entry is None or entry[0].has_capacity()

    async def _paced(self, to: str, sending: Any, record: SentRecord) -> str:
        """Send under the pair rate (this person) and the account's rate; record what was sent."""
        try:
            async with self._limiter(to), self._overall:
                wamid: str = await sending
        except BaseException:
            if asyncio.iscoroutine(sending):
                sending.close()
            raise
        await self.store.record_sent(replace(record, wamid=wamid), self.clock.now())
        return wamid

    async def _send_template(
        self, to: str, kind: str, request_id: int | None, outbox_id: int | None, summary: str
    ) -> str:
        reference = await self._reference(request_id)
        parameters = [clean_template_param(reference), clean_template_param(fit(summary, 600))]
        # Staff tap through to the request's card with its decision buttons (authorized on the server, as
        # every staff action); representatives see their requests.
        staff = self.service.staff_for(Address(CHANNEL, to)) is not None
        payload = ("g:queue" if request_id is None else f"g:open:{request_id}") if staff else "g:status"
        sending = self.client.send_template(
            to, self._template, self._template_language, parameters, button_payloads=[payload]
        )
        return await self._paced(to, sending, SentRecord("", to, outbox_id, request_id, kind, True, summary))

    async def _reference(self, request_id: int | None) -> str:
        """{{1}} of the template ("… permohonan audiensi {{1}}: …"): the request's reference, or for a notice
        about no one request (a digest) "ke Pemerintah Kota …"."""
        request = None
        if request_id is not None:
            async with self.service.unit_of_work() as uow:
                request = await uow.requests.get(request_id)
        if request is not None:
            return request.reference
        t = self.service.translator()
        return t("to {city}", city=self.service.city)

    # ---- delivering the outbox ---------------------------------------------------------------------------

    async def deliver_due(self, limit: int = 30) -> int:
        """Deliver due rows: one recipient's rows in order, several recipients at once (bounded), so a person
        at their pair rate does not hold up anyone else."""
        items = await self.outbox.claim(self.clock.now(), channel=CHANNEL, limit=limit)
        by_person: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_person.setdefault(item.external_id, []).append(item)
        slots = asyncio.Semaphore(self._concurrency)

        async def deliver(person_items: list[OutboxItem]) -> None:
            async with slots:
                for item in person_items:
                    try:
                        await self._deliver(item)
                    except Exception as error:
                        reason = f"error: {type(error).__name__}"
                        if item.attempts >= MAX_DELIVERY_ATTEMPTS:
                            log.error("WhatsApp outbox row %s given up after %s attempts (%s)", item.id,
                                      item.attempts, type(error).__name__)  # fmt: skip
                            await self._give_up(item.id, item.external_id, item.request_id, reason)
                            continue
                        if item.attempts <= 1:
                            log.exception("WhatsApp outbox row %s could not be delivered", item.id)
                        else:  # the traceback was logged on the first attempt
                            log.warning("WhatsApp outbox row %s could not be delivered again (attempt %s, %s)",
                                        item.id, item.attempts, type(error).__name__)  # fmt: skip
                        await self.outbox.mark_failed(item.id, reason,
                                                      retry_at=self.clock.now() + timedelta(seconds=60))  # fmt: skip

        await asyncio.gather(*(deliver(person_items) for person_items in by_person.values()))
        return len(items)

    async def _window_open(self, recipient: str) -> bool:
        last = await self.store.last_inbound(recipient)
        return last is not None and self.clock.now() - last < WINDOW

    async def _deliver(self, item: OutboxItem) -> None:
        if self.gate is not None and not await self.gate.allow(item):
            return
        now = self.clock.now()
        if not self._paced_now(item.external_id):
            # This person had their burst: later, without waiting here (and without counting an attempt).
            await self.outbox.defer(item.id, now + timedelta(seconds=PAIR_SECONDS), "paced (pair rate)")
            return
        t = self.service.translator()
        messages = item.messages
        if not any(
            isinstance(m, Document) or m.body.strip() or (isinstance(m, Choice) and m.options) for m in messages
        ):
            messages = (Text(t(EMPTY_NOTICE)),)  # a blank notice: never an empty message or template parameter
        notice = _summary(messages) or t(EMPTY_NOTICE)
        if any(isinstance(m, Document) for m in messages):
            notice = t(LETTER_LATER, caption=notice)
        done, template_done = await self.store.parts_accepted(item.id)
        if template_done:  # the whole notice went out as the template on an earlier try
            await self.outbox.mark_sent(item.id, now)
            return
        try:
            if await self._window_open(item.external_id):
                parts = _Parts(done)  # an earlier try that sent some parts resumes after them
                try:
                    for message in self.plan(messages):
                        await self.send(item.external_id, message, outbox_id=item.id, request_id=item.request_id,
                                        kind=item.kind, notice=notice, parts=parts)  # fmt: skip
                except OutsideWindowError:
                    await self._send_template(item.external_id, item.kind, item.request_id, item.id, notice)
            else:
                await self._send_template(item.external_id, item.kind, item.request_id, item.id, notice)
        except RateLimitedError as error:
            if item.attempts >= MAX_DELIVERY_ATTEMPTS:
                reason = f"rate limited ({error.code}) after {item.attempts} attempts"
                await self._give_up(item.id, item.external_id, item.request_id, reason)
                return
            delay = 6 if error.code == 131056 else min(300, 2**item.attempts)
            await self.outbox.mark_failed(
                item.id, f"rate limited ({error.code})", retry_at=now + timedelta(seconds=delay)
            )
            return
        except GraphUnavailableError as error:
            if item.attempts >= MAX_DELIVERY_ATTEMPTS:
                reason = f"unavailable after {item.attempts} attempts ({error.status})"
                await self._give_up(item.id, item.external_id, item.request_id, reason)
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
        except GraphError as error:  # refused (a template not approved, a bad parameter…): again would be the same
            reason = f"graph error {error.code}: {error.message}"[:300]
            await self._give_up(item.id, item.external_id, item.request_id, reason)
            return
        except ValueError as error:  # refused by our own client before sending: again would be the same
            log.warning("WhatsApp outbox row %s refused before sending: %s", item.id, error)
            await self._give_up(item.id, item.external_id, item.request_id, f"refused before sending: {error}"[:300])
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
