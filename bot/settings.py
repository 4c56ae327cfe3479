"""Settings from the environment and ``.env``; the README's table says what each one means."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.i18n import SOURCE_LANGUAGE
from storage.database import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    default_locale: str = SOURCE_LANGUAGE
    telegram_bot_token: SecretStr | None = None
    telegram_bot_username: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_proxy: str | None = None
    telegram_connections: int = Field(16, ge=1)
    telegram_rate_limit: float = 30
    """Messages per second over all chats; 0 for no limit."""
    telegram_chat_rate_limit: float = Field(1, gt=0)
    telegram_retries: int = Field(5, ge=0)
    telegram_retry_backoff: float = Field(0.5, ge=0)
    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    polling_timeout: int = Field(30, ge=0)
    sicheck_coordinators: str = ""
    sicheck_pseudonym_key: SecretStr | None = None
    retention_days: int = Field(365, ge=1)
    reminder_after_hours: float = Field(24, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    stats_min_group: int = Field(5, ge=1)

    @property
    def coordinators(self) -> frozenset[str]:
        """The Telegram user ids ``SICHECK_COORDINATORS`` names."""
        return frozenset(
            part.strip() for part in self.sicheck_coordinators.split(",") if part.strip()
        )
