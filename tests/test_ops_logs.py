"""The web server's own records reach SI Check's log handler, as JSON lines when chosen."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from bot.logs import configure
from bot.telegram.delivery import _listening, serve
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
        listening = _listening(settings)
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
