"""Logs as JSON lines carry the record and the error's type, nothing more."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from bot.logs import JsonFormatter, configure


def test_a_record_is_one_json_line_with_the_error_type() -> None:
    try:
        raise ValueError("details stay in the traceback")
    except ValueError:
        record = logging.LogRecord(
            "sicheck", logging.ERROR, __file__, 1, "update %s failed", (42,), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "ERROR",
        "sicheck",
        "update 42 failed",
    )
    assert entry["error"] == "ValueError"


def test_configure_sets_level_and_keeps_request_urls_with_tokens_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("DEBUG", "json")
        logging.getLogger("httpx").info("POST https://api.telegram.org/bot123:secret/getMe")
        logging.getLogger("sicheck.test").debug("hello %s", "world")
        lines = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["message"] for line in lines] == ["hello world"]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
