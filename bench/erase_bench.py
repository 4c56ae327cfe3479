"""Benchmark: what an erasure costs, the reclaiming of its rows included, on a full database.

Seeds ``--users`` respondents with one finished assessment each (10 answers and 10 answer-log
entries), then erases respondents one at a time through ``Store.run`` as ``/delete`` does: on
PostgreSQL the erasure is followed by a ``VACUUM`` of the touched tables, on SQLite by a WAL
checkpoint. Prints one JSON object: the median wall time of an erasure with its reclaiming,
of the reclaiming alone run once more right after, and of an erasure without reclaiming. Not a
test: run it by hand.

    uv run python -m bench.erase_bench --users 10000
    uv run python -m bench.erase_bench --users 10000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/scratch
"""

from __future__ import annotations

import platform
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection

from bench import run_by_hand
from bot.runtime import open_database
from storage.models import Answer, AnswerLog, Assessment, Respondent
from storage.privacy import ERASED_TABLES, erase
from storage.store import RECLAIM, Database, release

SEEDED = "bench-erase"
ERASURES = 7
CRITERIA = tuple(f"C{n:02d}" for n in range(1, 11))


def _seed(connection: Connection, users: int) -> None:
    now = datetime.now(UTC)
    connection.execute(delete(Respondent).where(Respondent.platform == SEEDED))
    respondents = connection.execute(
        insert(Respondent).returning(Respondent.id, sort_by_parameter_order=True),
        [
            {"platform": SEEDED, "external_id": str(n), "language": "lv", "created_at": now}
            for n in range(users)
        ],
    ).scalars()
    assessments = connection.execute(
        insert(Assessment).returning(Assessment.id, sort_by_parameter_order=True),
        [
            {"respondent_id": respondent, "checklist_version": 1, "state": "summary",
             "status": "completed", "practice_name": f"Practice {respondent}",
             "target_groups": [], "themes": [], "context": {}, "started_at": now,
             "updated_at": now, "completed_at": now, "version": 12}
            for respondent in respondents
        ],
    ).scalars().all()  # fmt: skip
    answers = [
        {"assessment_id": assessment, "criterion": criterion, "value": 2, "aspects": [],
         "comment": f"A comment on {criterion}", "revision": 1}
        for assessment in assessments
        for criterion in CRITERIA
    ]  # fmt: skip
    connection.execute(insert(Answer), [{**row, "answered_at": now} for row in answers])
    connection.execute(
        insert(AnswerLog), [{**row, "at": now, "source": SEEDED} for row in answers]
    )


def _unreclaimed(connection: Connection, user: int) -> None:
    erase(connection, SEEDED, str(user))
    connection.info.pop(RECLAIM)


def _timed(database: Database, user: int) -> tuple[float, float, float]:
    """Seconds to erase ``user`` with the reclaiming, to reclaim once more alone, and to erase
    another user without reclaiming."""
    started = time.perf_counter()
    database.store.run_now(lambda connection: erase(connection, SEEDED, str(user)))
    erased = time.perf_counter()
    with database.engine.connect() as connection:
        release(connection, ERASED_TABLES)
    reclaimed = time.perf_counter()
    database.store.run_now(lambda connection: _unreclaimed(connection, ERASURES + user))
    return erased - started, reclaimed - erased, time.perf_counter() - reclaimed


async def run(users: int, database_url: str) -> dict[str, Any]:
    database = await open_database(database_url, migrate=True)
    try:
        database.store.run_now(lambda connection: _seed(connection, users))
        # Statistics as a database in use has them (autovacuum's ANALYZE on PostgreSQL).
        database.store.run_now(lambda connection: connection.exec_driver_sql("ANALYZE"))
        times = [_timed(database, user) for user in range(ERASURES)]
        database.store.run_now(
            lambda connection: connection.execute(
                delete(Respondent).where(Respondent.platform == SEEDED)
            )
        )
    finally:
        await database.close()
    return {
        "respondents": users,
        "erasure_with_reclaim_ms": round(statistics.median(t[0] for t in times) * 1000, 1),
        "reclaim_alone_ms": round(statistics.median(t[1] for t in times) * 1000, 1),
        "erasure_alone_ms": round(statistics.median(t[2] for t in times) * 1000, 1),
        "database": database_url.split(":", 1)[0],
        "python": platform.python_version(),
    }


def main() -> None:
    run_by_hand(__doc__, run, users=10_000)


if __name__ == "__main__":
    main()
