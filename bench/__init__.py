"""Benchmark scripts and fault drills: each prints JSON and is run by hand, not as a test."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any


def run_by_hand(
    doc: str, run: Callable[[int, str], Coroutine[Any, Any, dict[str, Any]]], *, users: int
) -> None:
    """A benchmark's command line: ``--users`` on ``--database-url`` (default: a new SQLite
    file in a temporary directory); prints what ``run`` returns as JSON."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--users", type=int, default=users)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        print(json.dumps(asyncio.run(run(args.users, url))))
