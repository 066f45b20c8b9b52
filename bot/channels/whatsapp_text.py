"""Pure text helpers for the WhatsApp channel: shorten and split without breaking words or emoji.

What we count
-------------
Meta documents WhatsApp limits in "characters" (text body 4096, interactive body 1024, reply-button
title 20, list row title 24, ...) without defining the unit. Everything here counts **Python ``str``
code points** (``len(text)``): an emoji such as "👍" is 1, "👍🏽" (with a skin-tone modifier) is 2, a flag
such as "🇮🇩" is 2 and a family "👨‍👩‍👧" is 5. ``GraphClient`` and the fake Graph API in the tests count the
same way.

Cuts are only made at boundaries between user-perceived characters: never between a base character and
a combining mark, a variation selector, a skin-tone modifier, an emoji tag, a zero-width joiner (ZWJ)
or the character a ZWJ joins, never inside a regional-indicator pair (a flag) and never between CR and
LF. This is a deliberately small subset of Unicode grapheme-cluster rules (UAX #29) that covers what
people type in chats; it errs on the side of not cutting.
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = [
    "ELLIPSIS",
    "clean_template_param",
    "fit",
    "is_cut_allowed",
    "split_message",
    "unique_titles",
]

ELLIPSIS = "…"

# split_message prefers a paragraph or line break in the second half of the window, then whitespace
# in the last 70 %, and only then cuts a word.
_BREAK_MIN_FRACTION = 0.5
_SPACE_MIN_FRACTION = 0.3

_ZWJ = "\u200d"
_ZWNJ = "\u200c"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_extender(ch: str) -> bool:
    """True for characters that continue the preceding user-perceived character."""
    cp = ord(ch)
    if ch in (_ZWJ, _ZWNJ):
        return True
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= cp <= 0x1F3FF:  # emoji skin-tone modifiers
        return True
    if 0xE0020 <= cp <= 0xE007F:  # tag characters (subdivision flags such as England)
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")  # combining, enclosing (keycap), spacing marks


def is_cut_allowed(text: str, index: int) -> bool:
    """Whether ``text[:index]`` / ``text[index:]`` is a cut between two user-perceived characters."""
    if index <= 0 or index >= len(text):
        return True
    before, after = text[index - 1], text[index]
    if before == "\r" and after == "\n":
        return False
    if _is_extender(after):
        return False
    if before == _ZWJ and not after.isspace():  # ZWJ sequence: 👨‍👩‍👧
        return False
    if 0xD800 <= ord(before) <= 0xDBFF and 0xDC00 <= ord(after) <= 0xDFFF:  # surrogate pair (rare in str)
        return False
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        run = 0
        j = index - 1
        while j >= 0 and _is_regional_indicator(text[j]):
            run += 1
            j -= 1
        return run % 2 == 0  # an odd run means `before` opens a flag that `after` closes
    return True


def _last_allowed_cut(text: str, at_most: int) -> int:
    """The largest index <= at_most where a cut is allowed (0 if none)."""
    for j in range(min(at_most, len(text)), 0, -1):
        if is_cut_allowed(text, j):
            return j
    return 0


def fit(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Return ``text`` if it fits in ``limit`` code points, else a shortened prefix ending in ``ellipsis``.

    The prefix ends after the last whole word that fits ("Kepala Dinas…", never "Kepala Dinas Kependuduk…");
    a word is cut only when the first word alone is too long, and then at the last allowed cut (see
    :func:`is_cut_allowed`), so no emoji or accented letter is ever halved. Trailing whitespace before the
    ellipsis is dropped. The result never exceeds ``limit``.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    budget = limit - len(ellipsis)  # code points left for the text itself; text[budget] exists
    cut = 0
    first_word = len(text) - len(text.lstrip())  # where the first word starts
    for j in range(budget, first_word, -1):
        if text[j].isspace():  # text[:j] ends a word (and holds at least one)
            cut = j
            break
    if cut == 0:
        cut = _last_allowed_cut(text, budget)
    return text[:cut].rstrip() + ellipsis


def unique_titles(labels: list[str], limit: int) -> list[str]:
    """Each label fitted into ``limit``; titles that come out the same (two long labels that differ only at
    the end, or the same label twice) are told apart by a number: "Kepala Dinas…", "Kepala Dinas… (2)".
    WhatsApp refuses reply buttons with the same title, and a list whose rows read the same is no choice."""
    titles: list[str] = []
    for label in labels:
        title = fit(label, limit)
        number = 1
        while title in titles:
            number += 1
            suffix = f" ({number})"
            title = fit(label, max(0, limit - len(suffix))) + suffix
        titles.append(title)
    return titles


def _split_point(text: str, limit: int) -> int:
    """Where to end the next part of ``text`` (len(text) > limit): an index in 1..limit."""
    window = text[: limit + 1]
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(window)]
    if breaks and breaks[-1] >= limit * _BREAK_MIN_FRACTION:
        return breaks[-1]
    line = window.rfind("\n")
    if line >= limit * _BREAK_MIN_FRACTION:
        return line
    lowest = max(1, math.ceil(limit * _SPACE_MIN_FRACTION))
    for j in range(limit, lowest - 1, -1):
        if window[j].isspace():
            return j
    cut = _last_allowed_cut(text, limit)
    return cut if cut > 0 else limit  # a single "character" longer than the limit must be cut


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` code points, in order.

    Parts end at a paragraph break if one falls in the second half of the window, else at a line break
    there, else at whitespace in the last 70 %, else at the last allowed cut (a very long "word").
    Whitespace at the edges of each part is removed, so joining the parts with whitespace gives back the
    same words. Blank text gives ``[]`` (WhatsApp rejects empty messages).
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            parts.append(rest)
            break
        cut = _split_point(rest, limit)
        head = rest[:cut].rstrip()
        if head:
            parts.append(head)
        rest = rest[cut:].lstrip()
    return parts


def clean_template_param(text: str) -> str:
    """Make ``text`` acceptable as a template body parameter.

    Meta rejects template parameters containing new-lines or tabs or more than four consecutive spaces
    (error 132018), so every run of whitespace becomes a single space.
    """
    return " ".join(text.split())
