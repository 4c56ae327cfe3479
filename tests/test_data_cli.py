"""``sicheck export`` and ``stats`` facing a file they cannot write: one line, never a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli

KEY = "one key for good, long enough"


def made(folder: Path) -> list[str]:
    """The options naming a database made in ``folder``."""
    url = ["--database-url", f"sqlite:///{folder}/x.db"]
    assert cli.main(["db", "upgrade", *url]) == 0
    return url


@pytest.mark.parametrize("kind", ["csv", "excel", "jsonl", "xlsx"])
@pytest.mark.parametrize("where", ["missing/export", "."])
def test_an_export_to_a_place_it_cannot_write_is_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    where: str,
) -> None:
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", KEY)
    url = made(tmp_path)
    out = tmp_path / where  # a directory that does not exist, or a directory itself
    assert cli.main(["export", "--format", kind, "--out", str(out), *url]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"sicheck: cannot write {out}: ")
    assert error.count("\n") == 1
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("option", ["--chart", "--map"])
def test_stats_to_a_directory_that_does_not_exist_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    out = tmp_path / "missing" / "figures.png"
    url = made(tmp_path)
    assert cli.main(["stats", option, str(out), *url]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"sicheck: cannot write {out}: ")
    assert error.count("\n") == 1


@pytest.mark.parametrize("command", ["stats", "export"])
def test_a_cohort_code_that_names_no_cohort_is_refused_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    url = ["--database-url", f"sqlite:///{tmp_path}/x.db"]
    assert cli.main(["cohort", "new", "Riga 2026", *url]) == 0
    capsys.readouterr()
    # A typo (or the cohort's name instead of its code) is not a cohort too small to show,
    # nor an empty export.
    assert cli.main([command, "--cohort", "Riga 2026", *url]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "sicheck: No cohort has the code Riga 2026: the list of cohorts shows the codes.\n"
    )
    assert captured.out == ""
    assert list(tmp_path.glob("sicheck-*")) == []


def test_an_export_ending_before_it_begins_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    url = made(tmp_path)
    dates = ["--since", "2026-05-01", "--until", "2026-04-01"]
    assert cli.main(["export", *dates, *url]) == 2
    assert capsys.readouterr().err == (
        "sicheck: export option until: a day no earlier than since (2026-05-01)\n"
    )
    assert list(tmp_path.glob("sicheck-*")) == []
    # One day, given as both ends, is a day: not refused.
    assert cli.main(["export", "--since", "2026-05-01", "--until", "2026-05-01", *url]) == 0


@pytest.mark.parametrize("command", ["export", "purge", "stats"])
def test_stopping_a_coordinators_command_speaks_of_no_console_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    async def interrupted(*_args: object) -> int:
        raise KeyboardInterrupt

    summary, declare, _work = cli.SUBCOMMANDS[command]
    monkeypatch.setitem(cli.SUBCOMMANDS, command, (summary, declare, interrupted))
    assert cli.main([command]) == 130
    assert capsys.readouterr().err == "\nStopped.\n"


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["export"],
        ["purge"],
        ["erase", "--telegram-id", "5"],
        ["cohort", "list"],
        ["coordinator", "list"],
        ["coordinator", "remove", "5"],
        ["mentor", "list", "--as", "telegram:5"],
        ["db", "current"],
    ],
)
def test_a_command_on_an_sqlite_file_that_is_not_there_makes_no_empty_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "sichek.db"  # a typo, or the default relative path in another directory
    assert cli.main([*command, "--database-url", f"sqlite:///{typo}"]) == 2
    assert capsys.readouterr().err == (
        f"sicheck: no database at {typo}: check --database-url or DATABASE_URL\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_adding_a_coordinator_to_a_database_not_there_yet_says_it_made_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "data" / "sicheck.db"
    url = ["--database-url", f"sqlite:///{fresh}"]
    assert cli.main(["coordinator", "add", "5", *url]) == 0
    assert capsys.readouterr().err == f"sicheck: a new database was made at {fresh}\n"
    assert cli.main(["cohort", "new", "Riga", *url]) == 0
    assert capsys.readouterr().err == ""
