"""``/healthz`` and ``/metrics``: whether this replica works, and what it has been doing.

Metrics are counters of this process since it started, in Prometheus' text format; the
assessment counts come from the database, so every replica reports the same ones.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.settings import Settings
from bot.telegram.context import SERVICES, Services
from storage.migrate import current_revision, head_revision
from storage.models import Assessment

HEARTBEAT_SLACK = 60.0
"""Seconds beyond one long-poll that the polling loop may be silent before it is unhealthy."""


async def problems(application: Any, settings: Settings, *, polling: bool) -> list[str]:
    """What keeps this replica from serving; empty when it is healthy."""
    services = application.bot_data.get(SERVICES)
    if not isinstance(services, Services):
        return ["starting"]
    found = []
    try:
        if await current_revision(services.database.engine) != head_revision():
            found.append("database schema is not current")
    except Exception:  # any failure to reach the database is the answer
        found.append("database unreachable")
    if polling:
        beat = services.metrics.heartbeat
        allowed = settings.polling_timeout + HEARTBEAT_SLACK
        if beat is None or time.monotonic() - beat > allowed:
            found.append("polling loop silent")
    return found


def routes(application: Any, settings: Settings, *, polling: bool) -> list[Route]:
    """The ``/healthz`` and ``/metrics`` routes of a replica."""

    async def healthz(request: Request) -> Response:
        found = await problems(application, settings, polling=polling)
        body = {"status": "unavailable" if found else "ok", "problems": found}
        return JSONResponse(body, 503 if found else 200)

    async def metrics(request: Request) -> Response:
        services: Services = application.bot_data[SERVICES]

        def count(connection: Any) -> dict[str, int]:
            rows = connection.execute(
                select(Assessment.status, func.count()).group_by(Assessment.status)
            )
            return {status: int(n) for status, n in rows}

        try:
            assessments = await services.database.store.run(count)
        except Exception:  # the counters of this process are still worth reporting
            assessments = {}
        return PlainTextResponse(
            services.metrics.render(assessments), media_type="text/plain; version=0.0.4"
        )

    return [Route("/healthz", healthz), Route("/metrics", metrics)]
