"""The fault drills of ``bench.reliability``, small: each must hold on every run of the suite.

docs/performance.md gives the commands for the same drills at full size (hundreds of kills,
1,000 duplicated updates, 10% failing Bot API calls, PostgreSQL restarts mid-load).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.reliability import DRILLS
from storage.database import is_sqlite
from storage.store import Database
from tests.conftest import SERVER_URL

pytestmark = pytest.mark.slow


def _options(**chosen: float) -> argparse.Namespace:
    defaults = {"users": 4, "kills": 2, "max_delay": 0.3, "fault_rate": 0.1, "restarts": 1,
                "every": 1.0, "down": 1.0, "seed": 8}  # fmt: skip
    return argparse.Namespace(**(defaults | chosen))


@pytest.mark.parametrize("drill", ["kill", "duplicates", "faults"])
async def test_a_drill_loses_and_duplicates_no_answer(
    drill: str, database: Database, database_url: str, tmp_path: Path
) -> None:
    result = await DRILLS[drill](_options(), database_url, tmp_path)
    assert result["ok"], result
    assert result["answers_lost"] == 0
    assert result["answer_log_rows_per_assessment"] == {"10": result["users"]}


@pytest.mark.skipif(
    SERVER_URL is None or is_sqlite(SERVER_URL), reason="needs SICHECK_TEST_DATABASE_URL"
)
async def test_the_bot_outlives_a_postgresql_restart(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    options = _options(users=30, every=0.5)
    result = await DRILLS["postgres-restart"](options, database_url, tmp_path)
    assert result["ok"], result
    assert result["restarts"] == 1
    assert result["bot_kept_running"]
