"""Buttons tied to the question they were offered with.

A button's key alone ("f:send", "f:skip") says what it means but not *which* question it answers: an old
keyboard further up the chat, or another staff member's keyboard in a shared group, carries the same keys as
the current question. So every option a turn offers goes out as ``key~stamp``, where the stamp names the
conversation and the question (a serial that moves on whenever the question changes). A press whose stamp is
not the current one is an old or someone else's button and is answered as such; nothing changes.

Global keys ("g:…", on menus and notices) mean the same at any time and are never stamped. Typed numbers and
labels are matched against the current options by the engine, so they need no stamp.

A stamped key always fits in KEY_LIMIT bytes (Telegram's callback data, the smallest of the channels' limits):
a key too long to carry its stamp — an official's key of up to 64 characters, say — goes out as
``h:<hash of the key>~stamp`` and is matched back against the options offered with that stamp.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace

from handlers.conversation.state import ConversationState
from handlers.messages import Choice, Inbound, Option, Outbound, PressIn

SEPARATOR = "~"
GLOBAL = "g:"
HASHED = "h:"
KEY_LIMIT = 64  # bytes: Telegram's callback_data (WhatsApp takes 200 for a list row, 256 for a button)
# What a press with a foreign stamp becomes: a key that is never offered, so the engine answers "old button".
FOREIGN = "f:foreign"


def _owner(salt: str) -> str:
    return hashlib.blake2s(salt.encode(), digest_size=3).hexdigest()[:4]


def stamp_of(state: ConversationState, salt: str) -> str:
    return f"{state.serial:x}{_owner(salt)}"


def _hashed(key: str) -> str:
    return HASHED + hashlib.blake2s(key.encode(), digest_size=6).hexdigest()


def _with_stamp(key: str, stamp: str) -> str:
    stamped = f"{key}{SEPARATOR}{stamp}"
    return stamped if len(stamped.encode()) <= KEY_LIMIT else f"{_hashed(key)}{SEPARATOR}{stamp}"


def _position(state: ConversationState) -> str:
    """What identifies the question being asked; when it changes, earlier buttons stop applying."""
    frames = [(f.flow, f.step, f.draft, f.editing) for f in state.frames]
    offered = [o.key for o in state.offered]
    return json.dumps([frames, offered, state.confirming], sort_keys=True, default=str)


def unstamp(state: ConversationState, inbound: Inbound, salt: str) -> Inbound:
    """The press as the engine understands it: the bare key when its stamp is current, else a foreign key."""
    if not isinstance(inbound, PressIn) or inbound.key.startswith(GLOBAL) or SEPARATOR not in inbound.key:
        return inbound
    key, _, stamp = inbound.key.rpartition(SEPARATOR)
    if stamp != stamp_of(state, salt):
        return PressIn(FOREIGN)
    if key.startswith(HASHED):  # a long key sent as its hash
        key = next((o.key for o in state.offered if _hashed(o.key) == key), key)
    return PressIn(key)


def stamp_turn(
    before: ConversationState, after: ConversationState, messages: Sequence[Outbound], salt: str
) -> tuple[list[Outbound], ConversationState]:
    """Move the serial on when the question changed, and stamp the options the turn offers."""
    if _position(after) != _position(before):
        after = replace(after, serial=before.serial + 1)
    else:
        after = replace(after, serial=before.serial)
    stamp = stamp_of(after, salt)
    offered = {o.key for o in after.offered}

    def stamped(option: Option) -> Option:
        if option.key.startswith(GLOBAL) or option.key not in offered:
            return option
        return replace(option, key=_with_stamp(option.key, stamp))

    out: list[Outbound] = []
    for message in messages:
        if isinstance(message, Choice):
            message = replace(message, options=tuple(stamped(o) for o in message.options))
        out.append(message)
    return out, after
