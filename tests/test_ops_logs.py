"""The web server's own records reach SI Check's log handler, as JSON lines when chosen."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from bot.logs import configure
from bot.telegram.delivery import listening_socket, serve
from tests.telegram_harness import Harness

SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


async def test_the_web_servers_errors_are_json_lines(
    bot: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    kept = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.handlers[:], logger.propagate = [], True
    try:
        configure("INFO", "json")
        settings = bot.services.settings.model_copy(update={"listen_port": 0})
        listening = listening_socket(settings)
        port = listening.getsockname()[1]
        stop = asyncio.Event()
        serving = asyncio.ensure_future(serve(bot.application, settings, stop, listening))
        async with httpx.AsyncClient(timeout=30) as client:
            await client.get(f"http://127.0.0.1:{port}/metrics")  # the server is up
        try:
            raise RuntimeError("a request's failure")
        except RuntimeError:
            # What uvicorn logs for an exception in the webhook's handling.
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        stop.set()
        await asyncio.wait_for(serving, 30)
        lines = capsys.readouterr().err.splitlines()
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert [e["message"] for e in entries] == ["Exception in ASGI application"]
        assert entries[0]["error"] == "RuntimeError"
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for logger, (handlers, propagate, logger_level) in zip(loggers, kept, strict=True):
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(logger_level)


def test_the_job_queues_routine_runs_stay_out_of_info_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    scheduler = logging.getLogger("apscheduler")
    level = scheduler.level
    try:
        configure("INFO", "json")
        executor = logging.getLogger("apscheduler.executors.default")
        executor.info('Running job "reminders" (scheduled at 2026-12-07 10:22:31)')
        executor.info('Job "reminders" executed successfully')
        executor.warning('Run time of job "purge" was missed by 0:00:02')
        logging.getLogger("bot.telegram.privacy").info("purged 0 assessments")
        lines = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["message"] for line in lines] == [
            'Run time of job "purge" was missed by 0:00:02',
            "purged 0 assessments",
        ]
    finally:
        root.handlers[:], root_level = saved
        root.setLevel(root_level)
        scheduler.setLevel(level)
