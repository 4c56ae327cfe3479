"""The ``sicheck`` command: clear one-line errors instead of tracebacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import cli, runtime
from dialogs.content import CONTENT_DIR, load_content
from storage.database import create_engine
from storage.migrate import HEAD, apply_migrations, head_revision, schema_is_current

ROOT = Path(__file__).resolve().parents[1]


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
    assert cli.main(["db", "current", "--database-url", url]) == 2
    assert not (tmp_path / "fresh.db").exists()
    assert cli.main(["db", "upgrade", "--database-url", url]) == 0
    assert cli.main(["db", "current", "--database-url", url]) == 0
    head = head_revision()
    assert f"database at {head}, code at {head}" in capsys.readouterr().out


def test_the_schema_check_finds_the_newest_migration(tmp_path: Path) -> None:
    assert head_revision() == HEAD
    engine = create_engine(f"sqlite:///{tmp_path}/check.db")
    assert not schema_is_current(engine)
    apply_migrations(engine, "0004")
    assert not schema_is_current(engine)
    apply_migrations(engine)
    assert schema_is_current(engine)
    engine.dispose()


def test_a_database_newer_than_the_code_is_one_clear_line(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """As after going back to an older release: neither it nor ``db upgrade`` can migrate."""
    engine = create_engine(database_url)
    try:
        apply_migrations(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        url = ["--database-url", database_url]
        for command in (["db", "upgrade"], ["console"], ["purge"]):
            assert cli.main([*command, *url]) == 2, command
            error = capsys.readouterr().err
            assert "at migration 9999, newer than this version of SI Check" in error, command
            assert error.count("\n") == 1
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE alembic_version SET version_num = '{HEAD}'"))
        engine.dispose()


HEAVY = ("telegram", "matplotlib", "sqlalchemy", "fpdf", "starlette", "uvicorn", "xlsxwriter")
DRAWING = ("telegram", "matplotlib", "fpdf", "starlette", "uvicorn", "xlsxwriter")


def _imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running ``code``."""
    script = f"""import sys
{code}
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}})))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(done.stdout.splitlines()[-1].split())


def _after_main(*argv: str) -> str:
    return f"""from bot import cli
try:
    cli.main({list(argv)!r})
except SystemExit:
    pass"""


def test_help_imports_no_database_telegram_or_drawing_library() -> None:
    imported = _imported_after(_after_main("--help"))
    assert "bot" in imported
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)


def test_the_console_imports_no_telegram_or_drawing_library() -> None:
    imported = _imported_after(_after_main("console", "--help"))
    assert imported.isdisjoint(HEAVY), imported & set(HEAVY)
    imported = _imported_after("import bot.cli, bot.console, bot.runtime")
    assert "sqlalchemy" in imported
    assert "alembic" not in imported
    assert imported.isdisjoint(DRAWING), imported & set(DRAWING)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "--version", "²"], "argument --version: '²' is not a number"),
        (["export", "--version", "1.5"], "argument --version: '1.5' is not a number"),
        (["coordinator", "add", "²"], "argument user_id: '²' is not a Telegram user id"),
        (["coordinator", "remove", "①"], "argument user_id: '①' is not a Telegram user id"),
        (["erase", "--telegram-id", "١٢"], "'١٢' is not a Telegram user id"),
        (["erase"], "one of the arguments --telegram-id --console-user is required"),
        (["erase", "--console-user", " "], "a console user name cannot be empty"),
    ],
)
def test_a_number_in_other_digits_is_refused_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


def test_a_coordinator_id_is_stored_as_its_ascii_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/c.db"
    assert cli.main(["db", "upgrade", "--database-url", url]) == 0
    assert cli.main(["coordinator", "add", "0042", "--database-url", url]) == 0
    assert cli.main(["coordinator", "list", "--database-url", url]) == 0
    assert "telegram\t42\t" in capsys.readouterr().out
