"""Turn what people type into clean values, or say precisely what is expected.

Validators are pure: they take text and return a value or raise :class:`Invalid` carrying a gettext message id
(marked with ``N_``) and its parameters. The conversation translates the message for the person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers

from handlers.i18n import N_, Msg


@dataclass
class Invalid(Exception):
    msgid: str
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.msgid


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(raw: str, *, multiline: bool = False) -> str:
    """Drop control characters, fold runs of spaces, and trim; keep everything else verbatim.

    Markup-looking text (``<b>``, ``*``, ``DROP TABLE``) is kept as typed: it is stored as data through bound
    parameters and channels send it as plain text, so it can do no harm and the person's words stay theirs.
    """
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C" or ch == "\u200d")
    lines = [_SPACES.sub(" ", line).strip() for line in kept.split("\n")]
    if not multiline:
        return " ".join(line for line in lines if line)
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")


def free_text(
    raw: str,
    *,
    min_length: int,
    max_length: int,
    example: str,
    multiline: bool = False,
    min_words: int = 1,
) -> str:
    """`example`: a message id (marked with N_), shown translated in the person's language; text that is not
    one (a room's name from the city's file) reads as it is."""
    example = Msg(example)
    text = clean_text(raw, multiline=multiline)
    if not text:
        raise Invalid(N_("This answer cannot be empty. Example: {example}"), {"example": example})
    if len(text) > max_length:
        raise Invalid(
            N_("This answer is too long ({length} characters); at most {max} characters. Example: {example}"),
            {"length": len(text), "max": max_length, "example": example},
        )
    if _letters(text) == 0:
        raise Invalid(
            N_("Please answer with words, not only symbols or emoji. Example: {example}"),
            {"example": example},
        )
    # Each rule reports itself: a subject of two long words is short in words, not in characters.
    if word_count(text) < min_words:
        raise Invalid(
            N_("This answer is too short; please write at least {min} words. Example: {example}"),
            {"min": min_words, "example": example},
        )
    if len(text) < min_length:
        raise Invalid(
            N_("This answer is too short; please write at least {min} characters. Example: {example}"),
            {"min": min_length, "example": example},
        )
    return text


def word_count(text: str) -> int:
    """Words that contain a letter or a digit: a dash or an emoji between words is not a word."""
    return sum(1 for part in text.split() if _letters(part))


_NAME_ALLOWED = re.compile(r"^[^\W\d_]+(?:[ .'\-,][^\W\d_]*)*\.?$", re.UNICODE)


# Phones and word processors type a typographic apostrophe (Ma’ruf); names keep the plain one.
_APOSTROPHES = str.maketrans(dict.fromkeys("’‘ʼʻ`´", "'"))


def person_name(raw: str) -> str:
    example = Msg(N_("Andi Rahmat Hidayat, S.Sos."))
    name = free_text(raw.translate(_APOSTROPHES), min_length=3, max_length=100, example=example)
    if not _NAME_ALLOWED.match(name.replace(", ", " ").replace(",", " ")):
        raise Invalid(
            N_("A name may contain only letters, spaces, dots, commas, apostrophes and hyphens. Example: {example}"),
            {"example": example},
        )
    return name


def phone_number(raw: str, region: str = "ID") -> str:
    """An Indonesian phone number in any common form, returned as E.164 (+628…)."""
    example = Msg(N_("0812-3456-7890"))
    text = clean_text(raw)
    if not text:
        raise Invalid(N_("Please send a phone number. Example: {example}"), {"example": example})
    if len(text) > 32 or not re.fullmatch(r"[+0-9 ().\-]+", text):
        raise Invalid(
            N_("That does not look like a phone number. Please use digits only. Example: {example}"),
            {"example": example},
        )
    candidate = text if text.startswith("+") else ("+" + text if text.startswith("62") else text)
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or number.country_code != 62 or not phonenumbers.is_valid_number(number):
        raise Invalid(
            N_("{number} is not a valid Indonesian phone number. Example: {example}"),
            {"number": text, "example": example},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def show_phone(stored: str, region: str = "ID") -> str:
    """A stored E.164 number as people in Indonesia write it (0812-3456-7890; (0411) 123456); as stored when it
    cannot be read."""
    try:
        number = phonenumbers.parse(stored, region)
    except phonenumbers.NumberParseException:
        return stored
    if number.country_code != 62:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def registration_number(raw: str) -> str:
    example = "AHU-0012345.AH.01.07.2024"
    text = free_text(raw, min_length=3, max_length=64, example=example)
    if not re.fullmatch(r"[0-9A-Za-z./\- ]+", text) or not any(ch.isdigit() for ch in text):
        raise Invalid(
            N_("A registration number uses letters, digits, dots, slashes and hyphens. Example: {example}"),
            {"example": example},
        )
    return text


def letter_number(raw: str) -> str:
    example = Msg(N_("005/12/KT/VII/2026"))
    text = free_text(raw, min_length=3, max_length=64, example=example)
    if not any(ch.isdigit() for ch in text):
        raise Invalid(N_("A letter number contains digits. Example: {example}"), {"example": example})
    return text


_NUMBER_WORDS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7, "delapan": 8,
    "sembilan": 9, "sepuluh": 10,
}  # fmt: skip


def attendee_count(raw: str, maximum: int) -> int:
    example = "5"
    text = clean_text(raw).lower()
    text = re.sub(r"\s*(orang|org|peserta)\.?$", "", text).strip()
    if text in _NUMBER_WORDS:
        count = _NUMBER_WORDS[text]
    elif re.fullmatch(r"\d{1,6}", text):
        count = int(text)
    else:
        raise Invalid(N_("Please write the number of attendees in digits. Example: {example}"), {"example": example})
    if count < 1:
        raise Invalid(N_("At least one person must attend. Example: {example}"), {"example": example})
    if count > maximum:
        raise Invalid(
            N_(
                "An audience is for at most {max} people. Larger gatherings (forums, sarasehan) are arranged "
                "by staff separately; please contact the office of the official you wish to meet. Example: {example}"
            ),
            {"max": maximum, "example": example},
        )
    return count


_DMY_HM = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:.](\d{2})$")


def typed_datetime(raw: str, tz: ZoneInfo, now: datetime) -> datetime:
    """A date and time typed as DD/MM/YYYY HH:MM in the office time zone, in the future."""
    example = "07/07/2026 10:00"
    text = clean_text(raw)
    match = _DMY_HM.match(text)
    if not match:
        raise Invalid(
            N_("Please write the date and time as DD/MM/YYYY HH:MM. Example: {example}"), {"example": example}
        )
    day, month, year, hour, minute = (int(part) for part in match.groups())
    try:
        when = datetime(year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        raise Invalid(N_("That date or time does not exist. Example: {example}"), {"example": example}) from None
    if when <= now:
        raise Invalid(N_("That time has already passed. Please choose a time in the future."), {})
    return when
