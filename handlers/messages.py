"""Channel-neutral messages. Channels render these as well as they can and degrade to numbered text."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from handlers.domain.model import FileRef


class InputHint(enum.StrEnum):
    """What the bot expects next, so a channel can offer the right control (e.g. Telegram's contact button)."""

    TEXT = "text"
    PHONE = "phone"
    FILE = "file"


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    description: str | None = None


@dataclass(frozen=True)
class Text:
    body: str


@dataclass(frozen=True)
class Refusal(Text):
    """Nothing happened, and this says why (a stale button, a decision already made, no right to act).

    Channels may show it briefly (Telegram: an alert on the pressed button) instead of as a message.
    """


@dataclass(frozen=True)
class Choice:
    body: str
    options: tuple[Option, ...]
    hint: InputHint = InputHint.TEXT


@dataclass(frozen=True)
class Prompt:
    """A question with no buttons that still tells the channel what input is expected."""

    body: str
    hint: InputHint = InputHint.TEXT


@dataclass(frozen=True)
class Document:
    """A file to show the reader — the request letter —, kept wherever the channel it came in keeps it.

    Each channel sends it as well as it can (Telegram: the file again; WhatsApp: an uploaded document; the
    console: where it is kept); `body` (the caption) is what reads in its place where no file can go.
    """

    file: FileRef
    caption: str

    @property
    def body(self) -> str:
        return self.caption


Outbound = Text | Choice | Prompt | Document


@dataclass(frozen=True)
class TextIn:
    text: str


@dataclass(frozen=True)
class PressIn:
    """A button press (or a typed number/label the engine recognised as one)."""

    key: str


@dataclass(frozen=True)
class FileIn:
    file: FileRef


@dataclass(frozen=True)
class ContactIn:
    """A shared contact card. `own`: the sender's own number (Telegram's "share my number" button); a contact
    someone else's, forwarded from the address book, is not a phone number the person gave for themselves."""

    phone: str
    own: bool = True


Inbound = TextIn | PressIn | FileIn | ContactIn


@dataclass(frozen=True)
class Notification:
    """A message the bot starts, addressed to someone other than (or later than) the current exchange."""

    channel: str
    external_id: str
    kind: str
    messages: tuple[Outbound, ...]
    request_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def outbound_to_dict(message: Outbound) -> dict[str, Any]:
    if isinstance(message, Choice):
        return {
            "type": "choice",
            "body": message.body,
            "hint": message.hint.value,
            "options": [{"key": o.key, "label": o.label, "description": o.description} for o in message.options],
        }
    if isinstance(message, Prompt):
        return {"type": "prompt", "body": message.body, "hint": message.hint.value}
    if isinstance(message, Refusal):
        return {"type": "refusal", "body": message.body}
    if isinstance(message, Document):
        f = message.file
        file = {"channel": f.channel, "file_id": f.file_id, "name": f.name, "mime_type": f.mime_type, "size": f.size}
        return {"type": "document", "caption": message.caption, "file": file}
    return {"type": "text", "body": message.body}


def outbound_from_dict(data: dict[str, Any]) -> Outbound:
    kind = data.get("type")
    if kind == "choice":
        options = tuple(Option(o["key"], o["label"], o.get("description")) for o in data["options"])
        return Choice(data["body"], options, InputHint(data.get("hint", "text")))
    if kind == "prompt":
        return Prompt(data["body"], InputHint(data.get("hint", "text")))
    if kind == "refusal":
        return Refusal(data["body"])
    if kind == "document":
        f = data["file"]
        return Document(FileRef(f["channel"], f["file_id"], f["name"], f["mime_type"], int(f["size"])), data["caption"])
    return Text(data["body"])
