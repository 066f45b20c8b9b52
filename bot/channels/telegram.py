"""The Telegram channel: Bot API updates in, channel-neutral messages to the service, rendered replies out.

Only translation lives here: the conversation, its state and every rule are in handlers/. python-telegram-bot is
used as a typed client (ExtBot with AIORateLimiter); no ConversationHandler or persistence — state is in our
database, so polling restarts and several webhook processes continue the same conversations.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
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
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.channels.letters import MISSING, LetterFiles, LetterUnavailable, send_on_telegram
from bot.channels.telegram_rate import TelegramRateLimiter
from bot.delivery import DeliveryGate
from bot.settings import Settings
from handlers.domain.model import Address, FileRef
from handlers.i18n import N_, Translator
from handlers.messages import (
    Choice,
    ContactIn,
    Document,
    FileIn,
    Inbound,
    InputHint,
    Option,
    Outbound,
    PressIn,
    Prompt,
    Refusal,
    Text,
    TextIn,
)
from handlers.ports import Clock
from handlers.reminders import retried_while_useful, retry_delay
from handlers.service import REPRESENTATIVE, STAFF, ConversationService
from handlers.usecases.reminders import KIND_LABELS as REMINDER_KINDS
from handlers.validators import clean_text
from storage.channel_messages import ChannelMessages
from storage.outbox import OutboxItem, OutboxStore

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
BLOCKED = N_("blocked the bot")
# A sticker, voice note, location, video…: nothing a question can take (the same words as on WhatsApp).
UNREADABLE = N_("Sorry, we cannot read this kind of message. Please reply with text, a button, or a PDF or photo of "
                "your letter.")  # fmt: skip
# Said in a group that is not the staff group (once per group and process), and as the alert on a press there.
NOT_THE_STAFF_GROUP = N_("Sorry, in groups this bot only serves the city staff's group. To request an audience, "
                         "please write to the bot in a private chat.")  # fmt: skip
ALERT_LIMIT = 200  # characters Telegram shows in a callback query's alert
# Notices to staff about a request: in the staff group they edit its one card (the line they carry goes as a reply).
CARD_KINDS = frozenset({"new_request", "decided", "info_provided", "unreachable", "proposal_accepted",
                        "proposal_declined", "cancelled", "reschedule_requested", "resubmitted",
                        "reminder_failed"})  # fmt: skip
DIRECT_ATTEMPTS = 4
MAX_DELIVERY_ATTEMPTS = 8
# Telegram refuses keyboards of more than 100 buttons; a long list shows the first ones as buttons and the rest as
# numbered lines (a typed number chooses one; the engine reads up to two digits).
BUTTON_LIMIT = 20
TYPED_NUMBER_LIMIT = 99
SHORTENED_LINE_FLOOR = 200  # a card's free-text line is never shortened below this
POLLING_CONCURRENCY = 8  # updates handled at once under polling (different conversations)
POLLING_MAX_PENDING = 200  # updates fetched but not yet handled before getUpdates waits
POLLING_DRAIN_SECONDS = 10.0
DELIVERY_LANES = 16  # recipients sent to at once from the outbox (the rate limiter paces them all)
DELIVERY_LOOK_AGAIN = 1.0  # seconds between looks for newly due rows while lanes are busy


def make_bot(settings: Settings) -> ExtBot[int]:
    """The bot client; the API base URL is a setting so a self-hosted or local test server can stand in."""
    assert settings.telegram_token is not None
    return ExtBot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        # Telegram's limits (30/s overall, 20/min per group) kept in every second and minute; 429s waited out.
        rate_limiter=TelegramRateLimiter(settings.telegram_max_rate),
    )


def _seconds(retry_after: Any) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram refuses texts over 4096 characters: cut at a paragraph, else a line, else a word boundary."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = limit
        for separator in ("\n\n", "\n", " "):
            found = window.rfind(separator)
            if found > limit // 2:
                cut = found
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary and marked with "…"."""
    if len(text) <= limit:
        return text
    window = text[: max(limit - 1, 0)]
    space = window.rfind(" ")
    if space > limit // 2:
        window = window[:space]
    return window.rstrip() + "…"


def fit_card(text: str, limit: int = TEXT_LIMIT) -> str:
    """A staff card is one message whose status lines (at the top and at the end) always remain.

    The longest lines — the free text a person typed, such as the description — are shortened first; if many
    short lines still do not fit, the middle of the card gives way, never its first or last lines.
    """
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    while (excess := len("\n".join(lines)) - limit) > 0:
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        if len(lines[longest]) <= SHORTENED_LINE_FLOOR:
            break
        lines[longest] = shorten(lines[longest], max(SHORTENED_LINE_FLOOR, len(lines[longest]) - excess))
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    marker = "\n…\n"
    head = text[: (limit - len(marker)) // 2].rsplit("\n", 1)[0]
    tail = text[len(text) - (limit - len(marker) - len(head)) :]
    tail = tail.split("\n", 1)[1] if "\n" in tail else tail
    return head + marker + tail


def _chat_id(external_id: str | int) -> int | str:
    """Telegram chat ids are numbers; as strings the rate limiter would count every chat as a group."""
    text = str(external_id)
    return int(text) if text.lstrip("-").isdigit() else text


def _describe(error: BaseException) -> str:
    """What a failure was, for the outbox row and the log (Telegram's text; never a message's content)."""
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


async def set_command_menus(bot: ExtBot[int], t: Translator, staff_chat_id: int | None) -> None:
    """The command menus, in Indonesian (default and "id"): representatives' in private chats, staff's in the
    staff group."""
    private = [
        BotCommand("mulai", t("Start / main menu")),
        BotCommand("ajukan", t("Request an audience")),
        BotCommand("status", t("Status of my requests")),
        BotCommand("batal", t("Abandon the form in progress")),
        BotCommand("bantuan", t("Help")),
    ]
    staff = [
        BotCommand("antrean", t("Requests awaiting a decision")),
        BotCommand("libur", t("Officials' days off")),
        BotCommand("batal", t("Abandon the form in progress")),
        BotCommand("bantuan", t("Help")),
    ]
    await bot.delete_my_commands(scope=BotCommandScopeDefault())  # an older version's list for every chat
    for language in (None, "id"):
        await bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats(), language_code=language)
        if staff_chat_id is not None:
            await bot.set_my_commands(staff, scope=BotCommandScopeChat(staff_chat_id), language_code=language)


async def setup_bot(bot: ExtBot[int], t: Translator, staff_chat_id: int | None) -> None:
    """What every mode (polling, webhook, set-webhook) does at start; a failure here does not stop the bot."""
    try:
        await set_command_menus(bot, t, staff_chat_id)
    except TelegramError as error:
        log.warning("the command menus could not be set (%s); they stay as they were", _describe(error))


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
        files: LetterFiles | None = None,
    ) -> None:
        self.gate = gate  # quiet hours and pointless reminders
        self.files = files  # letters received on another channel, to upload
        self.service = service
        self.bot = bot
        self.outbox = outbox
        self.cards = cards
        self.clock = clock
        self.staff_chat_id = staff_chat_id
        persona = service.engines[REPRESENTATIVE].persona
        self._menu_keys = {option.key for option in persona.menu(service.translator())}
        # The reply-keyboard menu is shown in the person's language: its labels are recognised in every language.
        self._menu_by_label = {
            option.label.casefold(): option.key
            for language in ("id", "en")
            for option in persona.menu(service.translator(language))
        }
        self._answered: set[str] = set()  # callback queries answered while their update is being handled
        self._warned_staff_chats: set[str] = set()  # staff chats the bot cannot write to, logged once each
        # The staff group, and the supergroup it became (learnt from Telegram, or from the cards posted there).
        self._staff_groups: set[int] = {staff_chat_id} if staff_chat_id is not None else set()
        self._told_not_here: set[int] = set()  # other groups told (once) that the bot serves only the staff group
        self._failed_this_round: set[int] = set()  # outbox rows that failed since deliver_due last ran dry

    # ---- setup -------------------------------------------------------------------------------------------

    async def set_commands(self) -> None:
        await set_command_menus(self.bot, self.service.translator("id"), self.staff_chat_id)

    async def setup(self) -> None:
        """What every mode (polling, webhook) does at start; a failure here does not stop the bot."""
        await setup_bot(self.bot, self.service.translator("id"), self.staff_chat_id)

    # ---- inbound -----------------------------------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Handle one update; never raises. A failure is logged, and the person is told in their language."""
        query = update.callback_query
        try:
            if query is not None:
                await self._on_press(update, query)
            elif update.message is not None:
                await self._on_message(update, update.message)
        except Exception as error:
            if isinstance(error, TelegramError):
                log.warning("update %s: Telegram refused a call (%s)", update.update_id, _describe(error))
            else:
                log.exception("update %s could not be handled", update.update_id)
            await self._apologize(update)
        finally:
            if query is not None:
                self._answered.discard(query.id)

    async def _apologize(self, update: Update) -> None:
        user = update.effective_user
        t = self.service.translator(_language(user.language_code if user else None))
        sorry = t("Sorry, something went wrong on our side. Please try again.")
        query = update.callback_query
        if query is not None and query.id not in self._answered:
            await self._answer(query, sorry, alert=True)
            return
        chat = update.effective_chat
        if chat is None:
            return
        message = update.effective_message
        reply_to = message.id if message is not None and self._is_group(chat.type) else None
        try:
            await self.bot.send_message(
                chat.id,
                sorry,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
            )
        except TelegramError as error:
            log.warning("could not send an apology (%s)", _describe(error))  # no chat id: a person's

    def _is_group(self, chat_type: str) -> bool:
        return chat_type in ("group", "supergroup")

    async def _is_staff_group(self, chat_id: int) -> bool:
        """The configured staff group, or the supergroup it became. Only there do staff see and decide requests:
        a card posted anywhere else would show a representative's details to strangers.

        A group upgraded to a supergroup gets a new id: this process learns it from the migration's service
        message or a send refused with ChatMigrated; another process from the staff cards posted there."""
        if chat_id in self._staff_groups:
            return True
        if await self.cards.posted_in(CHANNEL, str(chat_id), "card"):
            self._staff_groups.add(chat_id)
            return True
        return False

    def _learn_migration(self, message: Message) -> None:
        """A group's service message: it became a supergroup (new id). The staff group's work follows it."""
        moved = None
        if message.migrate_to_chat_id is not None and message.chat.id in self._staff_groups:
            moved = message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None and message.migrate_from_chat_id in self._staff_groups:
            moved = message.chat.id
        if moved is not None and moved not in self._staff_groups:
            self._staff_groups.add(moved)
            log.warning("the staff group is now the supergroup %s: set AUDIENSI_TELEGRAM_STAFF_CHAT_ID=%s",
                        moved, moved)  # fmt: skip

    def _addressed_elsewhere(self, text: str | None) -> bool:
        """A command for another bot in the same group ("/start@OtherBot"): not ours to answer."""
        if not text or not text.startswith("/"):
            return False
        _command, at, name = text.split(maxsplit=1)[0].partition("@")
        if not at:
            return False
        try:
            ours = self.bot.username
        except RuntimeError:  # not initialized (getMe not called): take the command as ours
            return False
        return name.casefold() != ours.casefold()

    async def _not_here(self, message: Message) -> None:
        """Someone used the bot in a group that is not the staff group: said once per group, no request data."""
        chat_id = message.chat.id
        if chat_id in self._told_not_here:
            return
        self._told_not_here.add(chat_id)
        user = message.from_user
        t = self.service.translator(_language(user.language_code if user else None))
        try:  # best-effort, never queued: not a staff chat, so not _reply (whose failures concern staff chats)
            await self.send(chat_id, Text(t(NOT_THE_STAFF_GROUP)), reply_to=message.id)
        except TelegramError as error:
            log.info("could not answer in a group that is not the staff group (%s)", _describe(error))

    def _persona_for(self, user_id: int) -> str:
        staff = self.service.staff_for(Address(CHANNEL, str(user_id)))
        return STAFF if staff is not None else REPRESENTATIVE

    async def _on_message(self, update: Update, message: Message) -> None:
        user = message.from_user
        group = self._is_group(message.chat.type)
        if group:
            self._learn_migration(message)
        if user is None or user.is_bot or self._addressed_elsewhere(message.text):
            return
        if group:
            await self._on_group_message(update, message)
            return
        inbound = self._inbound(message, user.id)
        if inbound is None:  # the conversation stays at its question
            t = self.service.translator(_language(user.language_code))
            await self._reply(message.chat.id, [Text(t(UNREADABLE))])
            return
        persona = self._persona_for(user.id)
        replies = await self.service.handle(
            Address(CHANNEL, str(message.chat.id)), inbound, persona=persona, supports_files=True,
            event_id=str(update.update_id), language=_language(user.language_code),
            numbered_above=BUTTON_LIMIT)  # buttons carry no numbers: "9" typed at a time question is 09.00  # fmt: skip
        await self._reply(message.chat.id, replies)

    async def _on_group_message(self, update: Update, message: Message) -> None:
        """In a staff group the bot takes commands, replies to its own messages, and plain text from a staff
        member whose decision waits for their answer.

        With Telegram's default privacy mode a bot in a group receives only commands and replies to it; plain
        text arrives only when the bot is an admin or its privacy mode is off (README).
        """
        user = message.from_user
        assert user is not None
        chat_id = message.chat.id
        text = message.text or ""
        conversation = Address(CHANNEL, f"{chat_id}:{user.id}")
        replying_to_bot = (
            message.reply_to_message is not None
            and message.reply_to_message.from_user is not None
            and message.reply_to_message.from_user.id == self.bot.id
        )
        if text.startswith("/") or replying_to_bot:
            if not await self._is_staff_group(chat_id):
                await self._not_here(message)
                return
        elif (
            message.text is None  # a sticker, a photo… in the group's chatter
            or not await self._awaits_input(conversation, user.id)
            or not await self._is_staff_group(chat_id)
        ):
            return
        if message.text is None:  # a sticker or voice note in reply to the bot: the question stays
            t = self.service.translator(_language(user.language_code))
            await self._reply(chat_id, [Text(t(UNREADABLE))], reply_to=message.id)
            return
        replies = await self.service.handle(
            conversation, TextIn(text), persona=STAFF, sender=Address(CHANNEL, str(user.id)),
            event_id=str(update.update_id), compact=True, numbered_above=BUTTON_LIMIT)  # fmt: skip
        await self._reply(message.chat.id, replies, group_user=(user.id, user.full_name), reply_to=message.id)

    async def _awaits_input(self, conversation: Address, user_id: int) -> bool:
        """A staff member in the group is in the middle of a decision: what they type is its next answer."""
        if self.service.staff_for(Address(CHANNEL, str(user_id))) is None:
            return False
        async with self.service.unit_of_work() as uow:
            state = await uow.conversations.load(conversation)
        return state is not None and state.frame is not None

    def _inbound(self, message: Message, user_id: int) -> Inbound | None:
        """What a private message says to the conversation; None when it is nothing a question can take (a
        sticker, a voice note, a location, a video…)."""
        if message.contact is not None:
            # The "share my number" button sends the sender's own contact; any other card is someone else's.
            return ContactIn(message.contact.phone_number, own=message.contact.user_id == user_id)
        if message.document is not None:
            doc = message.document
            return FileIn(FileRef(CHANNEL, doc.file_id, doc.file_name or "dokumen",
                                  doc.mime_type or "application/octet-stream", doc.file_size or 0))  # fmt: skip
        if message.photo:
            photo = message.photo[-1]  # the largest size
            return FileIn(FileRef(CHANNEL, photo.file_id, f"foto-{photo.file_unique_id}.jpg", "image/jpeg",
                                  photo.file_size or 0))  # fmt: skip
        if message.text is None:
            return None
        text = message.text
        key = self._menu_by_label.get(clean_text(text).casefold())
        if key is not None:
            return PressIn(key)  # the reply-keyboard menu works at any step
        return TextIn(text)

    async def _on_press(self, update: Update, query: CallbackQuery) -> None:
        message = query.message
        data = query.data or ""
        if not isinstance(message, Message):
            await self._answer(query)
            return
        chat = message.chat
        user = query.from_user
        group = self._is_group(chat.type)
        if group and not await self._is_staff_group(chat.id):
            t = self.service.translator(_language(user.language_code))
            await self._answer(query, shorten(t(NOT_THE_STAFF_GROUP), ALERT_LIMIT), alert=True)
            return
        if group:
            replies = await self.service.handle(
                Address(CHANNEL, f"{chat.id}:{user.id}"), PressIn(data), persona=STAFF,
                sender=Address(CHANNEL, str(user.id)), event_id=str(update.update_id), compact=True)  # fmt: skip
        else:
            replies = await self.service.handle(
                Address(CHANNEL, str(chat.id)), PressIn(data), persona=self._persona_for(user.id),
                supports_files=True, event_id=str(update.update_id))  # fmt: skip
        # The answer is saved. Answering the query and closing the keyboard are best-effort; the replies are
        # always sent or kept in the outbox (_reply), whatever Telegram does meanwhile.
        if not replies:  # a redelivered update: it was handled the first time
            await self._answer(query)
            return
        refusal = next((r for r in replies if isinstance(r, Refusal)), None)
        await self._answer(query, shorten(refusal.body, ALERT_LIMIT) if refusal else None, alert=refusal is not None)
        if group:
            if refusal is not None:
                return
            if not data.startswith("g:"):  # a step of this person's decision; cards are edited by delivery
                await self._close_keyboard(message, data, chosen=True)
            await self._reply(chat.id, replies, group_user=(user.id, user.full_name), reply_to=message.id)
            return
        await self._close_keyboard(message, data, chosen=refusal is None)
        await self._reply(chat.id, [r for r in replies if r is not refusal])

    async def _answer(self, query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
        """Answer a callback query (the button stops spinning); best-effort."""
        self._answered.add(query.id)
        try:
            await query.answer(text, show_alert=alert)
        except TelegramError as error:
            log.info("callback query not answered (%s)", _describe(error))

    async def _close_keyboard(self, message: Message, data: str, *, chosen: bool) -> None:
        """Edit the pressed message in place: its buttons go, and the choice made is written under it."""
        label = None
        if message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == data:
                        label = button.text
        suffix = f"\n\n✓ {label}" if chosen and label else ""
        text = shorten(message.text or "", TEXT_LIMIT - len(suffix)) + suffix
        try:
            await self.bot.edit_message_text(text, chat_id=message.chat.id, message_id=message.id)
        except TelegramError as error:  # best-effort: the question stays as it was
            log.info("could not close a keyboard (%s)", _describe(error))

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
            shown = message.options[:BUTTON_LIMIT]
            body = message.body + self._unbuttoned(message.options, t, group=group_user is not None)
            if group_user is not None:
                body += "\n\n" + t("To type an answer, reply to this message.")
            buttons = [[InlineKeyboardButton(o.label[:64], callback_data=o.key)] for o in shown]
            return Rendered(body, InlineKeyboardMarkup(buttons))
        if isinstance(message, Prompt):
            if group_user is not None:
                # Addressed to the staff member who is deciding, so their app opens a reply to this question.
                user_id, name = group_user
                mention = f'<a href="tg://user?id={user_id}">{html.escape(name)}</a>'
                hint = t("Please reply to this message.")
                return Rendered(f"{mention}, {html.escape(message.body)}\n\n{html.escape(hint)}",
                                ForceReply(selective=True), html=True)  # fmt: skip
            if message.hint is InputHint.PHONE:
                button = KeyboardButton(t("Share my phone number"), request_contact=True)
                return Rendered(message.body, ReplyKeyboardMarkup([[button]], resize_keyboard=True,
                                                                  one_time_keyboard=True))  # fmt: skip
        return Rendered(message.body)

    @staticmethod
    def _unbuttoned(options: Sequence[Option], t: Translator, *, group: bool) -> str:
        """Options beyond the buttons, as numbered lines (typing the number chooses one)."""
        if len(options) <= BUTTON_LIMIT:
            return ""
        listed = options[BUTTON_LIMIT:TYPED_NUMBER_LIMIT]
        first, last = BUTTON_LIMIT + 1, BUTTON_LIMIT + len(listed)
        how = (
            t("{count} more are listed below without buttons: reply to this message with the number of one "
              "({first}–{last}) to choose it.", count=len(listed), first=first, last=last)
            if group
            else t("{count} more are listed below without buttons: type the number of one ({first}–{last}) to "
                   "choose it.", count=len(listed), first=first, last=last)
        )  # fmt: skip
        lines = [f"{number}. {option.label}" for number, option in enumerate(listed, first)]
        rest = len(options) - TYPED_NUMBER_LIMIT
        if rest > 0:
            lines.append(t.plural("… and {n} more, shown once the ones above are dealt with.",
                                  "… and {n} more, shown once the ones above are dealt with.", rest))  # fmt: skip
        return "\n\n" + how + "\n" + "\n".join(lines)

    async def _reply(
        self,
        chat_id: int,
        replies: Sequence[Outbound],
        *,
        group_user: tuple[int, str] | None = None,
        reply_to: int | None = None,
    ) -> None:
        """Send the replies to what a person did; what cannot be sent now is kept in the outbox (never lost)."""
        for index, outbound in enumerate(replies):
            try:
                await self.send(chat_id, outbound, group_user=group_user, reply_to=reply_to)
            except Forbidden as error:
                await self._unreachable(str(chat_id), None, error)
                return
            except Exception as error:
                # Telegram is unreachable for longer than our retries, or refused the message: keep what we owe
                # for the delivery loop, which retries and records the reason on the row.
                log.warning("%s replies queued in the outbox (%s)", len(replies) - index, _describe(error))
                await self.service.owe(Address(CHANNEL, str(chat_id)), list(replies[index:]))
                return

    async def send(
        self, chat_id: int | str, outbound: Outbound, *, group_user: tuple[int, str] | None = None,
        reply_to: int | None = None,
    ) -> Message:  # fmt: skip
        if isinstance(outbound, Document):
            try:
                if self.files is None:
                    raise LetterUnavailable(MISSING)
                sent_file: Message = await send_on_telegram(self._with_retries, self.bot, _chat_id(chat_id), outbound,
                                                            self.files, reply_to)  # fmt: skip
                return sent_file
            except LetterUnavailable as unavailable:
                outbound = Text(unavailable.tell(self.service.translator()))
        rendered = self.render(outbound, group_user=group_user)
        parts = split_text(rendered.text)
        sent: Message | None = None
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            sent = await self._with_retries(
                self.bot.send_message,
                chat_id=_chat_id(chat_id),
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

    async def _unreachable(self, chat_id: str, request_id: int | None, error: TelegramError) -> None:
        """A Forbidden answer. A representative is marked unreachable (staff see it on the card); a staff
        chat is only logged, once: warning staff about their own chat would fail the same way, forever."""
        if self._is_staff_address(chat_id):
            if chat_id not in self._warned_staff_chats:
                self._warned_staff_chats.add(chat_id)
                log.error(
                    "the bot cannot write to staff chat %s (%s): add the bot to the staff group again (or check "
                    "AUDIENSI_TELEGRAM_STAFF_CHAT_ID); notices to it are marked failed (audiensi messages)",
                    chat_id, _describe(error),
                )  # fmt: skip
            return
        log.debug("chat %s cannot be reached (%s)", chat_id, _describe(error))  # a person's id: DEBUG only
        await self.service.report_unreachable(Address(CHANNEL, chat_id), BLOCKED, request_id)

    def _is_staff_address(self, chat_id: str) -> bool:
        return (
            self._is_staff_chat(chat_id)
            or chat_id.startswith("-")  # a group: only staff groups receive notices
            or self.service.staff_for(Address(CHANNEL, chat_id)) is not None
        )

    # ---- delivering the outbox ---------------------------------------------------------------------------

    async def deliver_due(self, limit: int = 30) -> int:
        """Send what the bot owes people on Telegram (decisions, staff cards, queued replies); returns how many
        rows were handled (at most `limit`).

        Each recipient's rows leave one at a time and in order, several recipients side by side: the staff
        group held at its 20 a minute by the rate limiter holds up no representative. A row is claimed only
        when its sending starts, so its lease (2 minutes) covers that send alone, and another process never
        takes the next row of a recipient whose row is still on its way. A row that failed is not claimed again
        in the same round (until a call finds nothing more to send), however soon its retry time comes.
        """
        started = 0
        lanes: dict[asyncio.Task[bool], int] = {}
        try:
            while True:
                room = min(limit - started, DELIVERY_LANES - len(lanes))
                if room > 0:
                    items = await self.outbox.claim(self.clock.now(), channel=CHANNEL, limit=room,
                                                    one_per_recipient=True,
                                                    exclude=self._failed_this_round)  # fmt: skip
                    lanes |= {asyncio.create_task(self._deliver_logged(item)): item.id for item in items}
                    started += len(items)
                if not lanes:
                    if started < limit:  # nothing more is due: the next call starts a new round
                        self._failed_this_round.clear()
                    return started
                # A lane waiting on its rate limit must not keep newly due rows of others waiting: look again
                # every DELIVERY_LOOK_AGAIN seconds even when no lane has finished.
                done, _pending = await asyncio.wait(lanes, timeout=DELIVERY_LOOK_AGAIN,
                                                    return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for lane in done:
                    row = lanes.pop(lane)
                    if not lane.result():
                        self._failed_this_round.add(row)
        finally:
            for lane in lanes:  # cancelled (shutdown): their rows go back to others when the lease ends
                lane.cancel()

    async def _deliver_logged(self, item: OutboxItem) -> bool:
        """Deliver one row; False when it failed (it is then not claimed again in this round)."""
        try:
            return await self._deliver(item)
        except Exception:  # the database failed while recording the outcome: the lease brings the row back
            log.exception("outbox %s (%s): the outcome could not be recorded", item.id, item.kind)
            return False

    async def _deliver(self, item: OutboxItem) -> bool:
        """Deliver one row; whatever goes wrong is recorded on the row (retried, or failed and visible).

        Returns False when sending failed. The clock is read after the send: a slow or unreachable Telegram
        takes tens of seconds to fail, and the retry time counts from the failure, not from the claim.
        """
        try:
            if self.gate is not None and not await self.gate.allow(item):
                return True
            target = item.external_id
            try:
                await self._deliver_to(item, target)
            except ChatMigrated as moved:
                target = str(moved.new_chat_id)
                if self._is_staff_chat(item.external_id):
                    self._staff_groups.add(int(moved.new_chat_id))
                log.warning(
                    "Telegram chat %s is now the supergroup %s: set AUDIENSI_TELEGRAM_STAFF_CHAT_ID=%s "
                    "(sending there meanwhile)", item.external_id, target, target,
                )  # fmt: skip
                await self._deliver_to(item, target)
        except Exception as error:
            await self._record_failure(item, error)
            return False
        await self.outbox.mark_sent(item.id, self.clock.now())
        return True

    async def _record_failure(self, item: OutboxItem, error: Exception) -> None:
        """Why the row failed, and whether (and when) it is tried again, from the moment of the failure.

        A refused message fails at once; a blocked bot marks the person unreachable. Other errors are retried
        with a backoff (capped at 5 minutes): a reminder of an audience and the day's agenda for as long as they
        are worth sending (the delivery gate skips them once the audience has begun or the day is over), any
        other row up to MAX_DELIVERY_ATTEMPTS. A representative's reminder that fails for good refreshes the
        staff card, whose reminder lines then show it.
        """
        now = self.clock.now()
        reason = _describe(error)
        if isinstance(error, Forbidden):
            await self.outbox.mark_failed(item.id, reason)
            await self._unreachable(item.external_id, item.request_id, error)
            return
        if isinstance(error, BadRequest | ValueError):  # the message itself is refused: sending again won't help
            log.warning("outbox %s (%s) refused: %s", item.id, item.kind, reason)
            await self.outbox.mark_failed(item.id, reason)
            await self._given_up(item, reason)
            return
        if item.attempts >= MAX_DELIVERY_ATTEMPTS and not retried_while_useful(item.kind, item.extra):
            log.warning("outbox %s (%s) failed after %s attempts: %s", item.id, item.kind, item.attempts, reason)
            await self.outbox.mark_failed(item.id, f"gave up after {item.attempts} attempts: {reason}")
            await self._given_up(item, reason)
            return
        if isinstance(error, RetryAfter):
            retry_at = now + timedelta(seconds=_seconds(error.retry_after))
        else:
            if not isinstance(error, NetworkError):
                log.error("outbox %s (%s) could not be sent: %s", item.id, item.kind, reason)
            retry_at = now + timedelta(seconds=retry_delay(item.attempts))
        await self.outbox.mark_failed(item.id, reason, retry_at=retry_at)

    async def _given_up(self, item: OutboxItem, reason: str) -> None:
        """A row failed for good: staff hear of a representative's lost reminder (with the phone number to call),
        or of any other notice to a representative that never arrived; a staff chat's is only logged."""
        if item.kind in REMINDER_KINDS:
            await self.service.report_reminder_lost(item.kind, item.request_id)
        elif not self._is_staff_address(item.external_id):
            await self.service.report_undelivered(Address(CHANNEL, item.external_id), item.request_id, reason)

    def _is_staff_chat(self, external_id: str) -> bool:
        return self.staff_chat_id is not None and external_id == str(self.staff_chat_id)

    async def _deliver_to(self, item: OutboxItem, chat: str) -> None:
        if item.kind in CARD_KINDS and item.request_id is not None and self._is_staff_chat(item.external_id):
            await self._deliver_card(item, chat)
        else:
            for message in item.messages:
                await self.send(chat, message)

    async def _deliver_card(self, item: OutboxItem, chat: str) -> None:
        """One card per request in the staff group, edited as the request moves on."""
        assert item.request_id is not None
        *intro, card = item.messages
        rendered = self.render(card)
        markup = rendered.markup if isinstance(card, Choice) else None
        existing = await self.cards.latest(CHANNEL, chat, item.request_id, "card")
        if existing is not None and item.kind != "new_request":
            try:
                await self._with_retries(self.bot.edit_message_text, chat_id=_chat_id(chat),
                                         message_id=int(existing), text=fit_card(rendered.text),
                                         reply_markup=markup)  # fmt: skip
                edited = True
            except BadRequest as error:
                edited = "not modified" in error.message.lower()
                if not edited:  # deleted, or too old to edit: a new card takes its place
                    log.info("card of request %s could not be edited (%s); posting a new one", item.request_id,
                             error.message)  # fmt: skip
            if edited:
                for note in intro:
                    await self.send(chat, note, reply_to=int(existing))
                return
        text = fit_card("\n\n".join([*(m.body for m in intro), rendered.text]))
        sent = await self._with_retries(self.bot.send_message, chat_id=_chat_id(chat), text=text,
                                        reply_markup=markup)  # fmt: skip
        await self.cards.remember(CHANNEL, chat, str(sent.message_id), item.request_id, "card",
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

    async def run_polling(
        self, stop: asyncio.Event, poll_seconds: int = 20, *, concurrency: int = POLLING_CONCURRENCY
    ) -> None:
        """getUpdates in a loop (one process per token) until `stop`; it never gives up on an error.

        Updates of different conversations are handled concurrently (at most `concurrency` at once), those of
        one conversation in order. An update is confirmed (offset) once it is queued; on `stop` the queued ones
        are finished first (at most POLLING_DRAIN_SECONDS).
        """
        lanes = _Lanes(self.process, concurrency, POLLING_MAX_PENDING)
        offset: int | None = None
        backoff = 1.0
        webhook_deleted = False
        try:
            while not stop.is_set():
                await lanes.room(stop)
                try:
                    if not webhook_deleted:
                        await self.bot.delete_webhook()
                        webhook_deleted = True
                    updates = await self.bot.get_updates(
                        offset=offset, timeout=poll_seconds, allowed_updates=["message", "callback_query"]
                    )
                    backoff = 1.0
                except Exception as error:
                    wait = _polling_trouble(error, backoff)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait)
                    backoff = min(backoff * 2, 60.0)
                    continue
                for update in updates:
                    lanes.put(self._lane(update), update)
                    offset = update.update_id + 1
        finally:
            await lanes.close(POLLING_DRAIN_SECONDS)

    def _lane(self, update: Update) -> str:
        """The conversation an update belongs to: a private chat, or one staff member in a group."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return "-"
        if self._is_group(chat.type) and user is not None:
            return f"{chat.id}:{user.id}"
        return str(chat.id)


def _polling_trouble(error: Exception, backoff: float) -> float:
    """Log why getUpdates failed, clearly; returns how long to wait before the next try."""
    if isinstance(error, Conflict):
        log.error(
            "getUpdates refused with 409 Conflict (%s): another process is polling with this bot token, or a "
            "webhook is set for it. Stop the other process, or remove the webhook (audiensi telegram "
            "delete-webhook) if this process should poll. Retrying in %.0f s",
            error.message, backoff,
        )  # fmt: skip
        return backoff
    if isinstance(error, RetryAfter):
        wait = _seconds(error.retry_after)
        log.warning("getUpdates rate limited; retrying in %.0f s", wait)
        return wait
    if isinstance(error, InvalidToken):
        log.error("Telegram refused the bot token (check AUDIENSI_TELEGRAM_TOKEN); retrying in %.0f s", backoff)
        return backoff
    if isinstance(error, NetworkError):
        log.warning("getUpdates failed (%s); retrying in %.0f s", _describe(error), backoff)
        return backoff
    log.error("getUpdates failed (%s); retrying in %.0f s", _describe(error), backoff, exc_info=error)
    return backoff


class _Lanes:
    """One queue per conversation: handled in order within it, concurrently across them, with bounds."""

    def __init__(self, handle: Callable[[Update], Awaitable[None]], concurrency: int, max_pending: int) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(concurrency)
        self._max_pending = max_pending
        self._queues: dict[str, collections.deque[Update]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._room = asyncio.Event()
        self._room.set()

    def _count(self, change: int) -> None:
        self._pending += change
        if self._pending >= self._max_pending:
            self._room.clear()
        else:
            self._room.set()

    def put(self, key: str, update: Update) -> None:
        self._queues.setdefault(key, collections.deque()).append(update)
        self._count(1)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._run(key))

    async def _run(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                async with self._slots:
                    await self._handle(queue[0])  # process() never raises
                queue.popleft()
                self._count(-1)
        finally:
            # No await between the last check of `queue` and here: put() cannot slip an update in unseen.
            self._count(-len(queue))
            del self._tasks[key]
            del self._queues[key]

    async def room(self, stop: asyncio.Event) -> None:
        """Wait while too many updates are fetched but not yet handled."""
        if self._room.is_set():
            return
        stopped = asyncio.create_task(stop.wait())
        room = asyncio.create_task(self._room.wait())
        await asyncio.wait({stopped, room}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        room.cancel()

    async def close(self, drain_seconds: float) -> None:
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=drain_seconds)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _language(code: str | None) -> str | None:
    if not code:
        return None
    return "en" if code.startswith("en") else "id"
