"""The Telegram channel: Bot API updates in, channel-neutral messages to the service, rendered replies out.

Only translation lives here: the conversation, its state and every rule are in handlers/. python-telegram-bot is
used as a typed client (ExtBot with AIORateLimiter); no ConversationHandler or persistence — state is in our
database, so polling restarts and several webhook processes continue the same conversations.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot

from bot.delivery import DeliveryGate
from bot.settings import Settings
from handlers.domain.model import Address, FileRef
from handlers.i18n import N_
from handlers.messages import (
    Choice,
    ContactIn,
    FileIn,
    Inbound,
    InputHint,
    Outbound,
    PressIn,
    Prompt,
    Refusal,
    TextIn,
)
from handlers.ports import Clock
from handlers.service import REPRESENTATIVE, STAFF, ConversationService
from handlers.validators import clean_text
from storage.channel_messages import ChannelMessages
from storage.outbox import OutboxItem, OutboxStore

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
BLOCKED = N_("blocked the bot")
CARD_KINDS = frozenset({"new_request", "decided", "info_provided", "unreachable"})
DIRECT_ATTEMPTS = 4
MAX_DELIVERY_ATTEMPTS = 8


def make_bot(settings: Settings) -> ExtBot[int]:
    """The bot client; the API base URL is a setting so a self-hosted or local test server can stand in."""
    assert settings.telegram_token is not None
    return ExtBot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        # Telegram's limits: ~30 messages/s overall, 20/min per group; 429s are waited out and retried.
        rate_limiter=AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=3),
    )


def _seconds(retry_after: Any) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram refuses texts over 4096 characters: cut at paragraph, line or word boundaries."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


@dataclass(frozen=True)
class Rendered:
    text: str
    markup: Any = None
    html: bool = False


class TelegramChannel:
    def __init__(
        self,
        service: ConversationService,
        bot: ExtBot[int],
        outbox: OutboxStore,
        cards: ChannelMessages,
        clock: Clock,
        *,
        staff_chat_id: int | None,
        gate: DeliveryGate | None = None,
    ) -> None:
        self.gate = gate  # quiet hours and pointless reminders
        self.service = service
        self.bot = bot
        self.outbox = outbox
        self.cards = cards
        self.clock = clock
        self.staff_chat_id = staff_chat_id
        t = service.translator()
        menu = service.engines[REPRESENTATIVE].persona.menu(t)
        self._menu_keys = {option.key for option in menu}
        self._menu_by_label = {option.label.casefold(): option.key for option in menu}

    # ---- setup -------------------------------------------------------------------------------------------

    async def set_commands(self) -> None:
        t = self.service.translator()
        await self.bot.set_my_commands(
            [
                BotCommand("mulai", t("Start / main menu")),
                BotCommand("ajukan", t("Request an audience")),
                BotCommand("status", t("Status of my requests")),
                BotCommand("batal", t("Abandon the form in progress")),
                BotCommand("kembali", t("Back one step")),
                BotCommand("bantuan", t("Help")),
            ],
            scope=BotCommandScopeDefault(),
        )
        if self.staff_chat_id is not None:
            await self.bot.set_my_commands(
                [BotCommand("antrian", t("Requests awaiting a decision")), BotCommand("bantuan", t("Help"))],
                scope=BotCommandScopeChat(self.staff_chat_id),
            )

    # ---- inbound -----------------------------------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Handle one update; never raises for a bad update (it is logged and the person gets an apology)."""
        try:
            if update.callback_query is not None:
                await self._on_press(update, update.callback_query)
            elif update.message is not None:
                await self._on_message(update, update.message)
        except TelegramError:
            log.exception("Telegram refused a reply to update %s", update.update_id)
        except Exception:
            log.exception("update %s could not be handled", update.update_id)
            chat = update.effective_chat
            if chat is not None and chat.type == "private":
                t = self.service.translator()
                await self._safe_send(chat.id, t("Sorry, something went wrong on our side. Please try again."))

    def _is_group(self, chat_type: str) -> bool:
        return chat_type in ("group", "supergroup")

    def _persona_for(self, user_id: int) -> str:
        staff = self.service.staff_for(Address(CHANNEL, str(user_id)))
        return STAFF if staff is not None else REPRESENTATIVE

    async def _on_message(self, update: Update, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        if self._is_group(message.chat.type):
            await self._on_group_message(update, message)
            return
        inbound = self._inbound(message)
        persona = self._persona_for(user.id)
        replies = await self.service.handle(
            Address(CHANNEL, str(message.chat.id)), inbound, persona=persona, supports_files=True,
            event_id=str(update.update_id), language=_language(user.language_code))  # fmt: skip
        await self._reply(message.chat.id, replies)

    async def _on_group_message(self, update: Update, message: Message) -> None:
        """In a staff group the bot listens only to commands and to replies to its own questions."""
        user = message.from_user
        assert user is not None
        text = message.text or ""
        replying_to_bot = (
            message.reply_to_message is not None
            and message.reply_to_message.from_user is not None
            and message.reply_to_message.from_user.id == self.bot.id
        )
        if not text.startswith("/") and not replying_to_bot:
            return
        replies = await self.service.handle(
            Address(CHANNEL, f"{message.chat.id}:{user.id}"), TextIn(text), persona=STAFF,
            sender=Address(CHANNEL, str(user.id)), event_id=str(update.update_id), compact=True)  # fmt: skip
        await self._reply(message.chat.id, replies, group_user=(user.id, user.full_name), reply_to=message.id)

    def _inbound(self, message: Message) -> Inbound:
        if message.contact is not None:
            return ContactIn(message.contact.phone_number)
        if message.document is not None:
            doc = message.document
            return FileIn(FileRef(CHANNEL, doc.file_id, doc.file_name or "dokumen",
                                  doc.mime_type or "application/octet-stream", doc.file_size or 0))  # fmt: skip
        if message.photo:
            photo = message.photo[-1]  # the largest size
            return FileIn(FileRef(CHANNEL, photo.file_id, f"foto-{photo.file_unique_id}.jpg", "image/jpeg",
                                  photo.file_size or 0))  # fmt: skip
        text = message.text or message.caption or ""
        key = self._menu_by_label.get(clean_text(text).casefold())
        if key is not None:
            return PressIn(key)  # the reply-keyboard menu works at any step
        return TextIn(text)

    async def _on_press(self, update: Update, query: CallbackQuery) -> None:
        message = query.message
        data = query.data or ""
        if not isinstance(message, Message):
            await query.answer()
            return
        chat = message.chat
        user = query.from_user
        if self._is_group(chat.type):
            replies = await self.service.handle(
                Address(CHANNEL, f"{chat.id}:{user.id}"), PressIn(data), persona=STAFF,
                sender=Address(CHANNEL, str(user.id)), event_id=str(update.update_id), compact=True)  # fmt: skip
            refusal = next((r for r in replies if isinstance(r, Refusal)), None)
            if refusal is not None:
                await query.answer(refusal.body[:200], show_alert=True)
                return
            await query.answer()
            if not data.startswith("g:"):  # a step of this person's decision; cards are edited by delivery
                await self._close_keyboard(message, data, chosen=True)
            await self._reply(chat.id, replies, group_user=(user.id, user.full_name), reply_to=message.id)
            return
        replies = await self.service.handle(
            Address(CHANNEL, str(chat.id)), PressIn(data), persona=self._persona_for(user.id),
            supports_files=True, event_id=str(update.update_id))  # fmt: skip
        if not replies:  # a redelivered update: it was answered the first time
            await query.answer()
            return
        refusal = replies[0] if isinstance(replies[0], Refusal) else None
        await query.answer(refusal.body[:200] if refusal else None, show_alert=refusal is not None)
        await self._close_keyboard(message, data, chosen=refusal is None)
        await self._reply(chat.id, replies[1:] if refusal else replies)

    async def _close_keyboard(self, message: Message, data: str, *, chosen: bool) -> None:
        """Edit the pressed message in place: its buttons go, and the choice made is written under it."""
        label = None
        if message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == data:
                        label = button.text
        text = message.text or ""
        if chosen and label:
            text = f"{text}\n\n✓ {label}"
        try:
            await self.bot.edit_message_text(text[:TEXT_LIMIT], chat_id=message.chat.id, message_id=message.id)
        except BadRequest as error:
            log.info("could not close a keyboard: %s", error.message)

    # ---- rendering and sending -----------------------------------------------------------------------------

    def render(self, message: Outbound, *, group_user: tuple[int, str] | None = None) -> Rendered:
        t = self.service.translator()
        if isinstance(message, Choice):
            keys = {o.key for o in message.options}
            if keys and keys == self._menu_keys and group_user is None:
                rows = [[KeyboardButton(o.label)] for o in message.options]
                return Rendered(message.body, ReplyKeyboardMarkup(rows, resize_keyboard=True))
            for option in message.options:
                if len(option.key.encode()) > CALLBACK_DATA_LIMIT:
                    raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {option.key!r}")
            buttons = [[InlineKeyboardButton(o.label[:64], callback_data=o.key)] for o in message.options]
            return Rendered(message.body, InlineKeyboardMarkup(buttons))
        if isinstance(message, Prompt):
            if group_user is not None:
                # Addressed to the staff member who is deciding, so their app opens a reply to this question.
                user_id, name = group_user
                mention = f'<a href="tg://user?id={user_id}">{html.escape(name)}</a>'
                return Rendered(f"{mention}, {html.escape(message.body)}", ForceReply(selective=True), html=True)
            if message.hint is InputHint.PHONE:
                button = KeyboardButton(t("Share my phone number"), request_contact=True)
                return Rendered(message.body, ReplyKeyboardMarkup([[button]], resize_keyboard=True,
                                                                  one_time_keyboard=True))  # fmt: skip
        return Rendered(message.body)

    async def _reply(
        self,
        chat_id: int,
        replies: Sequence[Outbound],
        *,
        group_user: tuple[int, str] | None = None,
        reply_to: int | None = None,
    ) -> None:
        for index, outbound in enumerate(replies):
            try:
                await self.send(chat_id, outbound, group_user=group_user, reply_to=reply_to)
            except Forbidden as error:
                log.info("chat %s cannot be reached: %s", chat_id, error.message)
                await self.service.report_unreachable(Address(CHANNEL, str(chat_id)), BLOCKED, None)
                return
            except (NetworkError, RetryAfter) as error:
                if isinstance(error, BadRequest):
                    raise
                # Telegram is unreachable for longer than our retries: keep what we owe for the delivery loop.
                log.warning("Telegram unreachable; %s replies queued for chat %s", len(replies) - index, chat_id)
                await self.service.owe(Address(CHANNEL, str(chat_id)), list(replies[index:]))
                return

    async def send(
        self, chat_id: int | str, outbound: Outbound, *, group_user: tuple[int, str] | None = None,
        reply_to: int | None = None,
    ) -> Message:  # fmt: skip
        rendered = self.render(outbound, group_user=group_user)
        parts = split_text(rendered.text)
        sent: Message | None = None
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            sent = await self._with_retries(
                self.bot.send_message,
                chat_id=chat_id,
                text=part,
                parse_mode="HTML" if rendered.html else None,
                reply_markup=rendered.markup if last else None,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
            )
        assert sent is not None
        return sent

    async def _with_retries(self, method: Any, **kwargs: Any) -> Any:
        """5xx answers and timeouts are retried with backoff; 429s are waited out by the rate limiter."""
        delay = 0.5
        for attempt in range(1, DIRECT_ATTEMPTS + 1):
            try:
                return await method(**kwargs)
            except RetryAfter as error:
                if attempt == DIRECT_ATTEMPTS:
                    raise
                await asyncio.sleep(_seconds(error.retry_after))
            except NetworkError as error:
                if isinstance(error, BadRequest) or attempt == DIRECT_ATTEMPTS:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _safe_send(self, chat_id: int, text: str) -> None:
        try:
            await self.bot.send_message(chat_id, text)
        except TelegramError:
            log.warning("could not send an apology to chat %s", chat_id)

    # ---- delivering the outbox ---------------------------------------------------------------------------

    async def deliver_due(self, limit: int = 30) -> int:
        """Send what the bot owes people on Telegram (decisions, staff cards, queued replies)."""
        items = await self.outbox.claim(self.clock.now(), channel=CHANNEL, limit=limit)
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        if self.gate is not None and not await self.gate.allow(item):
            return
        now = self.clock.now()
        try:
            if item.kind in CARD_KINDS and item.request_id is not None and self._is_staff_chat(item.external_id):
                await self._deliver_card(item)
            else:
                for message in item.messages:
                    await self.send(item.external_id, message)
        except Forbidden as error:
            await self.outbox.mark_failed(item.id, f"forbidden: {error.message}")
            await self.service.report_unreachable(Address(CHANNEL, item.external_id), BLOCKED, item.request_id)
            return
        except RetryAfter as error:
            await self.outbox.mark_failed(item.id, "rate limited", retry_at=now + timedelta(
                seconds=_seconds(error.retry_after)))  # fmt: skip
            return
        except BadRequest as error:
            await self.outbox.mark_failed(item.id, f"bad request: {error.message}")
            return
        except NetworkError as error:
            if item.attempts >= MAX_DELIVERY_ATTEMPTS:
                await self.outbox.mark_failed(item.id, f"unreachable after {item.attempts} attempts: {error.message}")
            else:
                backoff = timedelta(seconds=min(300, 2**item.attempts))
                await self.outbox.mark_failed(item.id, f"network: {error.message}", retry_at=now + backoff)
            return
        await self.outbox.mark_sent(item.id, now)

    def _is_staff_chat(self, external_id: str) -> bool:
        return self.staff_chat_id is not None and external_id == str(self.staff_chat_id)

    async def _deliver_card(self, item: OutboxItem) -> None:
        """One card per request in the staff group, edited as the request moves on."""
        assert item.request_id is not None
        *intro, card = item.messages
        rendered = self.render(card)
        markup = rendered.markup if isinstance(card, Choice) else None
        existing = await self.cards.latest(CHANNEL, item.external_id, item.request_id, "card")
        if existing is not None and item.kind != "new_request":
            try:
                await self._with_retries(self.bot.edit_message_text, chat_id=item.external_id,
                                         message_id=int(existing), text=rendered.text[:TEXT_LIMIT],
                                         reply_markup=markup)  # fmt: skip
            except BadRequest as error:
                if "not modified" not in error.message.lower():
                    raise
            for note in intro:
                await self.send(item.external_id, note, reply_to=int(existing))
            return
        text = "\n\n".join([*(m.body for m in intro), rendered.text])
        sent = await self._with_retries(self.bot.send_message, chat_id=item.external_id,
                                        text=text[:TEXT_LIMIT], reply_markup=markup)  # fmt: skip
        await self.cards.remember(CHANNEL, item.external_id, str(sent.message_id), item.request_id, "card",
                                  self.clock.now())  # fmt: skip

    async def run_delivery(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    # ---- polling -----------------------------------------------------------------------------------------

    async def run_polling(self, stop: asyncio.Event, poll_seconds: int = 20) -> None:
        """getUpdates in a loop (one process per token); the offset confirms what was handled."""
        await self.bot.delete_webhook()
        offset: int | None = None
        backoff = 1.0
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=poll_seconds, allowed_updates=["message", "callback_query"]
                )
                backoff = 1.0
            except NetworkError as error:
                log.warning("getUpdates failed (%s); retrying in %.0f s", error.message, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            for update in updates:
                await self.process(update)
                offset = update.update_id + 1


def _language(code: str | None) -> str | None:
    if not code:
        return None
    return "en" if code.startswith("en") else "id"
