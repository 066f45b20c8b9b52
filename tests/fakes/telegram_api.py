"""A fake Telegram Bot API server for end-to-end tests.

`FakeTelegramAPI` is a real HTTP server (Starlette served by uvicorn in a background thread, on an
ephemeral port of 127.0.0.1) that speaks enough of the Bot API for our Telegram channel. Point a
real ``telegram.Bot`` / ``Application`` at it::

    with FakeTelegramAPI(token="123:TEST") as api:
        bot = telegram.Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
        # or: bot = api.make_bot()
        async with bot:
            api.user_text(42, "/start")                  # a user writes to the bot
            updates = await bot.get_updates()           # ...the bot receives it
            await bot.send_message(42, "Halo!")
        assert api.last_message_to(42).text == "Halo!"

PTB composes request URLs as ``f"{base_url}{token}/{method}"`` and file URLs as
``f"{base_file_url}{token}/{file_path}"``, hence ``base_url`` ends in ``/bot``.

What it does, in the order a request goes through it (see `FakeTelegramAPI._api_endpoint`):

1. parses JSON, form-urlencoded, multipart or query-string parameters (values that Telegram
   expects to be JSON - ``reply_markup``, ``commands`` ... - are decoded, numeric ids become ints),
2. records the request (`requests`, `calls`),
3. rejects a wrong token with 401, applies injected delays (`delay_next`) and failures
   (`fail_next`), answers 403 for chats blocked with `block_chat`,
4. runs the method (``_method_*``), validating like Telegram where it matters to us (text length,
   ``callback_data`` size, "message is not modified", unknown messages and callback queries).

Messages (the bot's and the simulated users') live per chat with per-chat increasing message ids;
edits and deletions update the stored message, so `messages_to` shows what the user sees *now*.

Users are simulated with ``user_*`` methods, which build an Update in the exact Bot API JSON
shape, queue it for ``getUpdates`` and return it (so a test may also POST it to a webhook). The
``make_*_update`` twins build the same update without queueing it.

Deliberate simplifications (extend when a test needs more): any chat id is accepted (no "chat not
found" / "bot can't initiate conversation"); ``parse_mode`` and entities sent by the bot are not
validated; webhooks are only registered (``setWebhook``), never called by the fake - use
`deliver_to_webhook`; an unknown method answers 400 (real Telegram answers 404, which PTB would
misreport as ``InvalidToken``). The text limit counts code points (``len``), like Telegram does
for ``sendMessage`` as far as we know.

To use the fixture, import it into a conftest: ``from tests.fakes.telegram_api import telegram_api``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.message
import functools
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl

import httpx
import pytest
import telegram
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JSON = dict[str, Any]
P = ParamSpec("P")
T = TypeVar("T")

TEST_TOKEN = "123456:TEST-token_for-audiensi"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100  # more buttons: "Bad Request: reply markup is too long"
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files ("file is too big")

# Parameters Telegram expects as JSON-serialized objects (PTB sends them as JSON strings in forms).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Inline keyboard button fields that make a button do something (a button needs exactly one).
_INLINE_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


# --------------------------------------------------------------------------------------------
# Errors and records
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class StoredFile:
    """A file known to the fake (sent by a simulated user or uploaded by the bot)."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_size: int
    file_name: str | None = None
    mime_type: str | None = None

    def file_json(self) -> JSON:
        """The Bot API ``File`` object returned by getFile."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


@dataclass
class RecordedRequest:
    """One HTTP request to ``/bot<token>/<method>``, in arrival order."""

    method: str  # canonical spelling, e.g. "sendMessage" (Telegram method names are case-insensitive)
    params: JSON
    time: float  # time.time() at arrival
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None  # HTTP status answered (None while still in progress)
    response: JSON | None = None


@dataclass
class SentMessage:
    """A message in a chat, in its current state (after edits/deletion).

    ``text`` is the message text, or the caption for documents and photos (see ``kind``).
    ``reply_markup`` is the markup the bot sent as-is (inline keyboard, reply keyboard, ForceReply,
    ReplyKeyboardRemove); ``payload`` is the Bot API ``Message`` object as Telegram would return
    it now (which only carries inline keyboards).
    """

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    kind: str  # "text" | "document" | "photo" | "contact"
    text: str | None
    reply_markup: JSON | None
    payload: JSON
    deleted: bool = False
    edit_date: int | None = None
    history: list[str | None] = field(default_factory=list)  # previous texts, oldest first

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        if not self.reply_markup:
            return []
        rows: list[list[JSON]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    @property
    def button_texts(self) -> list[list[str]]:
        """Inline button labels, row by row."""
        return [[button["text"] for button in row] for row in self.inline_keyboard]

    @property
    def callback_datas(self) -> list[str]:
        return [b["callback_data"] for row in self.inline_keyboard for b in row if "callback_data" in b]

    def button_data(self, text: str) -> str:
        """The callback_data of the inline button labelled exactly ``text``."""
        for row in self.inline_keyboard:
            for button in row:
                if button.get("text") == text and "callback_data" in button:
                    return str(button["callback_data"])
        raise AssertionError(f"no inline button {text!r} in message {self.message_id}: {self.button_texts}")

    def describe(self) -> str:
        who = "bot " if self.from_bot else "user"
        flags = (" [deleted]" if self.deleted else "") + (" [edited]" if self.edit_date else "")
        line = f"#{self.message_id} {who} {self.kind}: {self.text!r}{flags}"
        if self.reply_markup:
            line += f"\n      markup: {json.dumps(self.reply_markup, ensure_ascii=False)}"
        return line


# --------------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------------


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart/form-data body into text fields and file parts.

    (python-multipart, which Starlette's ``request.form()`` needs, is not a dependency of ours.)
    """
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str):
        raise bad_request("can't parse multipart body: no boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        raw_headers, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        part = email.message.Message()
        for line in raw_headers.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part[name.strip()] = value.strip()
        field_name = part.get_param("name", header="content-disposition")
        if not isinstance(field_name, str):
            continue
        filename = part.get_filename()
        if filename is None:
            fields[field_name] = content.decode("utf-8")
        else:
            content_type_ = part.get("content-type", "application/octet-stream")
            files[field_name] = UploadedFile(filename, str(content_type_), content)
    return fields, files


def _coerce_params(raw: JSON) -> JSON:
    """Turn string parameters (form/query) into the types Telegram would read them as."""
    params: JSON = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if name in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if name == "reply_markup" else name
                    raise bad_request(f"can't parse {what} JSON object") from None
            elif name in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
                value = int(value)
            elif name in _BOOL_PARAMS:
                value = value.lower() in ("true", "1")
        params[name] = value
    return params


async def _read_params(request: Request) -> tuple[JSON, dict[str, UploadedFile]]:
    raw: JSON = dict(request.query_params)
    files: dict[str, UploadedFile] = {}
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if body:
        if content_type.startswith("application/json"):
            try:
                decoded = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if not isinstance(decoded, dict):
                raise bad_request("JSON body must be an object")
            raw.update(decoded)
        elif content_type.startswith("multipart/form-data"):
            fields, files = _parse_multipart(body, content_type)
            raw.update(fields)
        else:  # application/x-www-form-urlencoded (what PTB sends without files)
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return _coerce_params(raw), files


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


def _enqueuing(
    builder: Callable[Concatenate[FakeTelegramAPI, P], JSON],
) -> Callable[Concatenate[FakeTelegramAPI, P], JSON]:
    """Make ``user_x`` from ``make_x_update``: build the update, queue it for getUpdates, return it."""

    @functools.wraps(builder)
    def build_and_enqueue(self: FakeTelegramAPI, /, *args: P.args, **kwargs: P.kwargs) -> JSON:
        return self.enqueue_update(builder(self, *args, **kwargs))

    build_and_enqueue.__doc__ = f"Like ``{builder.__name__}``, and queue the update for getUpdates."
    return build_and_enqueue


class _Server(uvicorn.Server):
    """uvicorn polls ``should_exit`` every 0.1 s; this one also wakes up on ``exit_event``."""

    exit_event: asyncio.Event | None = None

    async def main_loop(self) -> None:
        assert self.exit_event is not None
        while not await self.on_tick(0):  # tick 0 also refreshes the Date header
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_event.wait(), 1.0)


@dataclass
class _Failure:
    status: int
    description: str
    parameters: JSON | None


class FakeTelegramAPI:
    """A Bot API server on 127.0.0.1; use as a (sync) context manager or call start()/stop()."""

    def __init__(
        self,
        token: str = TEST_TOKEN,
        *,
        bot_username: str = "audiensi_test_bot",
        bot_first_name: str = "Audiensi Test",
        host: str = "127.0.0.1",
    ) -> None:
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError(f"a bot token looks like '<bot id>:<secret>', got {token!r}")
        self.token = token
        self.host = host
        self.port = 0
        self.bot_user: JSON = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # Everything below is shared between the server thread and the test: guard with _lock.
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._last_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}  # (chat_id, message_id), in send order
        self._updates: list[JSON] = []  # pending (unconfirmed) updates
        self._update_ids = itertools.count(100_000_001)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._allowed_updates: list[str] = []
        self._callback_queries: dict[str, JSON] = {}  # id -> query, until answered
        self._callback_answers: list[JSON] = []
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._webhook: JSON = {}
        self._files: dict[str, StoredFile] = {}  # by file_id
        self._files_by_path: dict[str, StoredFile] = {}
        self._failures: dict[str, list[_Failure]] = {}  # by lower-case method name
        self._delays: dict[str, list[float]] = {}
        self._blocked: dict[int, str] = {}  # chat_id -> 403 description
        self._migrated: dict[int, int] = {}  # group chat_id -> the supergroup it became

        self._methods: dict[str, Callable[[JSON, dict[str, UploadedFile]], Any]] = {
            "getMe": self._method_get_me,
            "getUpdates": self._method_get_updates,
            "setWebhook": self._method_set_webhook,
            "deleteWebhook": self._method_delete_webhook,
            "getWebhookInfo": self._method_get_webhook_info,
            "setMyCommands": self._method_set_my_commands,
            "getMyCommands": self._method_get_my_commands,
            "deleteMyCommands": self._method_delete_my_commands,
            "sendMessage": self._method_send_message,
            "editMessageText": self._method_edit_message_text,
            "editMessageReplyMarkup": self._method_edit_message_reply_markup,
            "deleteMessage": self._method_delete_message,
            "answerCallbackQuery": self._method_answer_callback_query,
            "sendChatAction": self._method_send_chat_action,
            "sendDocument": self._method_send_document,
            "sendPhoto": self._method_send_photo,
            "getFile": self._method_get_file,
        }
        self._canonical_names = {name.lower(): name for name in self._methods}

        self._app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api_endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._file_endpoint, methods=["GET"]),
                Route("/{anything:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )
        # Server-thread state.
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None  # set when an update is queued (or on close)
        self._closed: asyncio.Event | None = None
        self._closing = False
        self._server_error: BaseException | None = None

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    def make_bot(self, **kwargs: Any) -> telegram.Bot:
        """A real ``telegram.Bot`` pointed at this server (use it with ``async with``)."""
        return telegram.Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url, **kwargs)

    def __enter__(self) -> FakeTelegramAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, startup_timeout: float = 10.0) -> FakeTelegramAPI:
        if self._thread is not None:
            raise RuntimeError("FakeTelegramAPI already started")
        self._closing = False
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on such sockets, and without it
        # every keep-alive request waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind((self.host, 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._run_server, args=(sock,), name=f"fake-telegram-api:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fake Telegram API did not start: {self._server_error!r}")
            time.sleep(0.005)
        with socket.create_connection((self.host, self.port), timeout=startup_timeout):
            pass  # the port accepts connections
        return self

    def _run_server(self, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
            self._closed = asyncio.Event()
            assert self._server is not None
            self._server.exit_event = self._closed
            await self._server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by start()
            self._server_error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop the server; pending long polls and injected delays end at once."""
        if self._thread is None or self._server is None:
            return
        self._closing = True
        self._server.should_exit = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._set_events, self._wakeup, self._closed)
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        if self._thread.is_alive():
            raise RuntimeError("fake Telegram API server thread did not stop")
        self._thread = None

    @staticmethod
    def _set_events(*events: asyncio.Event | None) -> None:
        for event in events:
            if event is not None:
                event.set()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of running it.

        429 carries ``parameters.retry_after`` (PTB raises ``RetryAfter``); 5xx become
        ``NetworkError`` in PTB; any other status is answered with ``description``.
        """
        parameters: JSON | None = None
        if status == 429:
            default = f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        elif status == 500:
            default = "Internal Server Error"
        elif status == 502:
            default = "Bad Gateway"
        elif status == 400:
            default = "Bad Request: injected failure"
        else:
            default = f"Error {status}"
        failure = _Failure(status, description or default, parameters)
        with self._lock:
            self._failures.setdefault(method.lower(), []).extend([failure] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before answering.

        Like on real Telegram, the call is still carried out after the delay even if the client
        gave up waiting (``TimedOut``): a retried sendMessage then shows up twice.
        """
        with self._lock:
            self._delays.setdefault(method.lower(), []).extend([seconds] * times)

    def recover(self) -> None:
        """An outage is over: the failures and delays still queued by fail_next / delay_next are dropped."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def block_chat(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        """Every call aimed at ``chat_id`` answers 403 from now on."""
        with self._lock:
            self._blocked[chat_id] = description

    def unblock_chat(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.pop(chat_id, None)

    def remove_bot_from_group(self, chat_id: int) -> None:
        """Someone removed the bot from the group: Telegram answers 403 to anything sent there."""
        self.block_chat(chat_id, "Forbidden: bot was kicked from the supergroup chat")

    def migrate_group(self, chat_id: int, supergroup_id: int) -> None:
        """The group became a supergroup (new id): calls aimed at the old id answer 400 with
        ``parameters.migrate_to_chat_id`` (PTB raises ``ChatMigrated``); its messages are not carried over."""
        with self._lock:
            self._migrated[chat_id] = supergroup_id
            self._chats.pop(chat_id, None)

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Someone (an admin) deletes a message in the chat; the bot can no longer edit it."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            message.deleted = True

    # ---------------------------------------------------------------- simulating users

    def enqueue_update(self, update: JSON) -> JSON:
        """Queue an update (e.g. a hand-made one) for getUpdates; returns it."""
        with self._lock:
            self._updates.append(update)
        loop = self._loop
        if loop is not None and self._wakeup is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wakeup.set)
        return update

    def make_text_update(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "id",
        chat_type: str | None = None,
        chat_title: str | None = None,
    ) -> JSON:
        """A user sends ``text`` (a leading ``/command`` gets a bot_command entity).

        Private chats have ``chat_id == user_id`` (the default). For a group pass its (negative)
        ``chat_id``; ``chat_type`` defaults to "supergroup" for ``-100...`` ids, else "group".
        """
        with self._lock:
            sender = self._register_user(user_id, first_name, username, language_code)
            chat = self._register_chat(chat_id, chat_type, sender, chat_title)
            content: JSON = {"text": text}
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                content["entities"] = [{"offset": 0, "length": _utf16_len(command), "type": "bot_command"}]
            message = self._store_message(chat["id"], sender, "text", content, text=text)
            return self._make_update("message", message.payload)

    def make_reply_update(
        self,
        user_id: int,
        chat_id: int,
        reply_to_message_id: int,
        text: str,
        *,
        first_name: str | None = None,
        chat_type: str | None = None,
    ) -> JSON:
        """A user answers (e.g. a ForceReply prompt) by replying to message ``reply_to_message_id``."""
        with self._lock:
            target = self._messages.get((chat_id, reply_to_message_id))
            if target is None or target.deleted:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id} to reply to")
            sender = self._register_user(user_id, first_name, None, "id")
            chat = self._register_chat(chat_id, chat_type, sender, None)
            content: JSON = {"text": text, "reply_to_message": _without_reply(target.payload)}
            message = self._store_message(chat["id"], sender, "text", content, text=text)
            return self._make_update("message", message.payload)

    def make_press_update(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        *,
        first_name: str | None = None,
        check_button: bool = True,
    ) -> JSON:
        """A user taps the inline button carrying ``data`` under message ``message_id``.

        With ``check_button`` (default) the message must currently show such a button; pass False
        to simulate a tap on an outdated keyboard.
        """
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None or message.deleted:
                raise ValueError(f"no message {message_id} in chat {chat_id} to press a button of")
            if check_button and data not in message.callback_datas:
                raise ValueError(
                    f"message {message_id} in chat {chat_id} has no button with callback_data {data!r}; "
                    f"it shows {message.inline_keyboard}"
                )
            sender = self._register_user(user_id, first_name, None, "id")
            query_id = str(next(self._callback_ids))
            query: JSON = {
                "id": query_id,
                "from": dict(sender),
                "message": copy.deepcopy(message.payload),
                "chat_instance": str(abs(chat_id) * 7919 + 17),  # stable per chat, like Telegram's
                "data": data,
            }
            self._callback_queries[query_id] = query
            return self._make_update("callback_query", query)

    def make_button_press_update(
        self, user_id: int, button_text: str, chat_id: int | None = None, *, first_name: str | None = None
    ) -> JSON:
        """A user taps the inline button labelled ``button_text`` on the newest message showing it."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            for message in reversed(list(self._messages.values())):
                if message.chat_id == chat_id and not message.deleted:
                    for row in message.inline_keyboard:
                        for button in row:
                            if button.get("text") == button_text and "callback_data" in button:
                                return self.make_press_update(
                                    user_id,
                                    message.message_id,
                                    button["callback_data"],
                                    chat_id,
                                    first_name=first_name,
                                )
            raise ValueError(f"no message in chat {chat_id} shows a button {button_text!r}\n{self.dump()}")

    def make_contact_update(
        self,
        user_id: int,
        phone_number: str,
        chat_id: int | None = None,
        *,
        first_name: str | None = None,
        own_contact: bool = True,
    ) -> JSON:
        """A user shares a contact; with ``own_contact`` (the request_contact button) it is their own.

        Telegram clients send the number as the user typed/stored it - often without "+".
        """
        with self._lock:
            sender = self._register_user(user_id, first_name, None, "id")
            chat = self._register_chat(chat_id, None, sender, None)
            contact: JSON = {"phone_number": phone_number, "first_name": sender["first_name"]}
            if own_contact:
                contact["user_id"] = user_id
            message = self._store_message(chat["id"], sender, "contact", {"contact": contact}, text=None)
            return self._make_update("message", message.payload)

    def make_document_update(
        self,
        user_id: int,
        file_name: str,
        mime_type: str = "application/octet-stream",
        size: int | None = None,
        content: bytes = b"",
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """A user sends a document; ``getFile`` and the download URL then serve ``content``.

        ``size`` defaults to ``len(content)``; claim a bigger size to test the 20 MB getFile limit.
        """
        with self._lock:
            sender = self._register_user(user_id, first_name, None, "id")
            chat = self._register_chat(chat_id, None, sender, None)
            stored = self._store_file(content, "documents", file_name, mime_type, size)
            content_json: JSON = {"document": _document_json(stored)}
            if caption is not None:
                content_json["caption"] = caption
            message = self._store_message(chat["id"], sender, "document", content_json, text=caption)
            return self._make_update("message", message.payload)

    def make_photo_update(
        self,
        user_id: int,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        *,
        width: int = 1280,
        height: int = 960,
        chat_id: int | None = None,
        caption: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """A user sends a photo (a thumbnail and the full size, both serving ``content``)."""
        with self._lock:
            sender = self._register_user(user_id, first_name, None, "id")
            chat = self._register_chat(chat_id, None, sender, None)
            content_json: JSON = {"photo": self._photo_sizes(content, width, height)}
            if caption is not None:
                content_json["caption"] = caption
            message = self._store_message(chat["id"], sender, "photo", content_json, text=caption)
            return self._make_update("message", message.payload)

    def make_media_update(
        self,
        user_id: int,
        kind: str,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        first_name: str | None = None,
    ) -> JSON:
        """A user sends something that is neither text nor a file: a ``sticker``, ``voice`` note, ``location``,
        ``video``, ``video_note``, ``animation`` or ``audio`` (optionally with a caption, or as a reply)."""
        file = {"file_id": f"{kind}-{next(self._file_ids)}", "file_unique_id": f"u{kind}{user_id}"}
        bodies: dict[str, JSON] = {
            "sticker": {**file, "width": 512, "height": 512, "is_animated": False, "is_video": False,
                        "type": "regular", "emoji": "👍"},
            "voice": {**file, "duration": 3, "mime_type": "audio/ogg"},
            "audio": {**file, "duration": 30, "mime_type": "audio/mpeg"},
            "location": {"latitude": -5.1477, "longitude": 119.4327},
            "video": {**file, "width": 640, "height": 360, "duration": 5},
            "video_note": {**file, "length": 240, "duration": 5},
            "animation": {**file, "width": 320, "height": 240, "duration": 2},
        }  # fmt: skip
        if kind not in bodies:
            raise ValueError(f"unknown kind of message {kind!r}; one of {sorted(bodies)}")
        with self._lock:
            sender = self._register_user(user_id, first_name, None, "id")
            chat = self._register_chat(chat_id, None, sender, None)
            content: JSON = {kind: bodies[kind]}
            if caption is not None:
                content["caption"] = caption
            if reply_to_message_id is not None:
                target = self._messages.get((chat["id"], reply_to_message_id))
                if target is None or target.deleted:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']} to reply to")
                content["reply_to_message"] = _without_reply(target.payload)
            message = self._store_message(chat["id"], sender, kind, content, text=caption)
            return self._make_update("message", message.payload)

    def make_migration_update(self, user_id: int, group_id: int, supergroup_id: int) -> JSON:
        """The service message a supergroup starts with when ``group_id`` is upgraded (``migrate_from_chat_id``)."""
        with self._lock:
            sender = self._register_user(user_id, None, None, "id")
            chat = self._register_chat(supergroup_id, "supergroup", sender, None)
            content: JSON = {"migrate_from_chat_id": group_id}
            message = self._store_message(chat["id"], sender, "migrate_from_chat_id", content, text=None)
            return self._make_update("message", message.payload)

    user_text = _enqueuing(make_text_update)
    user_reply = _enqueuing(make_reply_update)
    user_press = _enqueuing(make_press_update)
    user_press_button = _enqueuing(make_button_press_update)
    user_contact = _enqueuing(make_contact_update)
    user_document = _enqueuing(make_document_update)
    user_photo = _enqueuing(make_photo_update)
    user_media = _enqueuing(make_media_update)
    user_migrates_group = _enqueuing(make_migration_update)

    async def deliver_to_webhook(self, update: JSON, *, http_timeout: float = 10.0) -> httpx.Response:
        """POST ``update`` to the webhook the bot registered, with its secret token header."""
        with self._lock:
            url = self._webhook.get("url")
            secret = self._webhook.get("secret_token")
        if not url:
            raise AssertionError(f"the bot has not set a webhook\n{self.dump()}")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with httpx.AsyncClient(timeout=http_timeout) as client:
            return await client.post(url, json=update, headers=headers)

    # ---------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request so far, in arrival order (including failed ones)."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def calls(self, method: str, *, ok: bool | None = None) -> list[JSON]:
        """Parameters of every call of ``method`` (``ok=True``: only answered 200; False: only errors)."""
        with self._lock:
            return [
                copy.deepcopy(r.params)
                for r in self._requests
                if r.method.lower() == method.lower() and (ok is None or (r.status == 200) == ok)
            ]

    def messages_to(self, chat_id: int, *, include_deleted: bool = True) -> list[SentMessage]:
        """The bot's messages in ``chat_id``, oldest first, each in its current state."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages.values()
                if m.chat_id == chat_id and m.from_bot and (include_deleted or not m.deleted)
            ]

    def last_message_to(self, chat_id: int) -> SentMessage | None:
        """The newest bot message in ``chat_id`` that is not deleted (what the user sees last)."""
        visible = self.messages_to(chat_id, include_deleted=False)
        return visible[-1] if visible else None

    def chat_history(self, chat_id: int) -> list[SentMessage]:
        """All messages of the chat, the users' and the bot's, oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages.values() if m.chat_id == chat_id]

    def callback_answers(self) -> list[JSON]:
        """answerCallbackQuery calls: callback_query_id, data, text, show_alert, url, cache_time."""
        with self._lock:
            return copy.deepcopy(self._callback_answers)

    def unanswered_callback_queries(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(list(self._callback_queries.values()))

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list set with setMyCommands for ``scope`` (default scope) and language."""
        with self._lock:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    def webhook(self) -> JSON:
        """The registered webhook (url, secret_token, allowed_updates, ...) or {}."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    def pending_updates(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._updates)

    def file_content(self, file_id: str) -> bytes:
        """Bytes of a known file, e.g. a document the bot uploaded (``message.payload['document']``)."""
        with self._lock:
            return self._files[file_id].content

    def dump(self, last_requests: int = 15) -> str:
        """A readable summary of the chats and the latest requests, for assertion messages."""
        with self._lock:
            lines = []
            for chat_id in sorted({m.chat_id for m in self._messages.values()}):
                lines.append(f"chat {chat_id}:")
                lines += ["   " + m.describe() for m in self._messages.values() if m.chat_id == chat_id]
            if not lines:
                lines.append("(no messages in any chat)")
            recent = self._requests[-last_requests:]
            lines.append(f"last {len(recent)} of {len(self._requests)} requests:")
            for r in recent:
                params = json.dumps(r.params, ensure_ascii=False, default=str)
                lines.append(f"   {r.method} -> {r.status}: {params[:300]}")
            return "\n".join(lines)

    # The wait_* helpers take ``timeout`` (ASYNC109) because tests read better that way.
    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 15.0,  # noqa: ASYNC109
        *,
        interval: float = 0.01,
        description: str = "condition",
    ) -> T:
        """Poll ``predicate`` until it returns something truthy, and return that.

        Raises AssertionError with a dump of the chats and requests after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {description}\n{self.dump()}")
            await asyncio.sleep(interval)

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str,
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """Wait until a visible bot message in ``chat_id`` contains ``contains``; return the newest."""

        def find() -> SentMessage | None:
            for message in reversed(self.messages_to(chat_id, include_deleted=False)):
                if message.text is not None and contains in message.text:
                    return message
            return None

        return await self.wait_for(find, timeout, description=f"a message to chat {chat_id} containing {contains!r}")

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """Wait until ``method`` was called and answered at least ``count`` times; return those calls.

        Only answered calls count: a request still being read or handled has not yet stored what it sent, and a
        test that goes on to look for the message would race the server.
        """

        def enough() -> list[JSON] | None:
            with self._lock:
                found = [
                    copy.deepcopy(r.params)
                    for r in self._requests
                    if r.method.lower() == method.lower() and r.status is not None
                ]
            return found if len(found) >= count else None

        return await self.wait_for(enough, timeout, description=f"{count} call(s) of {method}")

    # ---------------------------------------------------------------- HTTP endpoints

    async def _api_endpoint(self, request: Request) -> Response:
        requested = request.path_params["method"]
        method = self._canonical_names.get(requested.lower(), requested)
        record = RecordedRequest(method=method, params={}, time=time.time())
        with self._lock:
            self._requests.append(record)
        try:
            params, files = await _read_params(request)
            with self._lock:
                record.params, record.files = params, files
            result = await self._dispatch(request.path_params["token"], method, params, files)
            body: JSON = {"ok": True, "result": result}
            status = 200
        except ApiError as error:
            body, status = error.body(), error.status
        with self._lock:
            record.status, record.response = status, body
        return JSONResponse(body, status_code=status)

    async def _dispatch(self, token: str, method: str, params: JSON, files: dict[str, UploadedFile]) -> Any:
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        with self._lock:
            delays = self._delays.get(method.lower())
            delay = delays.pop(0) if delays else None
        if delay is not None:
            await self._sleep(delay)
        with self._lock:
            failures = self._failures.get(method.lower())
            failure = failures.pop(0) if failures else None
            chat_id = params.get("chat_id")
            blocked = self._blocked.get(chat_id) if isinstance(chat_id, int) else None
            migrated = self._migrated.get(chat_id) if isinstance(chat_id, int) else None
        if failure is not None:
            raise ApiError(failure.status, failure.description, failure.parameters)
        if blocked is not None:
            raise ApiError(403, blocked)
        if migrated is not None:
            raise ApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": migrated}
            )
        handler = self._methods.get(method)
        if handler is None:
            raise bad_request(f"method not found: {method!r} is not implemented by FakeTelegramAPI")
        result = handler(params, files)
        if isinstance(result, Awaitable):
            result = await result
        return result

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the server is stopping."""
        assert self._closed is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), seconds)

    async def _file_endpoint(self, request: Request) -> Response:
        with self._lock:
            stored = self._files_by_path.get(request.path_params["file_path"])
        if request.path_params["token"] != self.token or stored is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    async def _not_found(self, request: Request) -> Response:
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

    # ---------------------------------------------------------------- Bot API methods

    def _method_get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _method_get_updates(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        assert self._loop is not None and self._wakeup is not None
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = max(float(params.get("timeout", 0)), 0.0)
        offset = params.get("offset")
        with self._lock:
            if self._webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(params.get("allowed_updates"), list):
                self._allowed_updates = params["allowed_updates"]
            if isinstance(offset, int) and offset < 0:
                self._updates = self._updates[offset:]  # "all previous updates will be forgotten"
            elif isinstance(offset, int):
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = self._loop.time() + timeout
        while True:
            with self._lock:
                allowed = self._allowed_updates
                if allowed:  # updates of other types are never delivered
                    self._updates = [u for u in self._updates if _update_type(u) in allowed]
                batch = copy.deepcopy(self._updates[:limit])
            remaining = deadline - self._loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch
            self._wakeup.clear()  # no await since the check above: a queued update can't be missed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    def _method_set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = params.get("url", "")
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            if not url:
                self._webhook = {}
                return True
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            self._webhook = {
                "url": url,
                "secret_token": params.get("secret_token"),
                "allowed_updates": params.get("allowed_updates"),
                "max_connections": params.get("max_connections", 40),
                "ip_address": params.get("ip_address"),
            }
        return True

    def _method_delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        with self._lock:
            self._webhook = {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _method_get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            info: JSON = {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook:
                info["max_connections"] = self._webhook["max_connections"]
                if self._webhook.get("allowed_updates"):
                    info["allowed_updates"] = self._webhook["allowed_updates"]
                if self._webhook.get("ip_address"):
                    info["ip_address"] = self._webhook["ip_address"]
        return info

    def _method_set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description is empty or longer than 256 characters")
        with self._lock:
            key = (_scope_key(params.get("scope")), str(params.get("language_code", "")))
            self._commands[key] = commands
        return True

    def _method_get_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        return self.commands(params.get("scope"), str(params.get("language_code", "")))

    def _method_delete_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        with self._lock:
            key = (_scope_key(params.get("scope")), str(params.get("language_code", "")))
            self._commands.pop(key, None)
        return True

    def _method_send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            chat_id = self._chat_id(params)
            text = _text_param(params, "text", MAX_TEXT_LENGTH, "message is too long")
            if text is None or not text.strip():
                raise bad_request("message text is empty")
            markup = self._markup_param(params, chat_id)
            message = self._store_bot_message(chat_id, "text", {"text": text}, text, markup, params)
            return copy.deepcopy(message.payload)

    def _method_edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            message = self._message_to_edit(params)
            text = _text_param(params, "text", MAX_TEXT_LENGTH, "message is too long")
            if text is None or not text.strip():
                raise bad_request("message text is empty")
            markup = self._markup_param(params, message.chat_id, inline_only=True)
            if message.kind != "text":
                raise bad_request("there is no text in the message to edit")
            if (text.strip() == (message.text or "").strip()) and markup == _inline_markup(message):
                raise bad_request(_NOT_MODIFIED)
            message.history.append(message.text)
            message.text = text
            message.payload["text"] = text
            message.payload.pop("entities", None)
            self._set_markup(message, markup)
            return copy.deepcopy(message.payload)

    def _method_edit_message_reply_markup(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            message = self._message_to_edit(params)
            markup = self._markup_param(params, message.chat_id, inline_only=True)
            if markup == _inline_markup(message):
                raise bad_request(_NOT_MODIFIED)
            self._set_markup(message, markup)
            return copy.deepcopy(message.payload)

    def _method_delete_message(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        with self._lock:
            chat_id = self._chat_id(params)
            message = self._messages.get((chat_id, _required_int(params, "message_id")))
            if message is None or message.deleted:
                raise bad_request("message to delete not found")
            message.deleted = True
        return True

    def _method_answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        with self._lock:
            query = self._callback_queries.pop(query_id, None)
            if query is None:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            self._callback_answers.append(
                {
                    "callback_query_id": query_id,
                    "data": query.get("data"),
                    "text": params.get("text"),
                    "show_alert": bool(params.get("show_alert", False)),
                    "url": params.get("url"),
                    "cache_time": params.get("cache_time", 0),
                }
            )
        return True

    def _method_send_chat_action(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        with self._lock:
            self._chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _method_send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            chat_id = self._chat_id(params)
            stored = self._input_file(params, files, "document", "documents")
            caption = _text_param(params, "caption", MAX_CAPTION_LENGTH, "message caption is too long")
            markup = self._markup_param(params, chat_id)
            content: JSON = {"document": _document_json(stored)}
            if caption:
                content["caption"] = caption
            message = self._store_bot_message(chat_id, "document", content, caption, markup, params)
            return copy.deepcopy(message.payload)

    def _method_send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            chat_id = self._chat_id(params)
            stored = self._input_file(params, files, "photo", "photos")
            caption = _text_param(params, "caption", MAX_CAPTION_LENGTH, "message caption is too long")
            markup = self._markup_param(params, chat_id)
            content: JSON = {"photo": self._photo_sizes(stored.content, 1280, 960, stored)}
            if caption:
                content["caption"] = caption
            message = self._store_bot_message(chat_id, "photo", content, caption, markup, params)
            return copy.deepcopy(message.payload)

    def _method_get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        with self._lock:
            stored = self._files.get(str(params.get("file_id", "")))
            if stored is None:
                raise bad_request("invalid file_id")
            if stored.file_size > MAX_DOWNLOAD_SIZE:
                raise bad_request("file is too big")
            return stored.file_json()

    # ---------------------------------------------------------------- internals (call with _lock held)

    def _make_update(self, kind: str, payload: JSON) -> JSON:
        return {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}

    def _register_user(self, user_id: int, first_name: str | None, username: str | None, language_code: str) -> JSON:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"Warga {user_id}"}
            user["language_code"] = language_code
            self._users[user_id] = user
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        return user

    def _register_chat(self, chat_id: int | None, chat_type: str | None, sender: JSON, title: str | None) -> JSON:
        """The chat a simulated user writes in (created on first use; its type never changes)."""
        if chat_id is None:
            if chat_type not in (None, "private"):
                raise ValueError(f"a {chat_type} chat needs an explicit (negative) chat_id")
            chat_id = sender["id"]
        chat = self._chats.get(chat_id)
        if chat is None:
            chat_type = chat_type or self._chat_json(chat_id)["type"]
            if chat_type not in ("private", "group", "supergroup"):
                raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")
            if chat_type == "private" and chat_id != sender["id"]:
                raise ValueError(f"user {sender['id']} can't write in the private chat {chat_id}")
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = sender["first_name"]
                if "username" in sender:
                    chat["username"] = sender["username"]
            else:
                chat["title"] = title or f"Grup {chat_id}"
            self._chats[chat_id] = chat
        return chat

    def _chat_json(self, chat_id: int) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if chat_id > 0:  # a user who never wrote: Telegram knows their name, we make one up
            return {"id": chat_id, "type": "private", "first_name": f"Warga {chat_id}"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Grup {chat_id}"}

    def _store_message(
        self,
        chat_id: int,
        sender: JSON,
        kind: str,
        content: JSON,
        *,
        text: str | None,
        from_bot: bool = False,
    ) -> SentMessage:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        date = int(time.time())
        payload: JSON = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(self._chat_json(chat_id)),
            "date": date,
            **content,
        }
        message = SentMessage(
            chat_id=chat_id,
            message_id=message_id,
            date=date,
            from_bot=from_bot,
            kind=kind,
            text=text,
            reply_markup=None,
            payload=payload,
        )
        self._messages[(chat_id, message_id)] = message
        return message

    def _store_bot_message(
        self, chat_id: int, kind: str, content: JSON, text: str | None, markup: JSON | None, params: JSON
    ) -> SentMessage:
        reply_to = self._reply_target(chat_id, params)
        if reply_to is not None:
            content = {**content, "reply_to_message": _without_reply(reply_to.payload)}
        message = self._store_message(chat_id, self.bot_user, kind, content, text=text, from_bot=True)
        message.reply_markup = markup
        if markup and "inline_keyboard" in markup:
            message.payload["reply_markup"] = markup
        return message

    def _reply_target(self, chat_id: int, params: JSON) -> SentMessage | None:
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            message_id = reply_parameters.get("message_id")
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply"))
        else:
            message_id = params.get("reply_to_message_id")
            allow_missing = bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        target = self._messages.get((chat_id, int(message_id)))
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _set_markup(self, message: SentMessage, markup: JSON | None) -> None:
        message.reply_markup = markup
        if markup:
            message.payload["reply_markup"] = markup
        else:
            message.payload.pop("reply_markup", None)
        message.edit_date = int(time.time())
        message.payload["edit_date"] = message.edit_date

    def _chat_id(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username") == chat_id[1:]:
                    return int(chat["id"])
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        return chat_id

    def _message_to_edit(self, params: JSON) -> SentMessage:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not supported by FakeTelegramAPI")
        chat_id = self._chat_id(params)
        message = self._messages.get((chat_id, _required_int(params, "message_id")))
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _markup_param(self, params: JSON, chat_id: int, *, inline_only: bool = False) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _validate_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise bad_request("inline keyboard expected")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request("can't parse reply keyboard markup JSON object")
            asks_phone = any(isinstance(b, dict) and b.get("request_contact") for row in rows for b in row)
            if asks_phone and self._chat_json(chat_id)["type"] != "private":
                raise bad_request("phone number can be requested in private chats only")
        elif not ({"force_reply", "remove_keyboard"} & markup.keys()):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup

    def _input_file(self, params: JSON, files: dict[str, UploadedFile], name: str, folder: str) -> StoredFile:
        value = params.get(name)
        upload = files.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.content:
                raise bad_request("file must be non-empty")
            return self._store_file(upload.content, folder, upload.filename, upload.content_type, None)
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {name} in the request")
        if value in self._files:
            return self._files[value]
        if value.startswith(("http://", "https://")):  # Telegram would download it; we pretend
            return self._store_file(b"", folder, value.rsplit("/", 1)[-1] or None, None, None)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _store_file(
        self, content: bytes, folder: str, file_name: str | None, mime_type: str | None, size: int | None
    ) -> StoredFile:
        number = next(self._file_ids)
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1].lower()
        elif folder == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=f"BQACAgUAAxkBAAI{number:06d}fake{folder[:3]}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
            file_size=len(content) if size is None else size,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, content: bytes, width: int, height: int, full: StoredFile | None = None) -> list[JSON]:
        """Telegram sends several sizes, smallest first; ours all serve the same bytes."""
        thumb = self._store_file(content, "photos", None, "image/jpeg", None)
        full = full or self._store_file(content, "photos", None, "image/jpeg", None)
        scale = 90 / max(width, height, 1)
        return [
            _photo_size_json(thumb, max(int(width * scale), 1), max(int(height * scale), 1)),
            _photo_size_json(full, width, height),
        ]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    """Entity offsets/lengths are counted in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _without_reply(payload: JSON) -> JSON:
    """Telegram does not nest reply_to_message inside reply_to_message."""
    return {k: copy.deepcopy(v) for k, v in payload.items() if k != "reply_to_message"}


def _update_type(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _scope_key(scope: JSON | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _inline_markup(message: SentMessage) -> JSON | None:
    markup = message.reply_markup
    return markup if markup and "inline_keyboard" in markup else None


def _required_int(params: JSON, name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int):
        raise bad_request(f"{name} is empty" if value in (None, "") else f"invalid {name}")
    return value


def _text_param(params: JSON, name: str, limit: int, too_long: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    text = str(value)
    if len(text) > limit:
        raise bad_request(too_long)
    return text


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = _INLINE_BUTTON_ACTIONS & button.keys()
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
                raise bad_request("BUTTON_URL_INVALID")


def _document_json(stored: StoredFile) -> JSON:
    document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    document["file_size"] = stored.file_size
    return document


def _photo_size_json(stored: StoredFile, width: int, height: int) -> JSON:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
        "width": width,
        "height": height,
    }


# --------------------------------------------------------------------------------------------
# pytest fixture (import it into a conftest.py to use it)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramAPI]:
    """A running FakeTelegramAPI with token ``TEST_TOKEN``; works in sync and async tests."""
    with FakeTelegramAPI(token=TEST_TOKEN) as api:
        yield api
