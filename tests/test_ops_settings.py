"""Settings an operator mistyped stop ``sicheck run`` with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEGRAM_PROXY", "proxy.example.org:3128"),
        ("SICHECK_COORDINATORS", "@ana, 12345"),
        ("SICHECK_COORDINATORS", "12345 67890"),
        ("DEFAULT_LOCALE", "de"),
        ("LISTEN_PORT", "80800"),
        ("TELEGRAM_RATE_LIMIT", "-30"),
        ("RETENTION_DAYS", "999999"),
        ("REMINDER_AFTER_HOURS", "inf"),
        ("POLLING_TIMEOUT", "0"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(
    name: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", "a pseudonym key for the test")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'sicheck.db'}")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    errors = capsys.readouterr().err
    assert errors.startswith(f"sicheck: setting {name}: ")
    assert errors.count("\n") == 1


@pytest.mark.parametrize(("given", "language"), [("lv", "lv"), ("LV", "lv"), ("lv-LV", "lv")])
def test_default_locale_takes_a_language_tag(given: str, language: str) -> None:
    assert Settings(_env_file=None, default_locale=given).default_locale == language


def test_coordinators_are_user_ids_separated_by_commas() -> None:
    settings = Settings(_env_file=None, sicheck_coordinators=" 12345, 67890 ,")
    assert settings.coordinators == {"12345", "67890"}
