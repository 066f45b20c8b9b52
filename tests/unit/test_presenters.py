"""The staff card reads as staff expect: lines start with a capital, the bot itself is named in their language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot import i18n
from bot.settings import PROJECT_ROOT
from handlers import presenters
from handlers.domain.model import (
    Actor,
    ActorKind,
    Address,
    AudienceRequest,
    Organization,
    OrganizationType,
    Representative,
    RequestStatus,
)

CATALOGS = i18n.load_catalogs(PROJECT_ROOT / "locales")
WITA = ZoneInfo("Asia/Makassar")
FILED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
REQUEST = AudienceRequest(
    reference="AUD-2026-000001", status=RequestStatus.SUBMITTED,
    organization=Organization("Karang Taruna Kelurahan Maccini", OrganizationType.KARANG_TARUNA, None, 1),
    representative=Representative("Andi Rahmat Hidayat", "+6281234567890", 1), position="Ketua",
    official_key="walikota", subject="Silaturahmi pengurus baru", description="Memperkenalkan pengurus baru.",
    attendees=5, preferred_times=(datetime(2026, 12, 7, 2, 0, tzinfo=UTC),), contact=Address("console", "warga-1"),
    created_at=FILED, id=1,
)  # fmt: skip


def test_reminder_lines_on_the_card_start_with_a_capital() -> None:
    t = CATALOGS.translator("id", WITA)
    line = t("{what}: {state}", what=t("reminder the working day before"), state=t("scheduled for {when}", when="…"))
    card = presenters.request_card(REQUEST, None, t, reminders=[line])
    assert "\nPengingat sehari kerja sebelumnya: dijadwalkan …" in card
    assert all(not row[:1].islower() for row in card.splitlines())


def test_the_system_is_named_in_the_readers_language() -> None:
    system = Actor.system()
    assert presenters.actor_name(system, CATALOGS.translator("id", WITA)) == "Sistem"
    assert presenters.actor_name(system, CATALOGS.translator("en", WITA)) == "System"
    person = Actor(ActorKind.STAFF, "protokol", "Petugas Protokol")
    assert presenters.actor_name(person, CATALOGS.translator("en", WITA)) == "Petugas Protokol"
    decided = replace(REQUEST, status=RequestStatus.REJECTED, decided_by=system.name, decided_at=FILED)
    assert "Keputusan terakhir oleh Sistem" in presenters.request_card(decided, None, CATALOGS.translator("id", WITA))
    assert "Last decision by System" in presenters.request_card(decided, None, CATALOGS.translator("en", WITA))


def test_shorten_cuts_between_words_and_marks_the_cut() -> None:
    assert presenters.shorten("Rapat kerja", 72) == "Rapat kerja"
    assert presenters.shorten("Silaturahmi dan pelaporan pengurus", 20) == "Silaturahmi dan…"
    assert presenters.shorten("Silaturahmi, pelaporan", 16) == "Silaturahmi…"
    assert len(presenters.shorten("x" * 100, 72)) == 72
