"""The Indonesian catalog loads and is complete; dates read as people in each zone expect them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot import i18n
from bot.settings import PROJECT_ROOT

CATALOGS = i18n.load_catalogs(PROJECT_ROOT / "locales")
WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")


def test_catalogs_are_complete_and_up_to_date_with_the_code() -> None:
    assert i18n.check(PROJECT_ROOT) == []


def test_indonesian_is_the_default_and_actually_translates() -> None:
    t = CATALOGS.translator(None, WITA)
    assert t.language == "id"
    assert t("Send") == "Kirim"
    assert t("Skip") == "Lewati"


def test_the_language_is_per_person() -> None:
    assert CATALOGS.translator("en", WITA)("Send") == "Send"
    assert CATALOGS.translator("xx", WITA)("Send") == "Kirim"  # unknown language: the default


def test_one_plural_form_in_indonesian() -> None:
    t = CATALOGS.translator("id", WITA)
    assert t.plural("{n} person", "{n} people", 1) == "1 orang"
    assert t.plural("{n} person", "{n} people", 5) == "5 orang"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (WITA, "Senin, 7 Juli 2025 pukul 10.00 WITA"),
        (WIB, "Senin, 7 Juli 2025 pukul 09.00 WIB"),
        (WIT, "Senin, 7 Juli 2025 pukul 11.00 WIT"),
    ],
)
def test_one_instant_reads_in_each_office_zone(zone: ZoneInfo, expected: str) -> None:
    instant = datetime(2025, 7, 7, 2, 0, tzinfo=UTC)
    assert CATALOGS.translator("id", zone).datetime(instant) == expected


def test_english_format_for_english_speakers() -> None:
    instant = datetime(2025, 7, 7, 2, 0, tzinfo=UTC)
    assert CATALOGS.translator("en", WITA).datetime(instant) == "Monday, 7 July 2025 at 10:00 WITA"
