"""The Indonesian catalog loads and is complete; dates read as people in each zone expect them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
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


def _project(root: Path, id_entries: str) -> Path:
    """A tiny project: one message in the code, its template, and an Indonesian catalog as given."""
    (root / "handlers").mkdir()
    (root / "bot").mkdir()
    (root / "locales").mkdir()
    (root / "babel.cfg").write_text("[python: **.py]\n", encoding="utf-8")
    (root / "handlers" / "hello.py").write_text('from handlers.i18n import N_\n\nHELLO = N_("Hello")\n')
    i18n.extract(root)
    po = root / "locales" / "id" / "LC_MESSAGES" / "audiensi.po"
    po.parent.mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
    header += '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
    po.write_text(header + 'msgid "Hello"\nmsgstr "Halo"\n\n' + id_entries, encoding="utf-8")
    return root


def test_check_passes_a_catalog_that_matches_the_code(tmp_path: Path) -> None:
    assert i18n.check(_project(tmp_path, "")) == []


def test_check_reports_obsolete_and_stale_entries(tmp_path: Path) -> None:
    stale = 'msgid "Goodbye"\nmsgstr "Sampai jumpa"\n\n'
    obsolete = '#~ msgid "Old greeting"\n#~ msgstr "Salam lama"\n'
    root = _project(tmp_path, stale + obsolete)
    problems = i18n.check(root)
    assert "id catalog: obsolete entry (#~) 'Old greeting': run `audiensi i18n update`" in problems
    assert "id catalog: 'Goodbye' is no longer used by the code: run `audiensi i18n update`" in problems
    assert len(problems) == 2, problems


def test_check_reports_a_translation_whose_placeholders_differ(tmp_path: Path) -> None:
    root = _project(tmp_path, "")
    (root / "handlers" / "hello.py").write_text(
        'from handlers.i18n import N_\n\nHELLO = N_("Hello")\nSEEN = N_("{reference} was seen on {when}")\n'
        'TIDY = N_("{when}: {{braces}} stay")\n'
    )
    i18n.extract(root)
    po = root / "locales" / "id" / "LC_MESSAGES" / "audiensi.po"
    po.write_text(po.read_text(encoding="utf-8") + 'msgid "{reference} was seen on {when}"\n'
                  'msgstr "{referensi} dilihat pada {when}"\n\n'
                  'msgid "{when}: {{braces}} stay"\nmsgstr "{when}: {{kurung}} tetap"\n', encoding="utf-8")  # fmt: skip
    problems = i18n.check(root)
    assert problems == ["id catalog: '{reference} was seen on {when}' is translated with placeholders "
                        "['referensi', 'when'], its message id has ['reference', 'when']"]  # fmt: skip
