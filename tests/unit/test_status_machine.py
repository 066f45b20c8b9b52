"""The status machine: every legal transition works and records an audit event; everything else raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.domain.model import (
    TRANSITIONS,
    Action,
    Actor,
    ActorKind,
    Address,
    AudienceRequest,
    IllegalTransition,
    Organization,
    OrganizationType,
    Representative,
    RequestStatus,
)

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STAFF = Actor(ActorKind.STAFF, "protokol", "Petugas Protokol")


def a_request(status: RequestStatus) -> AudienceRequest:
    return AudienceRequest(
        reference="AUD-2026-000001", status=status,
        organization=Organization("Karang Taruna Maccini", OrganizationType.KARANG_TARUNA, None, 1),
        representative=Representative("Andi", "+6281234567890", 1), position="Ketua", official_key="walikota",
        subject="Silaturahmi pengurus baru", description="Pelaporan pengurus", attendees=5,
        preferred_times=(NOW,), contact=Address("console", "warga"), created_at=NOW, id=7,
    )  # fmt: skip


@pytest.mark.parametrize(("status", "action"), sorted(TRANSITIONS, key=str))
def test_every_legal_transition_moves_to_its_target_and_records_who_when_from_to(
    status: RequestStatus, action: Action
) -> None:
    updated, event = a_request(status).apply(action, STAFF, NOW, note="catatan")
    assert updated.status is TRANSITIONS[(status, action)]
    assert (event.request_id, event.actor, event.at, event.from_status, event.to_status, event.note) == (
        7, STAFF, NOW, status, updated.status, "catatan")  # fmt: skip


ILLEGAL = [(s, a) for s in RequestStatus for a in Action if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_every_other_transition_is_refused(status: RequestStatus, action: Action) -> None:
    with pytest.raises(IllegalTransition):
        a_request(status).apply(action, STAFF, NOW)


def test_final_statuses_allow_nothing_further() -> None:
    for status in RequestStatus:
        if status.is_final:
            assert not any(a_request(status).may(action) for action in Action)


def test_a_decision_records_the_decider_and_the_time() -> None:
    approved, _ = a_request(RequestStatus.SUBMITTED).apply(Action.APPROVE, STAFF, NOW, scheduled_at=NOW, place="R1")
    assert (approved.decided_by, approved.decided_at, approved.place) == ("Petugas Protokol", NOW, "R1")
    assert approved.status is RequestStatus.APPROVED


def test_an_unsaved_request_cannot_change_status() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError):
        replace(a_request(RequestStatus.SUBMITTED), id=None).apply(Action.APPROVE, STAFF, NOW)
