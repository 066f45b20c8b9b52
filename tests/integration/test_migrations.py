"""Migrations: upgrade from empty and downgrade to empty on SQLite and PostgreSQL; the models match them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, column, insert, inspect, table, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage import tables  # noqa: F401 - registers the tables
from storage.database import create_engine
from storage.migrate import downgrade_async, upgrade_async
from tests.harness import postgres_url, reset_postgres

EXPECTED_TABLES = {
    "organization", "representative", "channel_identity", "representation", "official", "audience_request",
    "audit_event", "conversation", "reference_counter", "outbox", "booking", "day_off",
}  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    postgres_url() is None, reason="no test PostgreSQL URL"))])  # fmt: skip
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url = postgres_url() or ""
    await reset_postgres(url)
    return url


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_from_empty_creates_every_table_and_downgrade_removes_them(empty_url: str) -> None:
    assert await _tables(empty_url) == set()
    await upgrade_async(empty_url)
    assert await _tables(empty_url) >= EXPECTED_TABLES
    await downgrade_async(empty_url, "base")
    assert await _tables(empty_url) == set()
    await upgrade_async(empty_url)  # and back up again: downgrade left nothing behind that blocks it
    assert await _tables(empty_url) >= EXPECTED_TABLES


async def test_models_and_migrations_agree(empty_url: str) -> None:
    await upgrade_async(empty_url)
    engine = create_engine(empty_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == [], f"the models changed without a migration: {diff}"


FILED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def _seed_before_0006(url: str) -> None:
    """Two requests of one channel account as 0005 stored them: both point at the same person and organization."""
    now = {"created_at": FILED, "updated_at": FILED}
    rows: list[tuple[str, list[dict[str, Any]]]] = [
        ("official", [{"key": "sekda", "name": "Nama Sekda", "title": "Sekretaris Daerah", "office": "Setda",
                       "room": "Ruang Sekda", "active": True}]),
        ("organization", [{"id": 1, "name": "LSM Peduli Pesisir", "name_key": "lsm peduli pesisir", "type": "lsm",
                           "registration_number": "AHU-0012345.AH.01.07.2024", "created_at": FILED}]),
        ("representative", [{"id": 1, "full_name": "Budi Santoso", "phone": "+6281311112222", **now}]),
        ("audience_request", [
            {"id": n, "reference": f"AUD-2026-00000{n}", "status": "submitted", "organization_id": 1,
             "representative_id": 1, "position": "Ketua", "official_key": "sekda",
             "subject": "Silaturahmi pengurus baru", "description": "Memperkenalkan pengurus baru.", "attendees": 5,
             "preferred_times": [],
             "contact_channel": "console", "contact_external_id": "u2", "version": 0, **now}
            for n in (1, 2)
        ]),
        ("audit_event", [{"request_id": 1, "at": FILED, "actor_kind": "representative", "actor_id": "1",
                          "actor_name": "Andi Rahmat", "action": "submit", "to_status": "submitted"}]),
    ]  # fmt: skip
    engine = create_engine(url)
    async with engine.begin() as connection:
        for name, values in rows:
            types = {k: JSON() if isinstance(v, list) else None for k, v in values[0].items()}
            target = table(name, *(column(k, t) if t is not None else column(k) for k, t in types.items()))
            await connection.execute(insert(target), values)
    await engine.dispose()


async def _snapshots(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        result = await connection.execute(text(
            "SELECT reference, representative_name, representative_phone, organization_name, organization_type, "
            "organization_registration_number FROM audience_request ORDER BY id"))  # fmt: skip
        found = [tuple(row) for row in result]
    await engine.dispose()
    return found


async def test_0006_fills_each_request_with_its_people_and_downgrades_keeping_the_rows(empty_url: str) -> None:
    await upgrade_async(empty_url, "0005")
    await _seed_before_0006(empty_url)
    await upgrade_async(empty_url)  # head: the audit event and other children keep pointing at their request
    expected = ("Budi Santoso", "+6281311112222", "LSM Peduli Pesisir", "lsm", "AHU-0012345.AH.01.07.2024")
    assert await _snapshots(empty_url) == [("AUD-2026-000001", *expected), ("AUD-2026-000002", *expected)]
    await downgrade_async(empty_url, "0005")
    engine = create_engine(empty_url)
    async with engine.connect() as connection:
        references = (await connection.execute(text("SELECT reference FROM audience_request ORDER BY id"))).all()
        events = (await connection.execute(text("SELECT request_id FROM audit_event"))).all()
        columns = await connection.run_sync(lambda c: {x["name"] for x in inspect(c).get_columns("audience_request")})
    await engine.dispose()
    assert [r[0] for r in references] == ["AUD-2026-000001", "AUD-2026-000002"] and [e[0] for e in events] == [1]
    assert "representative_name" not in columns
