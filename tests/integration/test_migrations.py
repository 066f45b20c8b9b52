"""Migrations: upgrade from empty and downgrade to empty on SQLite and PostgreSQL; the models match them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
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
