"""A fake Meta Graph API (WhatsApp Business Cloud API) served over real HTTP on 127.0.0.1.

``FakeGraphAPI`` runs a Starlette app under uvicorn in a background thread on an ephemeral port. It
answers the endpoints the WhatsApp channel uses, validates requests where Meta is strict (limits of
buttons and lists, templates, auth) and answers with Graph-shaped errors, records every message sent, and
can inject the failures we handle (131047 outside the 24-hour window, 130429 / 131056 rate limits, 131026
undeliverable, HTTP 5xx, slow answers).

Endpoints (``{v}`` is the configured API version, e.g. ``v21.0``):

- ``POST /{v}/{phone_number_id}/messages`` — send text / interactive / template / document / image, or
  mark a message read (``{"status": "read", "message_id": ...}``).
- ``POST /{v}/{phone_number_id}/media`` — multipart upload (``messaging_product``, ``type``, ``file``).
- ``GET /{v}/{media_id}`` — media URL, mime type, sha256 (hex), size.
- ``GET /media-download/{media_id}`` — the bytes; needs the bearer token, like Meta's lookaside URLs.

It also builds inbound webhook payloads in the format of Meta's documented examples (``WebhookBuilder``,
and module-level functions bound to the default metadata), signs them like Meta (``sign``) and posts them
(``post_webhook``). Lengths are counted in Python code points, like ``bot.channels.whatsapp_text``.

Use the ``graph_api`` pytest fixture (import it into a conftest) or ``with FakeGraphAPI() as fake:``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_API_VERSION",
    "DEFAULT_APP_SECRET",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_WABA_ID",
    "FakeGraphAPI",
    "GraphClientKwargs",
    "LoopbackServer",
    "WebhookBuilder",
    "button_reply",
    "contacts_message",
    "document_message",
    "graph_api",
    "image_message",
    "list_reply",
    "post_webhook",
    "sign",
    "status_event",
    "template_button_reply",
    "text_message",
    "unknown_message",
]

# Made-up identifiers and secrets: nothing here is a real account, number or token.
DEFAULT_ACCESS_TOKEN = "fake-graph-access-token"
DEFAULT_APP_SECRET = "fake-app-secret"
DEFAULT_API_VERSION = "v21.0"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550000000"
DEFAULT_WABA_ID = "200000000000002"
DEFAULT_PROFILE_NAME = "Pengguna Uji"

# Meta's limits (code points).
MAX_TEXT_BODY = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_ROWS = 10
MAX_SECTION_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_CAPTION = 1024

# Titles and details as Meta words them (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
ERROR_TEXTS: dict[int, tuple[str, str]] = {
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    130429: (
        "Rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number "
        "in a short period of time",
    ),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131026: ("Message Undeliverable", "Message failed to send."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    132000: ("Number of parameters does not match the expected number of params", ""),
    132001: ("Template name does not exist in the translation", ""),
    132018: (
        "There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
    ),
}

SUPPORTED_TYPES = ("text", "interactive", "template", "document", "image")
_BAD_TEMPLATE_PARAM = re.compile(r"[\n\r\t]| {5,}")


def graph_error_body(
    code: int,
    message: str | None = None,
    details: str | None = None,
    *,
    error_type: str = "OAuthException",
    subcode: int | None = None,
) -> dict[str, Any]:
    """A Graph API error answer: ``{"error": {message, type, code, error_data: {details}, fbtrace_id}}``."""
    title, default_details = ERROR_TEXTS.get(code, ("Injected failure", ""))
    error: dict[str, Any] = {
        "message": f"(#{code}) {message or title}",
        "type": error_type,
        "code": code,
        "fbtrace_id": "Afake" + secrets.token_urlsafe(12),
    }
    if details or default_details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or default_details}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


class _Reject(Exception):
    """Raised by validators: answer with this Graph error."""

    def __init__(self, code: int, details: str | None = None, *, status: int = 400, subcode: int | None = None):
        super().__init__(details or str(code))
        self.code = code
        self.details = details
        self.status = status
        self.subcode = subcode


@dataclass(frozen=True)
class _Template:
    name: str
    language: str
    body_param_count: int
    quick_reply_count: int | None


@dataclass(frozen=True)
class _Media:
    content: bytes
    mime_type: str
    filename: str | None
    sha256: str


@dataclass
class _Failure:
    code: int
    http_status: int
    details: str | None
    remaining: int
    skip: int = 0  # valid sends let through before the failures start


# ------------------------------------------------------------------------------------- small validators


def _text(path: str, value: Any, limit: int, *, required: bool = True) -> str:
    if value is None:
        if required:
            raise _Reject(100, f"The parameter {path} is required.")
        return ""
    if not isinstance(value, str):
        raise _Reject(100, f"Param {path} must be a string.")
    if required and not value.strip():
        raise _Reject(131009, f"Param {path} must not be empty.")
    if len(value) > limit:
        raise _Reject(131009, f"Param {path} is too long. Max length: {limit}, given: {len(value)}.")
    return value


def _obj(path: str, value: Any, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Reject(100, f"The parameter {path} is required and must be an object.")
    return value


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, str | None, bytes]]:
    """Minimal multipart/form-data parser: name -> (filename, content type, bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        raise _Reject(100, "Expected a multipart/form-data upload.")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name:
            fields[name.group(1)] = (
                filename.group(1) if filename else None,
                headers.get("content-type"),
                data,
            )
    return fields


# ------------------------------------------------------------------------------------------ the server


class GraphClientKwargs(TypedDict):
    base_url: str
    api_version: str
    phone_number_id: str
    access_token: str


class LoopbackServer:
    """Serve any ASGI app with uvicorn on 127.0.0.1 (ephemeral port) in a background thread.

    ``start()`` returns once the socket accepts connections; ``stop()`` shuts down cleanly. Also usable
    to run the bot's own web app for end-to-end tests: ``with LoopbackServer(app) as server: ...``.
    """

    def __init__(
        self, app: ASGIApp, *, name: str = "loopback-server", lifespan: Literal["auto", "on", "off"] = "off"
    ) -> None:
        self._app = app
        self._name = name
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    def start(self, timeout: float = 10.0) -> LoopbackServer:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan=self._lifespan,
            http="h11",
            ws="none",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._port = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._port is None:
            raise RuntimeError(f"{self._name} is not started")
        return f"http://127.0.0.1:{self._port}"


class FakeGraphAPI:
    """The fake Graph API server plus inspection and fault-injection helpers (thread-safe)."""

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        api_version: str = DEFAULT_API_VERSION,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
        waba_id: str = DEFAULT_WABA_ID,
    ) -> None:
        self.access_token = access_token
        self.api_version = api_version
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.webhooks = WebhookBuilder(phone_number_id, display_phone_number, waba_id)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sent: list[dict[str, Any]] = []
        self._reads: list[dict[str, Any]] = []
        self._requests: list[tuple[str, str, int]] = []
        self._templates: dict[tuple[str, str], _Template] = {}
        self._media: dict[str, _Media] = {}
        self._failures: list[_Failure] = []
        self._http_failures: list[int] = []
        self._delays: list[float] = []
        self._closed_windows: set[str] = set()
        self._app = Starlette(
            routes=[
                Route("/media-download/{media_id}", self._download, methods=["GET"]),
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
                Route("/{version}/{media_id}", self._media_info, methods=["GET"]),
            ]
        )
        self._loopback = LoopbackServer(self._asgi, name="fake-graph-api")

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> FakeGraphAPI:
        self._loopback.start(timeout)
        return self

    def stop(self) -> None:
        self._loopback.stop()

    def __enter__(self) -> FakeGraphAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` — give it to the client as the Graph base URL."""
        return self._loopback.base_url

    @property
    def client_kwargs(self) -> GraphClientKwargs:
        """Keyword arguments for ``GraphClient(**fake.client_kwargs)``."""
        return {
            "base_url": self.base_url,
            "api_version": self.api_version,
            "phone_number_id": self.phone_number_id,
            "access_token": self.access_token,
        }

    # -- test set-up --------------------------------------------------------------------------------

    def register_template(
        self, name: str, language: str, body_param_count: int, *, quick_reply_count: int | None = None
    ) -> None:
        """Declare an approved template; ``quick_reply_count`` None means button payloads are not checked."""
        with self._lock:
            self._templates[(name, language)] = _Template(name, language, body_param_count, quick_reply_count)

    def add_media(self, content: bytes, mime_type: str, filename: str | None = None) -> str:
        """Store media as if a user had sent it; returns its media id (use it in a webhook payload)."""
        return self._store_media(content, mime_type, filename)

    def media(self, media_id: str) -> tuple[bytes, str, str | None]:
        """(content, mime type, filename) of stored or uploaded media."""
        with self._lock:
            item = self._media[media_id]
        return item.content, item.mime_type, item.filename

    def fail_next(
        self,
        code: int = 131047,
        times: int = 1,
        http_status: int = 400,
        *,
        details: str | None = None,
        after: int = 0,
    ) -> None:
        """The next ``times`` valid message sends (not read receipts) fail with Graph error ``code`` — after
        letting ``after`` of them through (the second part of a notice, say)."""
        with self._lock:
            self._failures.append(_Failure(code, http_status, details, times, after))

    def fail_next_http(self, status: int = 500, times: int = 1) -> None:
        """The next ``times`` requests of any kind answer HTTP ``status`` (500 or 503) first thing."""
        with self._lock:
            self._http_failures.extend([status] * times)

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests are answered ``seconds`` late (to exercise client timeouts)."""
        with self._lock:
            self._delays.extend([seconds] * times)

    def window_closed_for(self, wa_id: str) -> None:
        """Every non-template message to ``wa_id`` fails with 131047 until ``window_open_for``."""
        with self._lock:
            self._closed_windows.add(wa_id)

    def window_open_for(self, wa_id: str) -> None:
        with self._lock:
            self._closed_windows.discard(wa_id)

    # -- inspection ---------------------------------------------------------------------------------

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Messages accepted so far, oldest first: ``{"id", "to", "type", "text", "payload"}``."""
        with self._lock:
            records = [r for r in self._sent if to is None or r["to"] == to]
            return copy.deepcopy(records)

    def last_sent(self, to: str) -> dict[str, Any]:
        records = self.sent(to)
        if not records:
            raise AssertionError(f"nothing was sent to {to}; {self._describe()}")
        return records[-1]

    async def wait_for_sent(
        self,
        to: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109 - polls a thread-owned record, no cancel scope to use
        *,
        since: int = 0,
    ) -> dict[str, Any]:
        """Wait for a message to ``to`` (among ``sent(to)[since:]``) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.sent(to)[since:]:
                if predicate is None or predicate(record):
                    return record
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no matching message to {to} within {timeout}s (since index {since}); " + self._describe(to)
                )
            await asyncio.sleep(0.01)

    @property
    def reads(self) -> list[str]:
        """Message ids marked read, in order."""
        with self._lock:
            return [r["message_id"] for r in self._reads]

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Every HTTP request served: (method, path, status)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget sent messages, reads, requests and pending faults (templates and media stay)."""
        with self._lock:
            self._sent.clear()
            self._reads.clear()
            self._requests.clear()
            self._failures.clear()
            self._http_failures.clear()
            self._delays.clear()
            self._closed_windows.clear()

    def _describe(self, to: str | None = None) -> str:
        with self._lock:
            lines = [
                f"  #{i} to={r['to']} type={r['type']} text={r['text']!r}"
                for i, r in enumerate(self._sent)
                if to is None or r["to"] == to
            ]
            total = len(self._sent)
            recent = self._requests[-10:]
        shown = "\n".join(lines) if lines else "  (none)"
        return f"sent to {to or 'anyone'} ({len(lines)} of {total} messages):\n{shown}\nlast requests: {recent}"

    # -- ASGI plumbing ------------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        def record(status: int) -> None:
            with self._lock:
                self._requests.append((str(scope["method"]), str(scope["path"]), status))

        async def recording_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                record(int(message["status"]))  # before the client can see the answer
            await send(message)

        try:
            await self._app(scope, receive, recording_send)
        finally:
            if not started:
                record(500)

    async def _preamble(self, request: Request, *, check_version: bool = True) -> Response | None:
        """Injected delays and 5xx, then auth and version checks; None means go on."""
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            http_failure = self._http_failures.pop(0) if self._http_failures else None
        if delay:
            await asyncio.sleep(delay)
        if http_failure is not None:
            code = 2 if http_failure == 503 else 1
            text = "Service temporarily unavailable" if code == 2 else "An unknown error occurred"
            return JSONResponse(graph_error_body(code, text, details=""), status_code=http_failure)
        if not self._authorized(request):
            return JSONResponse(graph_error_body(190, error_type="OAuthException"), status_code=401)
        if check_version and request.path_params.get("version") != self.api_version:
            return JSONResponse(
                graph_error_body(100, "Unknown path components", details="unsupported API version"),
                status_code=400,
            )
        return None

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.access_token.encode())

    @staticmethod
    def _reject(reject: _Reject) -> JSONResponse:
        body = graph_error_body(reject.code, details=reject.details, subcode=reject.subcode)
        return JSONResponse(body, status_code=reject.status)

    def _check_phone_number(self, request: Request) -> None:
        if request.path_params.get("phone_number_id") != self.phone_number_id:
            raise _Reject(
                100,
                f"Unsupported post request. Object with ID '{request.path_params.get('phone_number_id')}' "
                "does not exist, cannot be loaded due to missing permissions, or does not support this "
                "operation.",
                subcode=33,
            )

    # -- endpoints ----------------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        early = await self._preamble(request)
        if early is not None:
            return early
        try:
            self._check_phone_number(request)
            try:
                payload = json.loads(await request.body())
            except ValueError as exc:
                raise _Reject(100, "The request body is not valid JSON.") from exc
            if not isinstance(payload, dict):
                raise _Reject(100, "The request body must be a JSON object.")
            if payload.get("messaging_product") != "whatsapp":
                raise _Reject(100, "The parameter messaging_product is required and must be 'whatsapp'.")
            if payload.get("status") == "read":
                return self._mark_read(payload)
            return self._send(payload)
        except _Reject as reject:
            return self._reject(reject)

    def _mark_read(self, payload: dict[str, Any]) -> Response:
        message_id = _text("message_id", payload.get("message_id"), 512)
        typing = payload.get("typing_indicator")
        if typing is not None and _obj("typing_indicator", typing).get("type") != "text":
            raise _Reject(131009, "typing_indicator.type must be 'text'.")
        with self._lock:
            self._reads.append({"message_id": message_id, "typing_indicator": typing is not None})
        return JSONResponse({"success": True})

    def _send(self, payload: dict[str, Any]) -> Response:
        to = payload.get("to")
        recipient = payload.get("recipient")
        if not (isinstance(to, str) and to) and not (isinstance(recipient, str) and recipient):
            raise _Reject(100, "The parameter to is required.")
        by_phone = isinstance(to, str) and bool(to)  # Meta: `to` wins when both are given
        address = str(to if by_phone else recipient)
        if payload.get("recipient_type", "individual") != "individual":
            raise _Reject(131009, "recipient_type must be 'individual'.")
        message_type = payload.get("type", "text")
        if message_type not in SUPPORTED_TYPES:
            raise _Reject(100, f"Param type must be one of {list(SUPPORTED_TYPES)}; got {message_type!r}.")
        text = self._validate(message_type, payload)
        with self._lock:
            if message_type != "template" and address in self._closed_windows:
                failure: _Failure | None = _Failure(131047, 400, None, 1)
            elif self._failures and self._failures[0].skip > 0:
                self._failures[0].skip -= 1
                failure = None
            elif self._failures:
                failure = self._failures[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
            else:
                failure = None
            if failure is None:
                wamid = f"wamid.FAKE{next(self._ids):06d}{secrets.token_hex(6).upper()}"
                self._sent.append(
                    {
                        "id": wamid,
                        "to": address,
                        "type": message_type,
                        "text": text,
                        "payload": copy.deepcopy(payload),
                        "at": time.time(),
                    }
                )
        if failure is not None:
            body = graph_error_body(failure.code, details=failure.details)
            return JSONResponse(body, status_code=failure.http_status)
        contact = {"input": address, "wa_id": address} if by_phone else {"input": address, "user_id": address}
        message: dict[str, str] = {"id": wamid}
        if message_type == "template":
            message["message_status"] = "accepted"
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})

    # -- payload validation (returns a human-readable summary of the message) -----------------------

    def _validate(self, message_type: str, payload: dict[str, Any]) -> str:
        if message_type == "text":
            text_obj = _obj("text", payload.get("text"))
            if "preview_url" in text_obj and not isinstance(text_obj["preview_url"], bool):
                raise _Reject(100, "Param text.preview_url must be a boolean.")
            return _text("text.body", text_obj.get("body"), MAX_TEXT_BODY)
        if message_type == "interactive":
            return self._validate_interactive(_obj("interactive", payload.get("interactive")))
        if message_type == "template":
            return self._validate_template(_obj("template", payload.get("template")))
        media = _obj(message_type, payload.get(message_type))
        media_id, link = media.get("id"), media.get("link")
        if (media_id is None) == (link is None):
            raise _Reject(100, f"Exactly one of {message_type}.id or {message_type}.link is required.")
        if media_id is not None:
            with self._lock:
                known = media_id in self._media
            if not known:
                raise _Reject(131009, f"Unknown media id {media_id!r}.")
        else:
            _text(f"{message_type}.link", link, 2048)
        caption = _text(f"{message_type}.caption", media.get("caption"), MAX_CAPTION, required=False)
        if message_type == "document":
            _text("document.filename", media.get("filename"), 240, required=False)
        return caption or str(media.get("filename") or f"<{message_type}>")

    def _validate_interactive(self, interactive: dict[str, Any]) -> str:
        kind = interactive.get("type")
        body = _text(
            "interactive.body.text",
            _obj("interactive.body", interactive.get("body")).get("text"),
            MAX_INTERACTIVE_BODY,
        )
        if "header" in interactive:
            header = _obj("interactive.header", interactive["header"])
            if header.get("type") != "text":
                raise _Reject(131009, "Only text headers are supported by this fake.")
            _text("interactive.header.text", header.get("text"), MAX_HEADER_TEXT)
        if "footer" in interactive:
            _text(
                "interactive.footer.text",
                _obj("interactive.footer", interactive["footer"]).get("text"),
                MAX_FOOTER_TEXT,
            )
        action = _obj("interactive.action", interactive.get("action"))
        if kind == "button":
            buttons = action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
                count = len(buttons) if isinstance(buttons, list) else 0
                raise _Reject(131009, f"Buttons count invalid: {count}. Min: 1, Max: {MAX_BUTTONS}.")
            ids: list[str] = []
            titles: list[str] = []
            for index, button in enumerate(buttons):
                button = _obj(f"action.buttons[{index}]", button)
                if button.get("type") != "reply":
                    raise _Reject(131009, f"action.buttons[{index}].type must be 'reply'.")
                reply = _obj(f"action.buttons[{index}].reply", button.get("reply"))
                ids.append(_text(f"action.buttons[{index}].reply.id", reply.get("id"), MAX_BUTTON_ID))
                titles.append(_text(f"action.buttons[{index}].reply.title", reply.get("title"), MAX_BUTTON_TITLE))
            if len(set(ids)) != len(ids):
                raise _Reject(131009, "Button ids must be unique.")
            if len(set(titles)) != len(titles):
                raise _Reject(131009, "Button titles must be unique.")
            return body
        if kind == "list":
            _text("action.button", action.get("button"), MAX_LIST_BUTTON)
            sections = action.get("sections")
            if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
                raise _Reject(131009, f"Sections count invalid. Min: 1, Max: {MAX_SECTIONS}.")
            row_ids: set[str] = set()
            total = 0
            for s_index, section in enumerate(sections):
                section = _obj(f"action.sections[{s_index}]", section)
                if len(sections) > 1 or "title" in section:
                    _text(f"action.sections[{s_index}].title", section.get("title"), MAX_SECTION_TITLE)
                rows = section.get("rows")
                if not isinstance(rows, list) or not rows:
                    raise _Reject(131009, f"action.sections[{s_index}].rows must be a non-empty list.")
                total += len(rows)
                for r_index, row in enumerate(rows):
                    where = f"action.sections[{s_index}].rows[{r_index}]"
                    row = _obj(where, row)
                    row_id = _text(f"{where}.id", row.get("id"), MAX_ROW_ID)
                    _text(f"{where}.title", row.get("title"), MAX_ROW_TITLE)
                    _text(f"{where}.description", row.get("description"), MAX_ROW_DESCRIPTION, required=False)
                    if row_id in row_ids:
                        raise _Reject(131009, f"Row ids must be unique: {row_id!r}.")
                    row_ids.add(row_id)
            if total > MAX_ROWS:
                raise _Reject(131009, f"Total row count exceed max allowed count: {MAX_ROWS}.")
            return body
        raise _Reject(131009, f"interactive.type {kind!r} is not supported by this fake (button, list).")

    def _validate_template(self, template: dict[str, Any]) -> str:
        name = _text("template.name", template.get("name"), 512)
        language = _text("template.language.code", _obj("template.language", template.get("language")).get("code"), 16)
        with self._lock:
            spec = self._templates.get((name, language))
        if spec is None:
            raise _Reject(132001, f"template name ({name}) does not exist in {language}", status=404)
        components = template.get("components", [])
        if not isinstance(components, list):
            raise _Reject(100, "template.components must be a list.")
        body_params: list[str] = []
        for c_index, component in enumerate(components):
            component = _obj(f"template.components[{c_index}]", component)
            kind = str(component.get("type", "")).lower()
            parameters = component.get("parameters", [])
            if not isinstance(parameters, list):
                raise _Reject(100, f"template.components[{c_index}].parameters must be a list.")
            if kind == "body":
                for p_index, parameter in enumerate(parameters):
                    parameter = _obj(f"body.parameters[{p_index}]", parameter)
                    if parameter.get("type") != "text":
                        raise _Reject(131009, "This fake supports only text body parameters.")
                    value = _text(f"body.parameters[{p_index}].text", parameter.get("text"), MAX_INTERACTIVE_BODY)
                    if _BAD_TEMPLATE_PARAM.search(value):
                        raise _Reject(132018)
                    body_params.append(value)
            elif kind == "button":
                if component.get("sub_type") != "quick_reply":
                    raise _Reject(131009, "This fake supports only quick_reply button components.")
                index = str(component.get("index", ""))
                if not index.isdigit():
                    raise _Reject(131009, "Button component index must be a number.")
                if spec.quick_reply_count is not None and int(index) >= spec.quick_reply_count:
                    raise _Reject(131009, f"Template {name} has no quick-reply button at index {index}.")
                if len(parameters) != 1 or _obj("button parameter", parameters[0]).get("type") != "payload":
                    raise _Reject(131009, "A quick_reply button needs exactly one payload parameter.")
                _text("button payload", parameters[0].get("payload"), MAX_BUTTON_ID)
            else:
                raise _Reject(131009, f"Component type {kind!r} is not supported by this fake.")
        if len(body_params) != spec.body_param_count:
            raise _Reject(
                132000,
                f"body: number of localizable_params ({len(body_params)}) does not match the expected number "
                f"of params ({spec.body_param_count})",
            )
        return f"template:{name}({', '.join(body_params)})"

    # -- media endpoints ----------------------------------------------------------------------------

    def _store_media(self, content: bytes, mime_type: str, filename: str | None) -> str:
        with self._lock:
            media_id = str(1_000_000_000_000_000 + next(self._ids))
            self._media[media_id] = _Media(content, mime_type, filename, hashlib.sha256(content).hexdigest())
        return media_id

    async def _upload(self, request: Request) -> Response:
        early = await self._preamble(request)
        if early is not None:
            return early
        try:
            self._check_phone_number(request)
            fields = _parse_multipart(request.headers.get("content-type", ""), await request.body())
            product = fields.get("messaging_product")
            if product is None or product[2] != b"whatsapp":
                raise _Reject(100, "The parameter messaging_product is required.")
            if "file" not in fields or fields["file"][0] is None:
                raise _Reject(100, "The parameter file is required.")
            filename, part_type, content = fields["file"]
            type_field = fields.get("type")
            mime_type = type_field[2].decode() if type_field else (part_type or "")
            if not mime_type:
                raise _Reject(100, "The parameter type is required.")
            if not content:
                raise _Reject(131009, "The uploaded file is empty.")
        except _Reject as reject:
            return self._reject(reject)
        return JSONResponse({"id": self._store_media(content, mime_type, filename)})

    async def _media_info(self, request: Request) -> Response:
        early = await self._preamble(request)
        if early is not None:
            return early
        media_id = request.path_params["media_id"]
        with self._lock:
            item = self._media.get(media_id)
        wanted_phone = request.query_params.get("phone_number_id")
        if item is None or (wanted_phone is not None and wanted_phone != self.phone_number_id):
            return self._reject(
                _Reject(
                    100,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist, cannot be loaded "
                    "due to missing permissions, or does not support this operation.",
                    subcode=33,
                )
            )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media-download/{media_id}",
                "mime_type": item.mime_type,
                "sha256": item.sha256,
                "file_size": len(item.content),
                "id": media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        early = await self._preamble(request, check_version=False)
        if early is not None:
            return early
        with self._lock:
            item = self._media.get(request.path_params["media_id"])
        if item is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        return Response(item.content, media_type=item.mime_type)


# ------------------------------------------------------------------------------------ webhook payloads


class WebhookBuilder:
    """Builds ``messages`` webhook payloads the way Meta documents them, for one business phone number.

    Every inbound builder takes the sender's phone-number WhatsApp id ``wa_id`` (None for a user who
    hides their number behind a username; then give ``user_id``), and keyword options: ``user_id`` (the
    business-scoped user id, BSUID), ``name`` (profile name), ``username``, ``message_id`` and
    ``timestamp`` (Unix seconds; both generated when omitted).
    """

    def __init__(
        self,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
        waba_id: str = DEFAULT_WABA_ID,
    ) -> None:
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        # Where default timestamps come from (Unix seconds): set it to a test's fake clock.
        self.now: Callable[[], float] = time.time

    def envelope(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """Wrap ``value`` (contacts / messages / statuses) in object / entry / changes."""
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }

    def _inbound(
        self,
        wa_id: str | None,
        message_type: str,
        content: Mapping[str, Any],
        *,
        user_id: str | None,
        name: str,
        username: str | None,
        message_id: str | None,
        timestamp: int | None,
        context_message_id: str | None = None,
    ) -> dict[str, Any]:
        if wa_id is None and user_id is None:
            raise ValueError("give wa_id, user_id or both")
        profile: dict[str, str] = {"name": name}
        if username is not None:
            profile["username"] = username
        contact: dict[str, Any] = {"profile": profile}
        message: dict[str, Any] = {}
        if context_message_id is not None:
            message["context"] = {"from": self.display_phone_number, "id": context_message_id}
        if wa_id is not None:
            contact["wa_id"] = wa_id
            message["from"] = wa_id
        if user_id is not None:
            contact["user_id"] = user_id
            message["from_user_id"] = user_id
        message.update(
            {
                "id": message_id or _new_inbound_id(),
                "timestamp": str(timestamp if timestamp is not None else int(self.now())),
                "type": message_type,
                **content,
            }
        )
        return self.envelope({"contacts": [contact], "messages": [message]})

    def text_message(
        self,
        wa_id: str | None,
        body: str,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        return self._inbound(
            wa_id,
            "text",
            {"text": {"body": body}},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
        )

    def button_reply(
        self,
        wa_id: str | None,
        button_id: str,
        title: str,
        context_message_id: str | None = None,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A tap on an interactive reply button (``interactive.type == "button_reply"``)."""
        content = {"interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}}
        return self._inbound(
            wa_id,
            "interactive",
            content,
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
            context_message_id=context_message_id or _new_outbound_like_id(),
        )

    def list_reply(
        self,
        wa_id: str | None,
        row_id: str,
        title: str,
        description: str | None = None,
        context_message_id: str | None = None,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A row chosen in an interactive list (``interactive.type == "list_reply"``)."""
        reply: dict[str, str] = {"id": row_id, "title": title}
        if description is not None:
            reply["description"] = description
        return self._inbound(
            wa_id,
            "interactive",
            {"interactive": {"type": "list_reply", "list_reply": reply}},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
            context_message_id=context_message_id or _new_outbound_like_id(),
        )

    def template_button_reply(
        self,
        wa_id: str | None,
        payload: str,
        text: str,
        context_message_id: str | None = None,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A tap on a template's quick-reply button (``type == "button"`` with the payload we set)."""
        return self._inbound(
            wa_id,
            "button",
            {"button": {"payload": payload, "text": text}},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
            context_message_id=context_message_id or _new_outbound_like_id(),
        )

    def document_message(
        self,
        wa_id: str | None,
        media_id: str,
        filename: str,
        mime_type: str,
        sha256: str,
        caption: str | None = None,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        document: dict[str, str] = {
            "filename": filename,
            "mime_type": mime_type,
            "sha256": sha256,
            "id": media_id,
        }
        if caption is not None:
            document["caption"] = caption
        return self._inbound(
            wa_id,
            "document",
            {"document": document},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
        )

    def image_message(
        self,
        wa_id: str | None,
        media_id: str,
        mime_type: str,
        sha256: str,
        caption: str | None = None,
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        image: dict[str, str] = {"mime_type": mime_type, "sha256": sha256, "id": media_id}
        if caption is not None:
            image["caption"] = caption
        return self._inbound(
            wa_id,
            "image",
            {"image": image},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
        )

    def contacts_message(
        self,
        wa_id: str | None,
        phone: str,
        formatted_name: str,
        *,
        contact_wa_id: str | None = None,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A shared contact card (``type == "contacts"``)."""
        phone_entry: dict[str, str] = {"phone": phone, "type": "CELL"}
        digits = contact_wa_id or re.sub(r"\D", "", phone)
        if digits:
            phone_entry["wa_id"] = digits
        first_name = formatted_name.split(" ")[0] if formatted_name else ""
        card = {"name": {"formatted_name": formatted_name, "first_name": first_name}, "phones": [phone_entry]}
        return self._inbound(
            wa_id,
            "contacts",
            {"contacts": [card]},
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
        )

    def unknown_message(
        self,
        wa_id: str | None,
        type: str = "sticker",
        *,
        user_id: str | None = None,
        name: str = DEFAULT_PROFILE_NAME,
        username: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A type the bot does not handle: sticker, location, reaction, audio, video or unsupported."""
        contents: dict[str, dict[str, Any]] = {
            "sticker": {
                "sticker": {
                    "mime_type": "image/webp",
                    "sha256": "0" * 64,
                    "id": "1999999999999001",
                    "animated": False,
                }
            },
            "location": {
                "location": {
                    "latitude": -6.2,
                    "longitude": 106.8,
                    "name": "Balai Kota",
                    "address": "Jl. Contoh 1",
                }
            },
            "reaction": {"reaction": {"message_id": _new_outbound_like_id(), "emoji": "\U0001f44d"}},
            "audio": {
                "audio": {
                    "mime_type": "audio/ogg; codecs=opus",
                    "sha256": "0" * 64,
                    "id": "1999999999999002",
                    "voice": True,
                }
            },
            "video": {"video": {"mime_type": "video/mp4", "sha256": "0" * 64, "id": "1999999999999003"}},
            "unsupported": {
                "errors": [
                    {
                        "code": 131051,
                        "title": "Message type unknown",
                        "message": "Message type unknown",
                        "error_data": {"details": "Message type is currently not supported."},
                    }
                ]
            },
        }
        if type not in contents:
            raise ValueError(f"unknown_message type must be one of {sorted(contents)}")
        return self._inbound(
            wa_id,
            type,
            contents[type],
            user_id=user_id,
            name=name,
            username=username,
            message_id=message_id,
            timestamp=timestamp,
        )

    def request_welcome(self, wa_id: str | None, *, user_id: str | None = None, message_id: str | None = None,
                        timestamp: int | None = None) -> dict[str, Any]:  # fmt: skip
        """The person opened a chat with the business for the first time (``type == "request_welcome"``)."""
        return self._inbound(wa_id, "request_welcome", {}, user_id=user_id, name=DEFAULT_PROFILE_NAME,
                             username=None, message_id=message_id, timestamp=timestamp)  # fmt: skip

    def system_message(self, wa_id: str, new_wa_id: str, *, message_id: str | None = None,
                       timestamp: int | None = None) -> dict[str, Any]:  # fmt: skip
        """``user_changed_number``: a system message, without a ``contacts`` array (Meta's reference)."""
        message = {
            "from": wa_id,
            "id": message_id or _new_inbound_id(),
            "timestamp": str(timestamp if timestamp is not None else int(self.now())),
            "type": "system",
            "system": {"body": f"User A changed from {wa_id} to {new_wa_id}", "wa_id": new_wa_id,
                       "type": "user_changed_number"},
        }  # fmt: skip
        return self.envelope({"messages": [message]})

    def status_event(
        self,
        recipient_id: str,
        wamid: str,
        status: str = "sent",
        errors: Sequence[Mapping[str, Any]] | None = None,
        *,
        recipient_user_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A status update for a message we sent: sent, delivered, read or failed (with ``errors``)."""
        if status not in ("sent", "delivered", "read", "failed"):
            raise ValueError("status must be sent, delivered, read or failed")
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(timestamp if timestamp is not None else int(self.now())),
            "recipient_id": recipient_id,
        }
        if recipient_user_id is not None:
            entry["recipient_user_id"] = recipient_user_id
        value: dict[str, Any] = {"statuses": [entry]}
        if status == "failed":
            given = errors if errors is not None else [{"code": 131047, "title": "Re-engagement message"}]
            entry["errors"] = [_status_error(error) for error in given]
        else:
            entry["pricing"] = {
                "billable": True,
                "pricing_model": "PMP",
                "type": "regular",
                "category": "service",
            }
            if recipient_user_id is not None:
                value["contacts"] = [{"wa_id": recipient_id, "user_id": recipient_user_id}]
        return self.envelope(value)


def _status_error(error: Mapping[str, Any]) -> dict[str, Any]:
    code = int(error["code"])
    title, details = ERROR_TEXTS.get(code, ("Error", ""))
    out: dict[str, Any] = {
        "code": code,
        "title": str(error.get("title", title)),
        "message": str(error.get("message", error.get("title", title))),
        "error_data": {"details": str(error.get("details", details))},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
    return out


_inbound_ids = itertools.count(1)


def _new_inbound_id() -> str:
    return f"wamid.IN{next(_inbound_ids):06d}{secrets.token_hex(8).upper()}"


def _new_outbound_like_id() -> str:
    return f"wamid.CTX{secrets.token_hex(10).upper()}"


_default_builder = WebhookBuilder()
text_message = _default_builder.text_message
button_reply = _default_builder.button_reply
list_reply = _default_builder.list_reply
template_button_reply = _default_builder.template_button_reply
document_message = _default_builder.document_message
image_message = _default_builder.image_message
contacts_message = _default_builder.contacts_message
unknown_message = _default_builder.unknown_message
status_event = _default_builder.status_event


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends: ``sha256=`` + HMAC-SHA256 hex of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode_webhook(payload: Mapping[str, Any]) -> bytes:
    """Serialise like Meta: compact JSON with non-ASCII escaped as ``\\uXXXX`` (lowercase hex)."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    app_secret: str = DEFAULT_APP_SECRET,
    *,
    signature: str | None = None,
    client: httpx.AsyncClient | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - passed on to httpx
) -> httpx.Response:
    """Serialise ``payload`` once, sign those exact bytes and POST them to ``url`` like Meta does.

    ``signature`` overrides the computed header (e.g. ``"sha256=bad"``); ``""`` sends no header at all.
    """
    body = encode_webhook(payload)
    request_headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    sig = sign(body, app_secret) if signature is None else signature
    if sig:
        request_headers["X-Hub-Signature-256"] = sig
    request_headers.update(headers or {})
    if client is not None:
        return await client.post(url, content=body, headers=request_headers, timeout=timeout)
    async with httpx.AsyncClient() as own:
        return await own.post(url, content=body, headers=request_headers, timeout=timeout)


# ------------------------------------------------------------------------------------------- fixture


@pytest.fixture
def graph_api() -> Iterator[FakeGraphAPI]:
    """A running :class:`FakeGraphAPI` on 127.0.0.1 (fresh for each test)."""
    with FakeGraphAPI() as fake:
        yield fake
