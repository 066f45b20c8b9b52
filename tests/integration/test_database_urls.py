"""The DATABASE_URL forms people paste work: postgres:// and postgresql://, with libpq's sslmode, and SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.settings import SettingsError, load_settings
from storage.database import async_url, create_engine
from tests.harness import postgres_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///audiensi.db", "sqlite+aiosqlite:///audiensi.db"),
        ("postgres://u:p@db.example:5432/kota", "postgresql+asyncpg://u:p@db.example:5432/kota"),
        ("postgresql://u@db.example/kota?sslmode=require", "postgresql+asyncpg://u@db.example/kota?ssl=require"),
    ],
)
def test_pasted_urls_pick_the_async_drivers(given: str, used: str) -> None:
    assert async_url(given) == used


@pytest.mark.skipif(postgres_url() is None, reason="no test PostgreSQL URL")
async def test_a_libpq_url_with_sslmode_connects() -> None:
    url = postgres_url()
    assert url is not None
    engine = create_engine(f"{url}{'&' if '?' in url else '?'}sslmode=disable")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("select 1"))).scalar() == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("given", ["mysql://root:geheim@localhost/kota", "mongodb://db/kota", "audiensi.db"])
def test_an_unsupported_database_url_is_one_clear_line_without_its_password(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    said = str(refused.value)
    assert said.startswith("DATABASE_URL ") and "is not supported: use sqlite:///file.db or postgresql://" in said
    assert "\n" not in said and "geheim" not in said


def test_supported_database_urls_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for given in ("sqlite:///audiensi.db", "postgres://u:p@db/kota", "postgresql+asyncpg://u@db/kota"):
        monkeypatch.setenv("DATABASE_URL", given)
        assert load_settings().database_url == given
