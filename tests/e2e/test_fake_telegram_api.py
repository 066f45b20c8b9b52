"""The fake Bot API speaks the real protocol: python-telegram-bot talks to it over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from telegram import (
    Bot,
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes import telegram_api as fake_telegram
from tests.fakes.telegram_api import FakeTelegramAPI

# The shared fixture; a conftest would import it the same way.
telegram_api = fake_telegram.telegram_api

USER = 6281234  # a private chat has the user's id
OTHER_USER = 7001
GROUP = -1001234567890


@pytest.fixture
async def bot(telegram_api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with telegram_api.make_bot() as bot:
        yield bot


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs])


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ------------------------------------------------------------------------------ basics


async def test_urls_are_what_ptb_composes(telegram_api: FakeTelegramAPI) -> None:
    bot = Bot(telegram_api.token, base_url=telegram_api.base_url, base_file_url=telegram_api.base_file_url)
    assert bot.base_url == f"http://127.0.0.1:{telegram_api.port}/bot{telegram_api.token}"
    assert bot.base_file_url == f"http://127.0.0.1:{telegram_api.port}/file/bot{telegram_api.token}"


async def test_get_me(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.id == 123456
    assert me.username == "audiensi_test_bot"
    assert telegram_api.calls("getMe") == [{}, {}]  # Bot.initialize() (async with) calls getMe too


async def test_unknown_token_is_unauthorized(telegram_api: FakeTelegramAPI) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{telegram_api.base_url}999:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    wrong = Bot("999:WRONG", base_url=telegram_api.base_url, base_file_url=telegram_api.base_file_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()  # calls getMe
    finally:
        await wrong.shutdown()


async def test_unknown_method_is_a_clear_bad_request(telegram_api: FakeTelegramAPI) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{telegram_api.base_url}{telegram_api.token}/sendPoll", json={})
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["error_code"] == 400
    assert "method not found" in body["description"] and "sendPoll" in body["description"]


async def test_json_get_and_case_insensitive_requests(telegram_api: FakeTelegramAPI) -> None:
    url = f"{telegram_api.base_url}{telegram_api.token}"
    async with httpx.AsyncClient() as client:
        by_json = await client.post(f"{url}/sendMessage", json={"chat_id": USER, "text": "json"})
        by_get = await client.get(f"{url}/SENDMESSAGE", params={"chat_id": USER, "text": "get"})
    assert by_json.json()["result"]["text"] == "json"
    assert by_get.json()["result"]["message_id"] == 2
    assert [r.method for r in telegram_api.requests] == ["sendMessage", "sendMessage"]
    assert telegram_api.calls("sendMessage")[1] == {"chat_id": USER, "text": "get"}


# ------------------------------------------------------------------------------ sending and editing


async def test_send_message_with_inline_keyboard(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    sent = await bot.send_message(USER, "Pilih layanan:", reply_markup=keyboard(("Audiensi", "svc:aud")))

    assert sent.message_id == 1
    assert sent.chat.id == USER and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup == keyboard(("Audiensi", "svc:aud"))

    [stored] = telegram_api.messages_to(USER)
    assert stored.text == "Pilih layanan:"
    assert stored.reply_markup == {"inline_keyboard": [[{"text": "Audiensi", "callback_data": "svc:aud"}]]}
    assert stored.button_texts == [["Audiensi"]]
    assert stored.button_data("Audiensi") == "svc:aud"
    assert not stored.deleted
    assert telegram_api.calls("sendMessage")[0]["reply_markup"] == stored.reply_markup  # decoded JSON


async def test_message_ids_increase_per_chat(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.user_text(USER, "halo")  # the user's message takes id 1 in that chat
    first = await bot.send_message(USER, "satu")
    second = await bot.send_message(USER, "dua")
    elsewhere = await bot.send_message(OTHER_USER, "lain")
    assert (first.message_id, second.message_id, elsewhere.message_id) == (2, 3, 1)
    assert [m.text for m in telegram_api.messages_to(USER)] == ["satu", "dua"]
    assert [m.from_bot for m in telegram_api.chat_history(USER)] == [False, True, True]
    last = telegram_api.last_message_to(USER)
    assert last is not None and last.text == "dua"


async def test_edit_message_text_changes_what_the_user_sees(
    bot: Bot,
    telegram_api: FakeTelegramAPI,
) -> None:
    sent = await bot.send_message(USER, "Pilih jam:", reply_markup=keyboard(("09:00", "slot:9")))

    edited = await bot.edit_message_text(
        "Jam 09:00 dipilih.", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("Batal", "x"))
    )
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Jam 09:00 dipilih." and edited.edit_date is not None

    [stored] = telegram_api.messages_to(USER)
    assert stored.text == "Jam 09:00 dipilih."
    assert stored.button_texts == [["Batal"]]
    assert stored.history == ["Pilih jam:"]

    # Editing the text without reply_markup removes the inline keyboard, like Telegram.
    await bot.edit_message_text("Selesai.", chat_id=USER, message_id=sent.message_id)
    assert telegram_api.messages_to(USER)[0].reply_markup is None

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Selesai.", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("?", chat_id=USER, message_id=99)


async def test_edit_reply_markup_and_delete(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    sent = await bot.send_message(USER, "Konfirmasi?", reply_markup=keyboard(("Ya", "yes")))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard(("Ya", "yes")))
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert telegram_api.messages_to(USER)[0].reply_markup is None
    assert telegram_api.messages_to(USER)[0].text == "Konfirmasi?"

    assert await bot.delete_message(USER, sent.message_id) is True
    assert telegram_api.messages_to(USER)[0].deleted
    assert telegram_api.last_message_to(USER) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


async def test_reply_keyboard_and_force_reply_are_recorded(
    bot: Bot,
    telegram_api: FakeTelegramAPI,
) -> None:
    phone = ReplyKeyboardMarkup([[KeyboardButton("Kirim nomor HP", request_contact=True)]])
    sent = await bot.send_message(USER, "Bagikan nomor HP Anda", reply_markup=phone)
    assert sent.reply_markup is None  # Telegram only echoes inline keyboards in Message
    assert telegram_api.messages_to(USER)[0].reply_markup == phone.to_dict()

    telegram_api.user_text(OTHER_USER, "/daftar", chat_id=GROUP)
    with pytest.raises(BadRequest, match=r"(?i)private chats only"):
        await bot.send_message(GROUP, "Nomor HP?", reply_markup=phone)
    prompt = await bot.send_message(GROUP, "Nama lengkap?", reply_markup=ForceReply(selective=True))
    assert telegram_api.messages_to(GROUP)[0].reply_markup == {"force_reply": True, "selective": True}

    telegram_api.user_reply(OTHER_USER, GROUP, prompt.message_id, "Siti Aminah")
    updates = await bot.get_updates()
    reply = updates[-1].message
    assert reply is not None and reply.text == "Siti Aminah"
    assert reply.chat.type == "supergroup"
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == prompt.message_id
    assert reply.reply_to_message.text == "Nama lengkap?"


# ------------------------------------------------------------------------------ Telegram's validation


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    await bot.send_message(USER, "ok", reply_markup=keyboard(("a", "x" * 64)))
    await bot.send_message(USER, "ok", reply_markup=keyboard(("b", "é" * 32)))  # 64 bytes
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "too long", reply_markup=keyboard(("c", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "33 chars, 66 bytes", reply_markup=keyboard(("d", "é" * 33)))
    # PTB rewrites the description; on the wire it is Telegram's exact text.
    assert telegram_api.requests[-1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: BUTTON_DATA_INVALID",
    }
    assert len(telegram_api.messages_to(USER)) == 2


async def test_text_over_4096_characters_is_refused(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    await bot.send_message(USER, "a" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "a" * 4097)
    assert telegram_api.requests[-1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message is too long",
    }
    assert [len(m.text or "") for m in telegram_api.messages_to(USER)] == [4096]
    assert len(telegram_api.calls("sendMessage")) == 2
    assert len(telegram_api.calls("sendMessage", ok=False)) == 1


async def test_empty_text_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "   ")


# ------------------------------------------------------------------------------ fault injection


# PTB itself warns that RetryAfter.retry_after becomes a timedelta (unless PTB_TIMEDELTA=true).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_then_retry(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(USER, "Jadwal Anda")
    assert seconds(raised.value.retry_after) == 3

    await bot.send_message(USER, "Jadwal Anda")  # the retry goes through
    assert [m.text for m in telegram_api.messages_to(USER)] == ["Jadwal Anda"]
    sends = [r for r in telegram_api.requests if r.method == "sendMessage"]
    assert [r.status for r in sends] == [429, 200]
    assert sends[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


async def test_server_errors_are_network_errors(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.fail_next("sendMessage", status=502)
    telegram_api.fail_next("sendMessage", status=500)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(USER, "x")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")
    assert len(telegram_api.messages_to(USER)) == 1


async def test_delay_makes_the_client_time_out_but_the_send_still_happens(
    bot: Bot,
    telegram_api: FakeTelegramAPI,
) -> None:
    telegram_api.delay_next("sendMessage", 1.0)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "lambat", read_timeout=0.2)
    message = await telegram_api.wait_for_message(USER, "lambat", timeout=3)
    assert message.message_id == 1


async def test_blocked_chat_is_forbidden(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.block_chat(USER)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(USER, "Pengingat audiensi")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(USER, "typing")
    await bot.send_message(OTHER_USER, "boleh")
    telegram_api.unblock_chat(USER)
    await bot.send_message(USER, "lagi")
    assert [m.text for m in telegram_api.messages_to(USER)] == ["lagi"]


# ------------------------------------------------------------------------------ receiving updates


async def test_get_updates_returns_user_text_and_offset_confirms(
    bot: Bot,
    telegram_api: FakeTelegramAPI,
) -> None:
    queued = telegram_api.user_text(USER, "/start halo", first_name="Budi")

    updates = await bot.get_updates()
    assert len(updates) == 1
    update = updates[0]
    assert isinstance(update, Update)
    assert update.update_id == queued["update_id"]
    assert update.message is not None
    assert update.message.text == "/start halo"
    assert update.message.from_user is not None
    assert update.message.from_user.id == USER and update.message.from_user.first_name == "Budi"
    assert update.message.chat.id == USER
    assert update.message.entities[0].type == "bot_command" and update.message.entities[0].length == 6

    assert len(await bot.get_updates()) == 1  # not confirmed yet
    assert await bot.get_updates(offset=update.update_id + 1) == ()
    assert telegram_api.pending_updates() == []


async def test_get_updates_limit_and_increasing_ids(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    for text in ("satu", "dua", "tiga"):
        telegram_api.user_text(USER, text)
    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two if u.message] == ["satu", "dua"]
    assert first_two[1].update_id == first_two[0].update_id + 1
    rest = await bot.get_updates(offset=first_two[1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["tiga"]


async def test_long_polling_returns_early_when_an_update_arrives(
    bot: Bot,
    telegram_api: FakeTelegramAPI,
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.3)
    assert not poll.done()
    telegram_api.user_text(USER, "ada orang?")
    updates = await asyncio.wait_for(poll, 5)
    elapsed = time.monotonic() - started
    assert [u.message.text for u in updates if u.message] == ["ada orang?"]
    assert 0.3 <= elapsed < 3


async def test_long_polling_waits_for_the_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_user_press_parses_to_callback_query(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    sent = await bot.send_message(USER, "Setuju?", reply_markup=keyboard(("Ya", "confirm:yes")))
    queued = telegram_api.user_press(USER, sent.message_id, "confirm:yes")

    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.id == queued["callback_query"]["id"]
    assert query.data == "confirm:yes"
    assert query.from_user.id == USER
    assert query.message is not None and query.message.message_id == sent.message_id
    assert isinstance(query.message, telegram.Message) and query.message.text == "Setuju?"

    assert await query.answer("Tersimpan", show_alert=True) is True
    assert telegram_api.callback_answers() == [
        {
            "callback_query_id": query.id,
            "data": "confirm:yes",
            "text": "Tersimpan",
            "show_alert": True,
            "url": None,
            "cache_time": 0,
        }
    ]
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()

    with pytest.raises(ValueError, match=r"(?i)no button"):
        telegram_api.user_press(USER, sent.message_id, "confirm:no")
    press = telegram_api.make_button_press_update(USER, "Ya")
    assert press["callback_query"]["data"] == "confirm:yes"
    assert len(telegram_api.pending_updates()) == 1  # make_* does not queue


async def test_contact_update(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.user_contact(USER, "6281234567890", first_name="Siti")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.phone_number == "6281234567890"
    assert update.message.contact.user_id == USER


async def test_document_update_get_file_and_download(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    content = b"%PDF-1.4\n\x00\xff\r\n binary \r\n--boundary-like--\n"
    telegram_api.user_document(USER, "surat_permohonan.pdf", "application/pdf", content=content)

    [update] = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    assert document.file_name == "surat_permohonan.pdf"
    assert document.mime_type == "application/pdf"
    assert document.file_size == len(content)

    file = await bot.get_file(document.file_id)
    assert file.file_path is not None and file.file_path.startswith(telegram_api.base_file_url)
    buffer = io.BytesIO()
    await file.download_to_memory(buffer)
    assert buffer.getvalue() == content
    assert bytes(await file.download_as_bytearray()) == content

    telegram_api.user_document(USER, "besar.pdf", "application/pdf", size=25 * 1024 * 1024, content=b"x")
    [_, big] = await bot.get_updates()
    assert big.message is not None and big.message.document is not None
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(big.message.document.file_id)


async def test_photo_update(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.user_photo(USER, b"jpeg-bytes", caption="KTP")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.caption == "KTP"
    largest = update.message.photo[-1]
    assert (largest.width, largest.height) == (1280, 960)
    assert bytes(await (await largest.get_file()).download_as_bytearray()) == b"jpeg-bytes"


async def test_bot_uploads_document_and_photo(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    sent = await bot.send_document(USER, ics, filename="audiensi.ics", caption="Jadwal Anda")
    assert sent.document is not None and sent.document.file_name == "audiensi.ics"
    assert sent.caption == "Jadwal Anda"
    [stored] = telegram_api.messages_to(USER)
    assert stored.kind == "document" and stored.text == "Jadwal Anda"
    assert telegram_api.file_content(stored.payload["document"]["file_id"]) == ics

    again = await bot.send_document(OTHER_USER, sent.document.file_id)  # resend by file_id
    assert again.document is not None and again.document.file_id == sent.document.file_id

    photo = await bot.send_photo(USER, b"\x89PNG fake", caption="Denah")
    assert photo.photo and photo.caption == "Denah"
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(USER, b"\x89PNG fake", caption="x" * 1025)


async def test_chat_action(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    assert await bot.send_chat_action(USER, "typing") is True
    assert telegram_api.calls("sendChatAction") == [{"chat_id": USER, "action": "typing"}]


# ------------------------------------------------------------------------------ commands and webhooks


async def test_commands_round_trip(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    await bot.set_my_commands([BotCommand("start", "Mulai"), BotCommand("batal", "Batalkan")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    assert telegram_api.commands() == [
        {"command": "start", "description": "Mulai"},
        {"command": "batal", "description": "Batalkan"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "batal"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "capital letters are refused")])
    await bot.delete_my_commands()
    assert telegram_api.commands() == []


async def test_webhook_registration_and_delivery(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    # A webhook URL on the fake itself (getMe ignores the body), just to see the POST arrive.
    url = f"{telegram_api.base_url}{telegram_api.token}/getMe"
    telegram_api.user_text(USER, "queued")
    await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 1
    assert telegram_api.webhook()["secret_token"] == "s3cret"
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()

    update = telegram_api.make_text_update(USER, "/start")
    response = await telegram_api.deliver_to_webhook(update)
    assert response.status_code == 200
    assert telegram_api.calls("getMe")[-1]["message"]["text"] == "/start"

    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == ()


# ------------------------------------------------------------------------------ test helpers


async def test_wait_for_message_fails_with_a_dump(bot: Bot, telegram_api: FakeTelegramAPI) -> None:
    await bot.send_message(USER, "Selamat datang")
    found = await telegram_api.wait_for_message(USER, "datang", timeout=1)
    assert found.text == "Selamat datang"
    with pytest.raises(AssertionError, match=r"(?s)containing 'Sampai jumpa'.*Selamat datang"):
        await telegram_api.wait_for_message(USER, "Sampai jumpa", timeout=0.2)


async def test_a_whole_application_polls_the_fake(telegram_api: FakeTelegramAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Selamat datang!", reply_markup=keyboard(("Daftar", "reg")))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text("Pendaftaran dimulai.")

    application = (
        Application.builder()
        .token(telegram_api.token)
        .base_url(telegram_api.base_url)
        .base_file_url(telegram_api.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            telegram_api.user_text(USER, "/start")
            welcome = await telegram_api.wait_for_message(USER, "Selamat datang!")
            telegram_api.user_press_button(USER, "Daftar")
            await telegram_api.wait_for_message(USER, "Pendaftaran dimulai.")
            assert telegram_api.messages_to(USER)[0].message_id == welcome.message_id  # edited in place
            assert len(telegram_api.callback_answers()) == 1
        finally:
            await application.updater.stop()
            await application.stop()
    assert telegram_api.calls("deleteWebhook")  # PTB's bootstrap before polling
