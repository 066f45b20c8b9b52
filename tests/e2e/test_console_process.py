"""The console as a person uses it: the real `audiensi chat` process, typed input, closed and opened again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT


def chat(database: Path, lines: list[str], *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "AUDIENSI_LOG_LEVEL": "WARNING",
        "AUDIENSI_QUIET_START": "00:00",
        "AUDIENSI_QUIET_END": "00:00",
    }  # real time, maybe at night: no quiet hours
    env.pop("AUDIENSI_TELEGRAM_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def test_a_request_survives_closing_the_program_and_staff_decide_it(tmp_path: Path) -> None:
    db = tmp_path / "audiensi.db"
    first = chat(db, ["1", "Karang Taruna Kelurahan Maccini", "4", "lewati", "Andi Rahmat Hidayat", "/keluar"])
    assert "Selamat datang di layanan audiensi" in first
    assert "Apa jabatan Bapak/Ibu di organisasi?" in first

    second = chat(db, ["Ketua", "0812-3456-7890", "2", "Silaturahmi dan pelaporan pengurus baru",
                       "Kami ingin melaporkan susunan pengurus baru dan menjajaki kerja sama.", "5", "1", "1",
                       "Selesai",
                       "lewati", "Kirim"])  # fmt: skip
    assert "Selamat datang kembali" in second and "Privasi" not in second  # the whole welcome only once
    assert "“Permohonan audiensi” masih dalam pengisian, pada bagian “Jabatan”" in second
    assert "Andi Rahmat Hidayat" in second  # the summary still has the answer given before closing
    assert "kode permohonan AUD-" in second

    staff = chat(db, ["/antrian", "1", "Setujui", "1", "1", "Setujui"], "--staf", "protokol")
    assert "Permohonan audiensi baru AUD-" in staff  # the notice waiting for this staff member
    assert "Keputusan tersimpan" in staff

    third = chat(db, ["/status"])
    assert "🔔" in third and "Kabar baik, Bapak/Ibu" in third
    assert "Disetujui" in third


def test_a_broken_configuration_file_is_reported_without_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "kota.toml"
    broken.write_text('[city]\nname = "X"\ntimezone = "Europe/Paris"\n', encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AUDIENSI_CONFIG_FILE": str(broken)}
    result = subprocess.run([sys.executable, "-m", "bot", "check-config"], capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "city.timezone" in result.stderr and "officials" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_on_a_fresh_database_opens_the_console_without_log_lines(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "AUDIENSI_LOG_LEVEL": "INFO"}
    for name in ("AUDIENSI_TELEGRAM_TOKEN", "AUDIENSI_WHATSAPP_ACCESS_TOKEN"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "bot", "run"], input="/keluar\n", capture_output=True, text=True,
                            env=env, cwd=PROJECT_ROOT, timeout=120, check=True)  # fmt: skip
    assert result.stdout.splitlines()[0].startswith("Konsol Audiensi")
    assert "Selamat datang di layanan audiensi" in result.stdout
    assert "alembic" not in result.stderr and " INFO " not in result.stderr, result.stderr


def test_an_unsupported_database_url_is_reported_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "mysql://root:geheim@localhost/kota"}
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], input="", capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "DATABASE_URL mysql://… is not supported: use sqlite:///file.db or postgresql://user:password@host:5432/name"
    ]
