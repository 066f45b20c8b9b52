"""`audiensi libur`: staff days off from the command line, into the same table the chat's /libur uses."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot import calendar_admin
from bot.settings import Settings
from tests.conftest import START
from tests.fakes.memory import FakeClock
from tests.harness import CITY_CONFIG


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="audiensi")
    calendar_admin.add_arguments(parser.add_subparsers(dest="command"))
    return parser.parse_args(["libur", *argv])


def run(tmp_path: Path, *argv: str) -> tuple[int, str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", config_file=CITY_CONFIG)
    said: list[str] = []
    code = calendar_admin.run(settings, cli(*argv), clock=FakeClock(START), output=said.append)
    return code, "\n".join(said)


def test_days_off_are_added_listed_and_removed(tmp_path: Path) -> None:
    assert "no days off added" in run(tmp_path, "daftar")[1]
    code, said = run(tmp_path, "tambah", "2026-12-04", "Hari jadi Kota Makassar")
    assert code == 0 and "2026-12-04 (Fri)  all officials: Hari jadi Kota Makassar" in said
    code, said = run(tmp_path, "tambah", "7 Desember 2026", "Kunjungan kerja", "--pejabat", "walikota")
    assert code == 0 and "2026-12-07 (Mon)  Wali Kota Makassar: Kunjungan kerja" in said
    listing = run(tmp_path, "daftar")[1].splitlines()
    assert len(listing) == 2 and "Hari jadi" in listing[0]
    entry_id = listing[0].split()[0]
    assert run(tmp_path, "hapus", entry_id)[0] == 0
    assert run(tmp_path, "hapus", entry_id) == (2, f"error: no day off number {entry_id} (already removed?)")
    assert len(run(tmp_path, "daftar")[1].splitlines()) == 1


def test_a_holiday_of_the_package_is_opened_as_a_working_day(tmp_path: Path) -> None:
    code, said = run(tmp_path, "buka", "24 Desember 2026", "SKB: cuti bersama dipindahkan", "--pejabat", "walikota")
    assert code == 0 and "2026-12-24 (Thu)  OPEN (working day)  Wali Kota Makassar: SKB: cuti bersama" in said
    [line] = run(tmp_path, "daftar")[1].splitlines()
    assert "OPEN (working day)" in line
    assert run(tmp_path, "hapus", line.split()[0])[0] == 0


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("tambah", "kemarin lusa", "Rapat"), "not a date"),
        (("tambah", "2020-01-01", "Rapat"), "has already passed"),
        (("tambah", "2026-12-04", "Rapat", "--pejabat", "presiden"), "unknown official 'presiden'"),
        (("tambah", "2026-12-04", "x"), "3 to 200 characters"),
        (("buka", "2020-12-24", "Rapat"), "has already passed"),
    ],
)
def test_mistakes_are_reported_without_a_traceback(tmp_path: Path, argv: tuple[str, ...], error: str) -> None:
    code, said = run(tmp_path, *argv)
    assert code == 2 and error in said
