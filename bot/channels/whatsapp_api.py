"""A thin, typed async client for Meta's Graph API (WhatsApp Business Cloud API), on httpx.

Only what the WhatsApp channel needs: send text, reply buttons, lists, templates, documents and images;
mark a message read; retrieve, download and upload media. The Graph base URL and version are parameters
so tests point the client at a fake server on loopback.

Validation happens *before* anything is sent: a payload that breaks one of Meta's documented limits
raises ``ValueError``. The caller (the channel renderer) decides the form (buttons, list or numbered
text) and shortens labels with :func:`bot.channels.whatsapp_text.fit`. Lengths are counted in Python
``str`` code points (see ``whatsapp_text``).

Graph errors become :class:`GraphError` subclasses keyed on Meta's error ``code``; network failures and
HTTP 5xx become :class:`GraphUnavailableError`. ``retryable`` tells the caller whether trying again later
can help. Nothing here logs the access token, message bodies, recipients or media URLs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx

__all__ = [
    "DEFAULT_GRAPH_BASE_URL",
    "GraphClient",
    "GraphError",
    "GraphUnavailableError",
    "ListRow",
    "ListSection",
    "MediaInfo",
    "OutsideWindowError",
    "RateLimitedError",
    "UndeliverableError",
]

log = logging.getLogger(__name__)

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"

# Limits documented by Meta for the Cloud API (characters = code points here).
MAX_TEXT_BODY = 4096
# Interactive body: 1024 for reply buttons; Meta's list page has also said 4096 for lists, but the
# official SDK and DESIGN.md say 1024, so the stricter value is enforced for both.
MAX_INTERACTIVE_BODY = 1024
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_BUTTON_LABEL = 20
MAX_LIST_SECTIONS = 10
MAX_LIST_ROWS = 10  # in total, across all sections
MAX_SECTION_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_CAPTION = 1024
MAX_MEDIA_DOWNLOAD_BYTES = 100 * 1024 * 1024  # the largest WhatsApp document

# Graph error codes we act on.
CODE_REENGAGEMENT = 131047  # more than 24 hours since the user's last message: only templates
CODE_RATE_LIMIT = 130429  # Cloud API throughput reached
CODE_PAIR_RATE_LIMIT = 131056  # too many messages to the same user in a short time
CODE_UNDELIVERABLE = 131026  # not on WhatsApp, old client, blocked, ...
CODE_INVALID_PARAMETER = 131009
_RATE_LIMIT_CODES = frozenset({CODE_RATE_LIMIT, CODE_PAIR_RATE_LIMIT, 4, 80007})
_UNAVAILABLE_CODES = frozenset({2, 131016})  # "service temporarily unavailable"

_API_VERSION = re.compile(r"^v\d+\.\d+$")
# A business-scoped user id ("BSUID") such as "ID.13491208655302741918" or a parent one "ID.ENT.…";
# phone numbers are digits (optionally with a leading "+").
_BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]+$")
# Meta rejects template parameters with new-lines, tabs or more than 4 consecutive spaces (132018).
_BAD_TEMPLATE_PARAM = re.compile(r"[\n\r\t]| {5,}")


# --------------------------------------------------------------------------------------------- errors


class GraphError(Exception):
    """An error answer from the Graph API (or no answer at all, for the unavailable subclass)."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        details: str | None = None,
        *,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no HTTP response"
        text = f"Graph API error {self.code if self.code is not None else '-'} ({where}): {self.message}"
        if self.details:
            text += f" — {self.details}"
        return text

    @property
    def outside_window(self) -> bool:
        return self.code == CODE_REENGAGEMENT

    @property
    def rate_limited(self) -> bool:
        return isinstance(self, RateLimitedError)

    @property
    def unauthorized(self) -> bool:
        return self.status == 401 or self.code == 190


class OutsideWindowError(GraphError):
    """131047: the 24-hour customer-service window is closed; only an approved template can be sent."""


class RateLimitedError(GraphError):
    """130429 (throughput), 131056 (pair rate limit), 4 / 80007 (app / account rate limits) or HTTP 429."""

    retryable = True


class UndeliverableError(GraphError):
    """131026: the message cannot be delivered to this user (not on WhatsApp, blocked, old client...)."""


class GraphUnavailableError(GraphError):
    """A network failure, timeout, HTTP 5xx or "temporarily unavailable" answer: try again later."""

    retryable = True


def _error_class(status: int, code: int | None) -> type[GraphError]:
    if code == CODE_REENGAGEMENT:
        return OutsideWindowError
    if code in _RATE_LIMIT_CODES:
        return RateLimitedError
    if code == CODE_UNDELIVERABLE:
        return UndeliverableError
    if status >= 500 or code in _UNAVAILABLE_CODES:
        return GraphUnavailableError
    if status == 429:
        return RateLimitedError
    return GraphError


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def error_from_response(status: int, body: bytes) -> GraphError:
    """Build the right :class:`GraphError` from an error answer (Graph JSON or anything else)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        message = f"unexpected HTTP {status} answer without a Graph error"
        return _error_class(status, None)(status, None, message)
    code = _as_int(error.get("code"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return _error_class(status, code)(
        status,
        code,
        str(error.get("message") or "unknown error"),
        str(details) if details is not None else None,
        subcode=_as_int(error.get("error_subcode")),
        error_type=str(error["type"]) if error.get("type") is not None else None,
        fbtrace_id=str(error["fbtrace_id"]) if error.get("fbtrace_id") is not None else None,
    )


# ---------------------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class ListRow:
    """One choice of an interactive list. ``id`` comes back in the ``list_reply`` webhook."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ListSection:
    """A group of rows; the title is required when the list has more than one section."""

    title: str | None
    rows: Sequence[ListRow]


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What ``GET /{media-id}`` answers. The URL is short-lived (minutes) and needs the bearer token."""

    id: str
    url: str
    mime_type: str
    file_size: int | None
    sha256: str | None


# ------------------------------------------------------------------------------------ payload builders


def _check_text(name: str, value: str, limit: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{name} has {len(value)} characters; WhatsApp allows at most {limit}")


def _recipient(to: str) -> dict[str, str]:
    """``to`` for a phone number / WhatsApp id, ``recipient`` for a business-scoped user id."""
    if not isinstance(to, str) or not to.strip():
        raise ValueError("recipient must not be empty")
    if _BSUID.match(to):
        return {"recipient": to}
    return {"to": to}


def _envelope(to: str, message_type: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **_recipient(to),
        "type": message_type,
    }


def _header_footer(interactive: dict[str, Any], header: str | None, footer: str | None) -> None:
    if header is not None:
        _check_text("header", header, MAX_HEADER_TEXT)
        interactive["header"] = {"type": "text", "text": header}
    if footer is not None:
        _check_text("footer", footer, MAX_FOOTER_TEXT)
        interactive["footer"] = {"text": footer}


def text_payload(to: str, body: str, *, preview_url: bool = False) -> dict[str, Any]:
    _check_text("text body", body, MAX_TEXT_BODY)
    return {**_envelope(to, "text"), "text": {"preview_url": preview_url, "body": body}}


def buttons_payload(
    to: str,
    body: str,
    buttons: Sequence[tuple[str, str]],
    *,
    header: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    _check_text("interactive body", body, MAX_INTERACTIVE_BODY)
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise ValueError(f"reply buttons: {len(buttons)} given; WhatsApp allows 1 to {MAX_BUTTONS}")
    ids = [button_id for button_id, _ in buttons]
    titles = [title for _, title in buttons]
    for button_id, title in buttons:
        _check_text("button id", button_id, MAX_BUTTON_ID)
        _check_text("button title", title, MAX_BUTTON_TITLE)
    if len(set(ids)) != len(ids):
        raise ValueError("reply button ids must be unique")
    if len(set(titles)) != len(titles):
        raise ValueError("reply button titles must be unique")
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": body},
        "action": {
            "buttons": [{"type": "reply", "reply": {"id": button_id, "title": title}} for button_id, title in buttons]
        },
    }
    _header_footer(interactive, header, footer)
    return {**_envelope(to, "interactive"), "interactive": interactive}


def list_payload(
    to: str,
    body: str,
    button_label: str,
    sections: Sequence[ListSection],
    *,
    header: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    _check_text("interactive body", body, MAX_INTERACTIVE_BODY)
    _check_text("list button label", button_label, MAX_LIST_BUTTON_LABEL)
    if not 1 <= len(sections) <= MAX_LIST_SECTIONS:
        raise ValueError(f"list: {len(sections)} sections given; WhatsApp allows 1 to {MAX_LIST_SECTIONS}")
    total_rows = sum(len(section.rows) for section in sections)
    if not 1 <= total_rows <= MAX_LIST_ROWS:
        raise ValueError(f"list: {total_rows} rows given; WhatsApp allows 1 to {MAX_LIST_ROWS} in total")
    row_ids: set[str] = set()
    out_sections: list[dict[str, Any]] = []
    for section in sections:
        if not section.rows:
            raise ValueError("list: every section needs at least one row")
        out_section: dict[str, Any] = {}
        if section.title is not None:
            _check_text("section title", section.title, MAX_SECTION_TITLE)
            out_section["title"] = section.title
        elif len(sections) > 1:
            raise ValueError("list: section titles are required when there is more than one section")
        rows: list[dict[str, str]] = []
        for row in section.rows:
            _check_text("row id", row.id, MAX_ROW_ID)
            _check_text("row title", row.title, MAX_ROW_TITLE)
            if row.id in row_ids:
                raise ValueError("list: row ids must be unique")
            row_ids.add(row.id)
            out_row = {"id": row.id, "title": row.title}
            if row.description is not None:
                _check_text("row description", row.description, MAX_ROW_DESCRIPTION, required=False)
                if row.description:
                    out_row["description"] = row.description
            rows.append(out_row)
        out_section["rows"] = rows
        out_sections.append(out_section)
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": body},
        "action": {"button": button_label, "sections": out_sections},
    }
    _header_footer(interactive, header, footer)
    return {**_envelope(to, "interactive"), "interactive": interactive}


def template_payload(
    to: str,
    name: str,
    language_code: str,
    body_parameters: Sequence[str] = (),
    button_payloads: Sequence[str] = (),
) -> dict[str, Any]:
    _check_text("template name", name, 512)
    _check_text("template language", language_code, 16)
    components: list[dict[str, Any]] = []
    for index, value in enumerate(body_parameters):
        _check_text(f"template parameter {index + 1}", value, MAX_INTERACTIVE_BODY)
        if _BAD_TEMPLATE_PARAM.search(value):
            raise ValueError(
                f"template parameter {index + 1} contains a new-line, a tab or more than 4 consecutive "
                "spaces (Meta error 132018); clean it with whatsapp_text.clean_template_param"
            )
    if body_parameters:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": value} for value in body_parameters]}
        )
    for index, payload in enumerate(button_payloads):
        _check_text(f"quick-reply payload {index}", payload, MAX_BUTTON_ID)
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    template: dict[str, Any] = {"name": name, "language": {"code": language_code}}
    if components:
        template["components"] = components
    return {**_envelope(to, "template"), "template": template}


def _media_object(media_id: str | None, link: str | None) -> dict[str, str]:
    if (media_id is None) == (link is None):
        raise ValueError("give exactly one of media_id or link")
    return {"id": media_id} if media_id is not None else {"link": link or ""}


def document_payload(
    to: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    filename: str | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = _media_object(media_id, link)
    if filename is not None:
        _check_text("document filename", filename, 240)
        document["filename"] = filename
    if caption is not None:
        _check_text("caption", caption, MAX_CAPTION)
        document["caption"] = caption
    return {**_envelope(to, "document"), "document": document}


def image_payload(
    to: str, *, media_id: str | None = None, link: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    image: dict[str, Any] = _media_object(media_id, link)
    if caption is not None:
        _check_text("caption", caption, MAX_CAPTION)
        image["caption"] = caption
    return {**_envelope(to, "image"), "image": image}


# ---------------------------------------------------------------------------------------------- client


class GraphClient:
    """Async client for one WhatsApp business phone number.

    ``http`` may be a shared ``httpx.AsyncClient`` (not closed by :meth:`aclose`); otherwise the client
    makes and owns one. The access token is sent per request and never appears in ``repr`` or logs.
    """

    def __init__(
        self,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an absolute http(s) URL")
        if not _API_VERSION.match(api_version):
            raise ValueError("api_version must look like 'v21.0'")
        if not phone_number_id or not access_token:
            raise ValueError("phone_number_id and access_token are required")
        self._base = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._version = api_version
        self._phone_number_id = phone_number_id
        self._token = access_token
        self._timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"GraphClient(base_url={self._base!r}, api_version={self._version!r}, phone_number_id=…)"

    @property
    def phone_number_id(self) -> str:
        return self._phone_number_id

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- sending ------------------------------------------------------------------------------------

    async def send_text(self, to: str, body: str, preview_url: bool = False) -> str:
        return await self._send(text_payload(to, body, preview_url=preview_url))

    async def send_buttons(
        self,
        to: str,
        body: str,
        buttons: Sequence[tuple[str, str]],
        header: str | None = None,
        footer: str | None = None,
    ) -> str:
        """Reply buttons: 1-3 ``(id, title)`` pairs, titles <= 20, ids <= 256, body <= 1024."""
        return await self._send(buttons_payload(to, body, buttons, header=header, footer=footer))

    async def send_list(
        self,
        to: str,
        body: str,
        button_label: str,
        sections: Sequence[ListSection],
        header: str | None = None,
        footer: str | None = None,
    ) -> str:
        """A list: <= 10 rows in total (title <= 24, description <= 72), label <= 20, body <= 1024."""
        return await self._send(list_payload(to, body, button_label, sections, header=header, footer=footer))

    async def send_template(
        self,
        to: str,
        name: str,
        language_code: str,
        body_parameters: Sequence[str] = (),
        button_payloads: Sequence[str] = (),
    ) -> str:
        """An approved template (works outside the 24-hour window); payloads go to its quick-reply buttons
        in order and come back in the ``button`` webhook."""
        return await self._send(template_payload(to, name, language_code, body_parameters, button_payloads))

    async def send_document(
        self,
        to: str,
        *,
        media_id: str | None = None,
        link: str | None = None,
        filename: str | None = None,
        caption: str | None = None,
    ) -> str:
        return await self._send(document_payload(to, media_id=media_id, link=link, filename=filename, caption=caption))

    async def send_image(
        self, to: str, *, media_id: str | None = None, link: str | None = None, caption: str | None = None
    ) -> str:
        return await self._send(image_payload(to, media_id=media_id, link=link, caption=caption))

    async def mark_read(self, message_id: str, *, typing_indicator: bool = False) -> None:
        """Mark an incoming message read (blue ticks); optionally show "typing…" until we answer."""
        if not message_id:
            raise ValueError("message_id must not be empty")
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if typing_indicator:
            payload["typing_indicator"] = {"type": "text"}
        await self._json("POST", self._url(self._phone_number_id, "messages"), "mark_read", json_body=payload)

    # -- media --------------------------------------------------------------------------------------

    async def get_media_url(self, media_id: str) -> MediaInfo:
        if not media_id:
            raise ValueError("media_id must not be empty")
        data = await self._json(
            "GET", self._url(media_id), "get_media", params={"phone_number_id": self._phone_number_id}
        )
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise GraphError(200, None, "media answer without a URL")
        return MediaInfo(
            id=str(data.get("id") or media_id),
            url=url,
            mime_type=str(data.get("mime_type") or "application/octet-stream"),
            file_size=_as_int(data.get("file_size")),
            sha256=str(data["sha256"]) if data.get("sha256") else None,
        )

    async def download_media(self, url: str, *, max_bytes: int = MAX_MEDIA_DOWNLOAD_BYTES) -> bytes:
        """Download a media URL from :meth:`get_media_url`, with the bearer token.

        The token is only sent over https, or to the configured Graph origin (a loopback fake in tests).
        """
        parts = urlsplit(url)
        if not (parts.scheme == "https" or (parts.scheme, parts.netloc.lower()) == self._origin):
            raise ValueError("refusing to send the access token to a non-https media URL")
        try:
            async with self._http.stream("GET", url, headers=self._auth_headers(), timeout=self._timeout) as response:
                if not response.is_success:
                    body = await response.aread()
                    raise self._failed("download_media", response.status_code, body)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        message = f"media is larger than {max_bytes} bytes"
                        raise GraphError(response.status_code, None, message)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise self._unavailable("download_media", exc) from exc
        log.debug("graph download_media -> %d bytes", size)
        return b"".join(chunks)

    async def upload_media(self, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for later sending; returns the media id."""
        if not content:
            raise ValueError("content must not be empty")
        if not mime_type or not filename:
            raise ValueError("mime_type and filename are required")
        data = await self._json(
            "POST",
            self._url(self._phone_number_id, "media"),
            "upload_media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        media_id = data.get("id")
        if not media_id:
            raise GraphError(200, None, "upload answer without a media id")
        return str(media_id)

    # -- plumbing -----------------------------------------------------------------------------------

    def _url(self, *segments: str) -> str:
        return "/".join((self._base, self._version, *segments))

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _send(self, payload: Mapping[str, Any]) -> str:
        url = self._url(self._phone_number_id, "messages")
        data = await self._json("POST", url, "send", json_body=payload)
        messages = data.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        if isinstance(first, dict) and first.get("id"):
            return str(first["id"])
        raise GraphError(200, None, "send answer without a message id")

    async def _json(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method,
                url,
                json=json_body,
                params=params,
                data=data,
                files=files,
                headers=self._auth_headers(),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise self._unavailable(operation, exc) from exc
        if not response.is_success:
            raise self._failed(operation, response.status_code, response.content)
        log.debug("graph %s -> HTTP %d", operation, response.status_code)
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphError(response.status_code, None, "Graph answer is not JSON") from exc
        if not isinstance(body, dict):
            raise GraphError(response.status_code, None, "Graph answer is not a JSON object")
        return body

    @staticmethod
    def _failed(operation: str, status: int, body: bytes) -> GraphError:
        error = error_from_response(status, body)
        log.warning(
            "graph %s failed: HTTP %d, code %s, subcode %s, fbtrace_id %s",
            operation,
            status,
            error.code,
            error.subcode,
            error.fbtrace_id,
        )
        return error

    @staticmethod
    def _unavailable(operation: str, exc: httpx.HTTPError) -> GraphUnavailableError:
        kind = "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        log.warning("graph %s failed: %s", operation, kind)
        return GraphUnavailableError(0, None, f"{kind} while calling the Graph API ({operation})")
