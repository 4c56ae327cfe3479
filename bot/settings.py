"""Settings from the environment and ``.env``; the README's table says what each one means."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, negotiate
from storage.database import DEFAULT_DATABASE_URL

PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})
RETENTION_DAYS_MAX = 36_500
"""A hundred years: a much longer period reaches before the year 1, where dates end."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    default_locale: str = SOURCE_LANGUAGE
    telegram_bot_token: SecretStr | None = None
    telegram_bot_username: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_proxy: str | None = None
    telegram_connections: int = Field(16, ge=1)
    telegram_rate_limit: float = Field(30, ge=0)
    """Messages per second over all chats; 0 for no limit."""
    telegram_chat_rate_limit: float = Field(1, gt=0)
    telegram_retries: int = Field(5, ge=0)
    telegram_retry_backoff: float = Field(0.5, ge=0)
    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8080, ge=0, le=65535)
    polling_timeout: int = Field(30, ge=1)
    """0 would be short polling: a call to Telegram after another, without a pause."""
    sicheck_coordinators: str = ""
    sicheck_pseudonym_key: SecretStr | None = None
    retention_days: int = Field(365, ge=1, le=RETENTION_DAYS_MAX)
    reminder_after_hours: float = Field(24, gt=0, le=RETENTION_DAYS_MAX * 24)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    stats_min_group: int = Field(5, ge=1)

    @field_validator("default_locale")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        language = negotiate(value, "")
        if not language:
            raise ValueError(f"{value!r} is none of {', '.join(SUPPORTED_LANGUAGES)}")
        return language

    @field_validator("telegram_proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        # httpx would refuse any other scheme only once the bot is being built.
        if value and urlsplit(value).scheme.lower() not in PROXY_SCHEMES:
            raise ValueError("give it as http://, https:// or socks5://host:port")
        return value

    @field_validator("sicheck_coordinators")
    @classmethod
    def _user_ids(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip() and not (part.strip().isascii() and part.strip().isdecimal()):
                raise ValueError(
                    f"{part.strip()!r} is not a Telegram user id: give numbers separated by commas"
                )
        return value

    @property
    def coordinators(self) -> frozenset[str]:
        """The Telegram user ids ``SICHECK_COORDINATORS`` names."""
        return frozenset(
            part.strip() for part in self.sicheck_coordinators.split(",") if part.strip()
        )
