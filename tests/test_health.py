"""``/healthz`` says why a replica cannot serve; ``/metrics`` counts what it did."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import text
from starlette.applications import Starlette

from bot.telegram.health import HEARTBEAT_SLACK, problems, routes
from bot.telegram.metrics import LATENCY_BUCKETS, Metrics
from storage.migrate import head_revision
from storage.store import Database
from tests.telegram_harness import Harness


async def test_a_polling_replica_is_unhealthy_until_its_loop_beats(bot: Harness) -> None:
    settings = bot.services.settings
    app = bot.application
    assert await problems(app, settings, polling=False) == []
    assert await problems(app, settings, polling=True) == ["polling loop silent"]
    bot.services.metrics.heartbeat = time.monotonic()
    assert await problems(app, settings, polling=True) == []
    bot.services.metrics.heartbeat = (
        time.monotonic() - settings.polling_timeout - HEARTBEAT_SLACK - 1
    )
    assert await problems(app, settings, polling=True) == ["polling loop silent"]


async def test_a_schema_behind_the_code_is_reported(bot: Harness, database: Database) -> None:
    set_version = text("UPDATE alembic_version SET version_num = :version")
    with database.engine.begin() as connection:
        connection.execute(set_version, {"version": "0001"})
    try:
        found = await problems(bot.application, bot.services.settings, polling=False)
    finally:
        # The schema is unchanged: only its recorded version was set back, and is restored.
        with database.engine.begin() as connection:
            connection.execute(set_version, {"version": head_revision()})
    assert found == ["database schema is not current"]


async def test_metrics_count_updates_errors_and_assessments(bot: Harness) -> None:
    await bot.say(501, "/start")
    bot.services.metrics.observe("message", 0.02)
    transport = httpx.ASGITransport(
        app=Starlette(routes=routes(bot.application, bot.services.settings, polling=False))
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text
    assert health.status_code == 200
    assert 'sicheck_updates_total{kind="message"} 1' in metrics
    assert 'sicheck_assessments{status="active"} 1' in metrics
    assert 'sicheck_update_seconds_bucket{le="0.025"} 1' in metrics
    assert "sicheck_errors_total 0" in metrics


def test_latencies_fall_into_cumulative_buckets() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.2, 99.0):
        metrics.observe("callback_query", seconds)
    text_format = metrics.render({})
    assert f'sicheck_update_seconds_bucket{{le="{LATENCY_BUCKETS[0]}"}} 1' in text_format
    assert 'sicheck_update_seconds_bucket{le="0.25"} 2' in text_format
    assert 'sicheck_update_seconds_bucket{le="10.0"} 2' in text_format
    assert 'sicheck_update_seconds_bucket{le="+Inf"} 3' in text_format
