"""Settings from the environment and ``.env`` (see the README's table)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.i18n import SOURCE_LANGUAGE
from storage.database import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host:5432/db",
    )
    default_locale: str = Field(
        SOURCE_LANGUAGE, description="Language for users whose own one is unknown or unsupported"
    )
    telegram_bot_token: SecretStr | None = Field(None, description="Token from @BotFather")
    telegram_bot_username: str | None = Field(
        None, description="The bot's @username, for cohort links made on the command line"
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server, for a self-hosted one"
    )
    telegram_proxy: str | None = Field(
        None,
        description="Proxy for the Bot API (http://, https:// or socks5://host:port); unset: "
        "HTTPS_PROXY or ALL_PROXY from the environment, if any",
    )
    telegram_connections: int = Field(
        16, ge=1, description="Most connections open to the Bot API at once for calls"
    )
    telegram_rate_limit: float = Field(
        30, description="Most messages per second, over all chats (0: no limit)"
    )
    telegram_chat_rate_limit: float = Field(
        1, gt=0, description="Messages per second in one chat, after a short burst"
    )
    telegram_retries: int = Field(
        5, ge=0, description="Retries of a Bot API call that is safe to repeat (see budget.py)"
    )
    telegram_retry_backoff: float = Field(
        0.5, ge=0, description="Seconds before the first retry; doubled for each further one"
    )
    webhook_url: str | None = Field(
        None, description="Public HTTPS URL Telegram posts updates to; unset: long polling"
    )
    webhook_secret_token: SecretStr | None = Field(
        None, description="Secret Telegram sends with every webhook request; required with it"
    )
    listen_host: str = Field("127.0.0.1", description="Address the webhook server listens on")
    listen_port: int = Field(8080, description="Port the webhook server listens on")
    polling_timeout: int = Field(30, ge=0, description="Seconds one getUpdates call may wait")
    sicheck_coordinators: str = Field(
        "", description="Comma-separated Telegram user ids of coordinators"
    )
    sicheck_pseudonym_key: SecretStr | None = Field(
        None, description="Secret key of respondents' pseudonyms; required by run and export"
    )
    retention_days: int = Field(
        365, ge=1, description="Days after which unfinished assessments and identities go"
    )
    reminder_after_hours: float = Field(
        24, gt=0, description="Hours of silence before one reminder of an unfinished assessment"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log records written by sicheck run"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object per line"
    )
    stats_min_group: int = Field(
        5, ge=1, description="Groups with fewer respondents are left out of aggregate figures"
    )

    @property
    def coordinators(self) -> frozenset[str]:
        """The Telegram user ids ``SICHECK_COORDINATORS`` names."""
        return frozenset(
            part.strip() for part in self.sicheck_coordinators.split(",") if part.strip()
        )
