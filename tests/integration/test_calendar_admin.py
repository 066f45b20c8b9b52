"""`audiensi libur`: staff days off from the command line, into the same table the chat's /libur uses."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from bot import calendar_admin
from bot.settings import Settings
from tests.conftest import START
from tests.fakes.memory import FakeClock
from tests.harness import CITY_CONFIG, harness
from tests.integration.test_reminders import approved, pending_day_before


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


def test_a_day_that_is_no_holiday_cannot_be_opened(tmp_path: Path) -> None:
    code, said = run(tmp_path, "buka", "2026-12-23", "bukan libur")  # an ordinary Wednesday
    assert code == 2 and "2026-12-23 (Wed) is not a national holiday or cuti bersama: nothing to open" in said
    assert "no days off added" in run(tmp_path, "daftar")[1]


def test_a_holiday_staff_blocked_is_not_opened_over_their_day_off(tmp_path: Path) -> None:
    assert run(tmp_path, "tambah", "2026-12-24", "Rapat paripurna DPRD")[0] == 0
    code, said = run(tmp_path, "buka", "2026-12-24", "SKB: cuti bersama dipindahkan")
    assert code == 2 and "is blocked by staff" in said and "libur hapus" in said


def test_the_output_says_whether_an_entry_was_added_or_updated(tmp_path: Path) -> None:
    code, said = run(tmp_path, "tambah", "2026-12-04", "Hari jadi kota")
    assert code == 0 and said.startswith("added:")
    code, said = run(tmp_path, "tambah", "2026-12-04", "Hari jadi Kota Makassar")
    assert code == 0 and said.startswith("updated")
    assert "all officials: Hari jadi Kota Makassar" in said and "was:" in said and "Hari jadi kota  [" in said
    assert len(run(tmp_path, "daftar")[1].splitlines()) == 1


def test_a_day_off_on_a_weekend_is_saved_with_a_warning(tmp_path: Path) -> None:
    code, said = run(tmp_path, "tambah", "2026-12-05", "Kerja bakti")
    assert code == 0 and "warning: 2026-12-05 (Sat) has no office hours anyway" in said
    code, said = run(tmp_path, "buka", "2027-02-06", "Salah input")  # Tahun Baru Imlek on a Saturday
    assert code == 2 and "no office hours anyway" in said


async def test_a_day_off_from_the_command_line_lists_the_audiences_on_it_and_moves_reminders(tmp_path: Path) -> None:
    # A request approved in the chat for Monday 7 December 10.00 (Wakil Wali Kota); its day-before reminder is
    # on Friday 4 December. The command line then blocks both days: its output names the audience, and the
    # reminder moves to Thursday 3 December, as it does when staff use /libur.
    async with harness("sqlite", START, tmp_path) as h:
        request_id = await approved(h)
        assert await pending_day_before(h, request_id) == ["04 09:00"]
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'audiensi.db'}", config_file=CITY_CONFIG)

        def cli_run(*argv: str) -> tuple[int, str]:
            said: list[str] = []
            code = calendar_admin.run(settings, cli(*argv), clock=FakeClock(START), output=said.append)
            return code, "\n".join(said)

        code, said = await asyncio.to_thread(cli_run, "tambah", "2026-12-04", "Hari jadi Kota Makassar")
        assert code == 0 and "1 day-before reminder(s) moved" in said
        assert await pending_day_before(h, request_id) == ["03 09:00"]
        code, said = await asyncio.to_thread(cli_run, "tambah", "7 Desember 2026", "Kunjungan kerja",
                                             "--pejabat", "wakil-walikota")  # fmt: skip
        assert code == 0 and "approved audiences on 2026-12-07 (Mon)" in said
        assert "AUD-2026-000001  10:00  Wakil Wali Kota Makassar  Karang Taruna" in said
        entry_id = said.splitlines()[1].split()[0]
        listing = (await asyncio.to_thread(cli_run, "daftar"))[1].splitlines()
        first_id = listing[0].split()[0]
        code, said = await asyncio.to_thread(cli_run, "hapus", first_id)  # 4 December opens again
        assert code == 0 and await pending_day_before(h, request_id) == ["04 09:00"]
        assert entry_id != first_id
