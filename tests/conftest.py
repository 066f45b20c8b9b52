from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from storage.migrate import upgrade
from tests.fakes.graph_api import graph_api  # noqa: F401 - fixture
from tests.fakes.telegram_api import telegram_api  # noqa: F401 - fixture
from tests.harness import (
    MAKASSAR,
    Harness,
    create_session_database,
    drop_session_database,
    harness,
    postgres_url,
)

# Monday 23 November 2026, 09:00 WITA: a working day, far from holidays.
START = datetime(2026, 11, 23, 9, 0, tzinfo=MAKASSAR)

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(postgres_url() is None, reason="no test PostgreSQL URL")),
]


@pytest.fixture(scope="session", autouse=True)
def isolated_postgres() -> Iterator[None]:
    name = asyncio.run(create_session_database())
    yield
    if name is not None:
        asyncio.run(drop_session_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test would dominate the run time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
async def h(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Harness]:
    async with harness(request.param, START, tmp_path, sqlite_template) as built:
        yield built


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=BACKENDS[2].marks)])
async def sql_h(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Harness]:
    async with harness(request.param, START, tmp_path, sqlite_template) as built:
        yield built
