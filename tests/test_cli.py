"""The ``sicheck`` command: clear one-line errors instead of tracebacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import cli, runtime
from dialogs.content import CONTENT_DIR, load_content
from storage.migrate import head_revision


def test_an_unreachable_database_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["console", "--database-url", "postgresql+asyncpg://nobody@127.0.0.1:9/none"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("sicheck: cannot reach the database at postgresql+asyncpg://")
    assert "Traceback" not in error
    assert error.count("\n") == 1


def test_an_unusable_database_url_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["console", "--database-url", "nonsense://"]) == 2
    assert capsys.readouterr().err.startswith("sicheck: DATABASE_URL is not usable")


def test_a_corrupt_content_file_stops_the_start_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (broken / "risks.yaml").write_text("risks: {not: [a list", encoding="utf-8")
    monkeypatch.setattr(runtime, "default_content", lambda: load_content(broken))
    assert cli.main(["console", "--database-url", f"sqlite+aiosqlite:///{tmp_path}/x.db"]) == 2
    error = capsys.readouterr().err
    assert "risks.yaml: cannot read content file" in error
    assert "Traceback" not in error


def test_db_upgrade_then_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    assert cli.main(["db", "current", "--database-url", url]) == 1
    assert cli.main(["db", "upgrade", "--database-url", url]) == 0
    assert cli.main(["db", "current", "--database-url", url]) == 0
    head = head_revision()
    assert f"database at {head}, code at {head}" in capsys.readouterr().out
