"""Typed settings from the environment (and an optional .env file). Secrets are SecretStr and never logged."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.reminders import ReminderPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The databases Audiensi runs on (storage/database.py picks the async driver for each).
DATABASE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+asyncpg",
                    "postgresql+psycopg", "postgresql+psycopg2")  # fmt: skip


class Settings(BaseSettings):
    # An empty variable (AUDIENSI_TELEGRAM_WEBHOOK_SECRET=) counts as unset: an empty secret would open the webhook.
    model_config = SettingsConfigDict(env_prefix="AUDIENSI_", env_file=".env", extra="ignore", populate_by_name=True,
                                      env_ignore_empty=True)  # fmt: skip

    database_url: str = Field(
        default="sqlite:///audiensi.db",
        validation_alias=AliasChoices("DATABASE_URL", "AUDIENSI_DATABASE_URL"),
        description="SQLite file by default; postgres:// or postgresql:// for PostgreSQL.",
    )
    config_file: Path = Field(
        default=PROJECT_ROOT / "config" / "kota.toml", description="The city's officials and staff."
    )
    locales_dir: Path = PROJECT_ROOT / "locales"
    log_level: str = "INFO"

    telegram_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_staff_chat_id: int | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_url: str | None = None

    whatsapp_access_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_graph_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    # Approved utility template (language id) used outside the 24-hour window; its text is in docs/whatsapp.md.
    whatsapp_notice_template: str = "audiensi_pemberitahuan"
    whatsapp_template_language: str = "id"
    whatsapp_messages_per_second: float = 80.0
    # Stored webhook events: a processor killed mid-event leaves it "processing"; after this lease another
    # takes it again. An event whose handling fails is retried with backoff this many times in all.
    whatsapp_processing_lease_seconds: float = Field(default=300.0, gt=0)
    whatsapp_max_event_attempts: int = Field(default=5, ge=1)
    # Recipients delivered to at the same time (one slow recipient does not hold up the others).
    whatsapp_delivery_concurrency: int = Field(default=8, ge=1)
    # Where letters people send are kept (WhatsApp: <files_dir>/whatsapp/<media id>.<pdf|jpg|png>).
    files_dir: Path = PROJECT_ROOT / "data" / "files"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in DATABASE_SCHEMES:  # said without the rest of the URL: it may hold a password
            shown = f"{scheme}://…" if scheme else "a value without a scheme"
            raise ValueError(f"DATABASE_URL {shown} is not supported: use sqlite:///file.db or "
                             "postgresql://user:password@host:5432/name")  # fmt: skip
        return url

    @field_validator(
        "telegram_token", "telegram_webhook_secret", "telegram_webhook_url", "whatsapp_access_token",
        "whatsapp_phone_number_id", "whatsapp_app_secret", "whatsapp_verify_token", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """Blank secrets, tokens and URLs are unset, however they were given (environment, .env, arguments)."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(text, str) and not text.strip() else value

    @property
    def whatsapp_enabled(self) -> bool:
        return all(
            value is not None
            for value in (self.whatsapp_access_token, self.whatsapp_phone_number_id, self.whatsapp_app_secret)
        )

    # Messages per second this process sends to Telegram (TelegramRateLimiter, evenly spaced). Telegram allows
    # about 30 a second per bot; sends paced at exactly 30 arrive bunched now and then by network and event-loop
    # jitter, and Telegram counts 31 in a second (429: every send of the process waits). 28 keeps a margin
    # (docs/benchmarks.md). With N sending processes give each 28/N. The 20 a minute per group is fixed.
    telegram_max_rate: float = Field(default=28.0, gt=0)

    # Reminders and scheduled messages, in office time (the city's zone). quiet_start == quiet_end: no quiet hours.
    reminder_day_before_at: time = time(9, 0)
    reminder_before_minutes: int = Field(default=120, ge=10)
    digest_today_at: time = time(7, 0)
    digest_tomorrow_at: time = time(16, 0)
    nudge_at: time = time(8, 0)
    nudge_after_working_days: int = Field(default=2, ge=1)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(6, 0)
    feedback_after_minutes: int = Field(default=120, ge=0)
    worker_interval_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _digests_in_order(self) -> Settings:
        """Today's agenda is made from its morning time until the afternoon one: the morning must come first."""
        if self.digest_today_at >= self.digest_tomorrow_at:
            raise ValueError(
                f"AUDIENSI_DIGEST_TODAY_AT ({self.digest_today_at:%H:%M}) must be earlier than "
                f"AUDIENSI_DIGEST_TOMORROW_AT ({self.digest_tomorrow_at:%H:%M})"
            )
        return self

    def reminder_policy(self, tz: ZoneInfo) -> ReminderPolicy:
        return ReminderPolicy(
            tz=tz,
            day_before_at=self.reminder_day_before_at,
            before=timedelta(minutes=self.reminder_before_minutes),
            digest_today_at=self.digest_today_at,
            digest_tomorrow_at=self.digest_tomorrow_at,
            nudge_at=self.nudge_at,
            nudge_after_working_days=self.nudge_after_working_days,
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            after_audience=timedelta(minutes=self.feedback_after_minutes),
        )

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None and bool(self.telegram_token.get_secret_value())


def load_settings() -> Settings:
    """The settings, or ConfigError with one line per problem (no traceback, no secret echoed)."""
    try:
        return Settings()
    except ValidationError as invalid:
        lines = []
        for error in invalid.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(message if message.startswith("DATABASE_URL") else f"{where}: {message}")
        raise SettingsError("\n".join(lines)) from None


class SettingsError(Exception):
    """The environment holds a setting Audiensi cannot run with."""
