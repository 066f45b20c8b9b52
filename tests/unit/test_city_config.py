"""The city's configuration file: the shipped example loads; mistakes are reported where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.city_config import ConfigError, load_city_config
from handlers.domain.model import Permission, StaffRole
from tests.harness import CITY_CONFIG

VALID_HEAD = """
[city]
name = "Pemerintah Kota Contoh"
timezone = "Asia/Jayapura"

[[officials]]
key = "walikota"
name = "Nama Wali Kota"
title = "Wali Kota"
office = "Balai Kota"
room = "Ruang Wali Kota"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kota.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_for_makassar_loads() -> None:
    config = load_city_config(CITY_CONFIG)
    assert config.city.timezone == "Asia/Makassar"
    assert {o.key for o in config.officials} >= {"walikota", "wakil-walikota", "sekda", "kesbangpol"}
    ajudan = next(s for s in config.domain_staff() if s.key == "ajudan-wawali")
    assert ajudan.may(Permission.DECIDE, "wakil-walikota")
    assert not ajudan.may(Permission.DECIDE, "walikota")
    viewer = next(s for s in config.domain_staff() if s.key == "umum")
    assert viewer.roles == (StaffRole.VIEWER,) and not viewer.may(Permission.DECIDE, "walikota")


def test_a_minimal_file_with_one_official_is_enough(tmp_path: Path) -> None:
    config = load_city_config(write(tmp_path, VALID_HEAD))
    assert config.tz.key == "Asia/Jayapura" and config.staff == ()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (VALID_HEAD.replace("Asia/Jayapura", "Europe/Paris"), ["city.timezone: must be one of", "WIB, WITA, WIT"]),
        (VALID_HEAD.replace('key = "walikota"', 'key = "Wali Kota!"'),
         ["officials #1 (Wali Kota!): key: 'Wali Kota!' must be 2–64 lowercase letters"]),
        (VALID_HEAD + '\n[[staff]]\nkey = "x1"\nname = "Petugas"\nunit = "Protokol"\nroles = ["raja"]\n',
         ["staff #1 (x1): roles #1: 'raja' is not one of 'admin', 'pemutus' or 'pemantau'"]),
        (VALID_HEAD + '\n[[staff]]\nkey = "x1"\nname = "Petugas"\nunit = "Protokol"\nroles = ["pemutus"]\n'
         'officials = ["sekda"]\n',
         ["staff #1 (x1): officials: no official with the key sekda; the officials are walikota"]),
        (VALID_HEAD + VALID_HEAD.split("[[officials]]")[1].join(["\n[[officials]]", ""]),
         ["officials #2 (walikota): key: 'walikota' is already used by officials #1 (walikota)"]),
        ("[city]\nname = 'Kota X'\n", ["officials: no [[officials]] entry; at least one official is needed"]),
        ("[city\nname=", ["not valid TOML"]),
        (VALID_HEAD + "\nunexpected = 1\n", ["officials #1 (walikota): unexpected: unknown setting"]),
        ("[kota]\nnama = 'X'\n" + VALID_HEAD, ["kota: unknown section; expected [city], [[officials]], [[staff]]"]),
    ],
    ids=["zone", "key", "role", "unknown-official", "duplicate", "no-officials", "toml", "typo", "section"],
)  # fmt: skip
def test_mistakes_are_reported_with_their_place(tmp_path: Path, text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        load_city_config(write(tmp_path, text))
    for fragment in fragments:
        assert fragment in str(error.value)


SEVERAL_PROBLEMS = """
[city]
name = "Pemerintah Kota Contoh"
timezone = "Asia/Jayapura"

[[officials]]
key = "walikota"
name = "Nama Wali Kota"
title = "Wali Kota"
office = "Balai Kota"
room = "Ruang Wali Kota"

[[officials]]
key = "sekda"
name = "Nama Sekda"
title = "Sekda"
office = "Balai Kota"
room = "R"
[officials.calendar]
slot_minutes = 0

[[officials]]
key = "sekda"
name = "Nama Sekda Lain"
title = "Sekda"
office = "Balai Kota"
room = "Ruang Sekda"

[[staff]]
key = "protokol"
name = "Petugas Protokol"
unit = "Protokol"
roles = ["raja"]
officials = ["walkota"]
telegram_user_id = 5

[[staff]]
key = "umum"
name = "Petugas Umum"
unit = "Bagian Umum"
roles = ["pemantau"]
telegram_user_id = 5
"""


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_city_config(write(tmp_path, SEVERAL_PROBLEMS))
    assert str(error.value).splitlines()[1:] == [
        "  - officials #2 (sekda): room: 'R' is too short; at least 2 characters",
        "  - officials #2 (sekda): calendar.slot_minutes: 0 is too small; at least 15",
        "  - officials #3 (sekda): key: 'sekda' is already used by officials #2 (sekda); each must be different",
        "  - staff #1 (protokol): roles #1: 'raja' is not one of 'admin', 'pemutus' or 'pemantau'",
        "  - staff #1 (protokol): officials: no official with the key walkota; the officials are walikota, sekda",
        "  - staff #2 (umum): telegram_user_id: 5 is already used by staff #1 (protokol); each must be different",
    ]
    assert str(error.value).splitlines()[0].endswith("kota.toml: 6 problem(s):")


def test_one_bad_entry_does_not_make_the_list_look_empty(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_city_config(write(tmp_path, VALID_HEAD.replace('room = "Ruang Wali Kota"', 'room = ""')))
    assert "officials #1 (walikota): room:" in str(error.value)
    assert "at least 1 item" not in str(error.value) and "no [[officials]] entry" not in str(error.value)
    assert "1 problem(s)" in str(error.value)


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_city_config(tmp_path / "none.toml")


def test_officials_get_the_government_calendar_by_default() -> None:
    rules = load_city_config(CITY_CONFIG).calendar_rules()["walikota"]
    assert (rules.slot_minutes, rules.buffer_minutes, rules.max_per_day) == (60, 30, 4)
    assert (rules.min_notice_working_days, rules.horizon_days, rules.tz.key) == (2, 60, "Asia/Makassar")
    assert [(w.start.isoformat(), w.end.isoformat()) for w in rules.weekly_hours[4]] == [
        ("08:00:00", "11:00:00"), ("13:30:00", "16:00:00")]  # fmt: skip
    assert rules.weekly_hours[5] == ()


def test_an_official_calendar_can_be_set_in_the_file(tmp_path: Path) -> None:
    text = (
        VALID_HEAD
        + """
[officials.calendar]
hours = { senin = ["08:00-12:00"], jumat = [], sabtu = ["09.00-11.00"] }
slot_minutes = 45
buffer_minutes = 15
max_per_day = 0
min_notice_working_days = 3
horizon_days = 30
"""
    )
    rules = load_city_config(write(tmp_path, text)).calendar_rules()["walikota"]
    assert [(w.start.hour, w.end.hour) for w in rules.weekly_hours[0]] == [(8, 12)]
    assert rules.weekly_hours[4] == () and [(w.start.hour, w.end.hour) for w in rules.weekly_hours[5]] == [(9, 11)]
    assert [(w.start.hour, w.end.hour) for w in rules.weekly_hours[1]] == [(8, 16)]  # not mentioned: the default
    assert (rules.slot_minutes, rules.buffer_minutes, rules.max_per_day) == (45, 15, None)
    assert (rules.min_notice_working_days, rules.horizon_days, rules.tz.key) == (3, 30, "Asia/Jayapura")


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        ('hours = { senen = ["08:00-12:00"] }', "unknown weekday 'senen'"),
        ('hours = { senin = ["12:00-08:00"] }', "must end after it starts"),
        ('hours = { senin = ["08:00-12:00", "11:00-13:00"] }', "must not overlap"),
        ('hours = { senin = ["8 sampai 12"] }', "calendar.hours.senin #1: '8 sampai 12' must be a time span"),
        ("slot_minutes = 0", "officials #1 (walikota): calendar.slot_minutes: 0 is too small; at least 15"),
        ("warna = 1", "officials #1 (walikota): calendar.warna: unknown setting"),
    ],
)
def test_calendar_mistakes_are_reported_with_their_place(tmp_path: Path, calendar: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_city_config(write(tmp_path, VALID_HEAD + "\n[officials.calendar]\n" + calendar + "\n"))
    assert problem in str(error.value)
