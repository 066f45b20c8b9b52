"""Translation and local date formatting, per person.

Message ids are English; the `id` catalog is the default language of the bot and must be complete (CI checks).
Strings defined as data (flow prompts, labels) are marked with :func:`N_` so extraction finds them and are
translated when shown.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

DEFAULT_LANGUAGE = "id"

# Indonesia's three zones by their legal abbreviations (UU/Keppres 41/1987), which Babel does not know.
_ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


def N_(message: str) -> str:  # gettext convention: mark now, translate when shown
    return message


class Msg(str):
    """A message id passed as a parameter of another message (an example in an error): translated with it."""

    __slots__ = ()


DATE_AT_TIME = N_("{date} at {time} {zone}")


def zone_abbreviation(tz: ZoneInfo, at: datetime | None = None) -> str:
    known = _ZONE_ABBREVIATIONS.get(tz.key)
    if known:
        return known
    return (at or datetime.now(tz)).astimezone(tz).tzname() or tz.key


class Translator:
    """Everything a person reads passes through here: their language and their office's time zone."""

    def __init__(self, translations: gettext.NullTranslations, language: str, tz: ZoneInfo) -> None:
        self._translations = translations
        self.language = language
        self.tz = tz

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**self._params(params)) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        return self._translations.ngettext(singular, plural, n).format(n=n, **self._params(params))

    def _params(self, params: Mapping[str, object]) -> dict[str, object]:
        return {key: self(value) if isinstance(value, Msg) else value for key, value in params.items()}

    def day_month(self, day: date) -> str:
        """E.g. "17 Agustus 2026" (without the weekday)."""
        return format_date(day, "d MMMM y", locale=self.language)

    def clock(self, moment: time | datetime) -> str:
        """A wall-clock time, e.g. "10.00"; an aware datetime is shown in the office's zone."""
        if isinstance(moment, datetime):
            moment = moment.astimezone(self.tz).time()
        return format_time(moment, "HH.mm" if self.language == "id" else "HH:mm", locale=self.language)

    def date(self, day: date) -> str:
        return format_date(day, "EEEE, d MMMM y", locale=self.language)

    def datetime(self, moment: datetime, tz: ZoneInfo | None = None) -> str:
        """E.g. "Senin, 7 Juli 2025 pukul 10.00 WITA"."""
        zone = tz or self.tz
        local = moment.astimezone(zone)
        return self(DATE_AT_TIME).format(
            date=self.date(local.date()),
            time=format_time(local, "HH.mm" if self.language == "id" else "HH:mm", locale=self.language),
            zone=zone_abbreviation(zone, local),
        )

    def with_zone(self, tz: ZoneInfo) -> Translator:
        return Translator(self._translations, self.language, tz)


class Catalogs:
    """The loaded catalogs by language; unknown languages fall back to the default."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations], default: str = DEFAULT_LANGUAGE):
        self._translations = dict(translations)
        self.default = default

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._translations)

    def translator(self, language: str | None, tz: ZoneInfo) -> Translator:
        lang = language if language in self._translations else self.default
        return Translator(self._translations.get(lang, gettext.NullTranslations()), lang, tz)
