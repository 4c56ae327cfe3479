"""Benchmark: exporting a large answer log to CSV and XLSX, against pandas doing the same.

Generates ``--rows`` answer-log rows (a few thousand respondents and assessments) into a fresh
SQLite file, then runs each export in a process of its own, so each phase's peak RSS is its
own. Prints one JSON object. Not a test: run it by hand and compare before and after a change.

    uv run --extra bench python -m bench.export_bench --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Connection

from storage.coordination import PSEUDONYM_KEY
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Base,
    Cohort,
    InstanceSecret,
    Respondent,
)

BATCH = 50_000
START = datetime(2025, 1, 1, tzinfo=UTC)
COUNTRIES = ("LV", "FR", "ES", "SE", "DE", "IT", "PL", "PT")
COMMENTS = (
    "Works well with the municipality.",
    "Ļoti labi: ēdināšana un sabiedrība",
    "=SUM(A1:A9)",
    "-2+3 volunteers",
    "Très bien, mais le financement manque.",
)
TARGETS = {"csv_rows_per_second": 200_000, "xlsx_rows_per_second": 15_000, "peak_rss_mb": 200}
CRITERIA = tuple(f"C{number:02d}" for number in range(1, 11))


# Generating


def _log_rows(first: int, last: int, assessments: int) -> Iterator[dict[str, Any]]:
    for number in range(first, last):
        criterion = (number // assessments) % len(CRITERIA)
        value = number % 5
        yield {
            "assessment_id": number % assessments + 1,
            "criterion": CRITERIA[criterion],
            "value": None if value == 4 else value,  # 4 stands for "not applicable"
            "aspects": [],
            "comment": COMMENTS[number // 10 % len(COMMENTS)] if number % 10 == 0 else None,
            "revision": number // (assessments * len(CRITERIA)) + 1,
            "at": START + timedelta(seconds=number),
            "source": "bench",
        }


def generate(path: Path, rows: int, respondents: int, assessments: int) -> None:
    """Fill a fresh SQLite file with respondents, assessments, answers and the answer log."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(InstanceSecret), [{"name": PSEUDONYM_KEY, "value": secrets.token_hex(32)}]
        )
        connection.execute(
            insert(Cohort),
            [
                {"code": f"bench-{number}", "name": f"Cohort {number}", "created_at": START}
                for number in range(1, 11)
            ],
        )
        connection.execute(
            insert(Respondent),
            [
                {
                    "platform": "telegram",
                    "external_id": str(100_000_000 + number),
                    "language": "en",
                    "consent_at": START,
                    "created_at": START,
                }
                for number in range(1, respondents + 1)
            ],
        )
        connection.execute(insert(Assessment), list(_assessments(respondents, assessments)))
        for first in range(0, rows, BATCH):
            connection.execute(
                insert(AnswerLog), list(_log_rows(first, min(first + BATCH, rows), assessments))
            )
        _answers(connection)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()


def _assessments(respondents: int, assessments: int) -> Iterator[dict[str, Any]]:
    for number in range(1, assessments + 1):
        completed = number % 3 != 0
        started = START + timedelta(minutes=number)
        yield {
            "respondent_id": (number - 1) % respondents + 1,
            "checklist_version": 1,
            "state": "summary" if completed else "C05",
            "status": "completed" if completed else "active",
            "practice_name": f"Practice {number}",
            "country": COUNTRIES[number % len(COUNTRIES)],
            "organisation": None,
            "cohort_id": number % 11 or None,
            "target_groups": [],
            "themes": [],
            "context": {},
            "started_at": started,
            "updated_at": started,
            "completed_at": started + timedelta(minutes=17) if completed else None,
            "version": 1,
        }


def _answers(connection: Connection) -> None:
    """Each assessment's current answers: the latest revision of each criterion in the log."""
    latest: dict[tuple[int, str], tuple[int | None, int]] = {}
    rows = connection.execute(
        select(AnswerLog.assessment_id, AnswerLog.criterion, AnswerLog.value, AnswerLog.revision)
    )
    for assessment_id, criterion, value, revision in rows:
        latest[(assessment_id, criterion)] = (value, revision)
    connection.execute(
        insert(Answer),
        [
            {
                "assessment_id": assessment_id,
                "criterion": criterion,
                "value": value,
                "aspects": [],
                "comment": None,
                "revision": revision,
                "answered_at": START,
            }
            for (assessment_id, criterion), (value, revision) in latest.items()
        ],
    )


# Phases, each in a fresh process


def _peak_rss_mb() -> float:
    """The process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _export_phase(database: str, out: str, phase: str) -> dict[str, Any]:
    from dialogs.content import default_content
    from storage.exports import Format, export, export_engine, export_xlsx

    content = default_content()
    engine = export_engine(f"sqlite+aiosqlite:///{database}")
    baseline = _current_rss_mb()
    started = time.perf_counter()
    with engine.connect() as connection:
        if phase == "xlsx":
            written = export_xlsx(connection, content, out)
            rows = sum(written.values())
            detail: dict[str, Any] = {"sheets": written}
        else:
            with open(out, "wb") as handle:
                fmt: Format = "jsonl" if phase == "jsonl" else "csv"
                rows = export(connection, content, shape="answers", fmt=fmt, out=handle)
            detail = {}
    seconds = time.perf_counter() - started
    engine.dispose()
    return _measured(rows, seconds, baseline, out, **detail)


def _measured(
    rows: int, seconds: float, baseline: float, out: str, **detail: Any
) -> dict[str, Any]:
    """One phase's figures, in the order the JSON prints them."""
    return {
        "rows": rows,
        **detail,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "bytes": Path(out).stat().st_size,
    }


def _pandas_phase(database: str, out: str, phase: str) -> dict[str, Any]:
    try:
        import pandas
    except ImportError:
        return {"skipped": "pandas is not installed (uv run --extra bench ...)"}
    engine = create_engine(f"sqlite:///{database}")
    query = (
        select(
            Respondent.platform,
            Respondent.external_id,
            AnswerLog.assessment_id,
            Cohort.code.label("cohort"),
            Assessment.country,
            Assessment.checklist_version,
            AnswerLog.criterion,
            AnswerLog.value,
            AnswerLog.comment,
            AnswerLog.at,
            AnswerLog.revision,
        )
        .select_from(AnswerLog)
        .join(Assessment, Assessment.id == AnswerLog.assessment_id)
        .join(Respondent, Respondent.id == Assessment.respondent_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .order_by(AnswerLog.id)
    )
    baseline = _current_rss_mb()
    started = time.perf_counter()
    with engine.connect() as connection:
        frame = pandas.read_sql(query, connection)
    frame.to_csv(out, index=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    note = "raw ids, no pseudonyms, labels or formula neutralising; whole result in memory"
    return _measured(len(frame), seconds, baseline, out) | {"note": note}


def _in_child(
    work: Callable[[str, str, str], dict[str, Any]], database: str, out: str, phase: str
) -> dict[str, Any]:
    # A fresh interpreter (spawn), so the peak RSS is the phase's own, not the generator's.
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(work, (database, out, phase))
    return result


def _profile_phase(database: str, out: str, phase: str) -> None:
    """Print the hottest functions of one phase (``--profile csv``), for optimising."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(_export_phase, database, out, phase)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    """Generate the data, run every phase, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--respondents", type=int, default=5_000)
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--profile", choices=("csv", "jsonl", "xlsx"))
    parser.add_argument("--phases", default="csv,xlsx,jsonl,pandas_csv")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sicheck-export-bench-") as directory:
        database = Path(directory) / "bench.db"
        started = time.perf_counter()
        generate(database, options.rows, options.respondents, options.assessments)
        generated = time.perf_counter() - started
        if options.profile:
            _profile_phase(str(database), str(Path(directory) / "profile.out"), options.profile)
            return
        phases: dict[str, dict[str, Any]] = {}
        for phase in options.phases.split(","):
            out = str(Path(directory) / f"answers.{phase}")
            work = _pandas_phase if phase == "pandas_csv" else _export_phase
            phases[phase] = _in_child(work, str(database), out, phase)
            Path(out).unlink(missing_ok=True)
        database_bytes = database.stat().st_size
    met = {}
    if "csv" in phases:
        met["csv_rows_per_second"] = (
            phases["csv"]["rows_per_second"] >= TARGETS["csv_rows_per_second"]
        )
    if "xlsx" in phases:
        met["xlsx_rows_per_second"] = (
            phases["xlsx"]["rows_per_second"] >= TARGETS["xlsx_rows_per_second"]
        )
    met["peak_rss_mb"] = all(
        phases[name]["peak_rss_mb"] < TARGETS["peak_rss_mb"]
        for name in ("csv", "xlsx", "jsonl")
        if name in phases
    )
    print(
        json.dumps(
            {
                "rows": options.rows,
                "respondents": options.respondents,
                "assessments": options.assessments,
                "generate_seconds": round(generated, 1),
                "database_bytes": database_bytes,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "phases": phases,
                "targets": TARGETS,
                "met": met,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
