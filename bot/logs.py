"""Logging for ``sicheck run``: plain lines for a terminal, or JSON for a log collector.

Log calls in SI Check name update ids, chat ids and counts, never answers, comments or names;
the JSON form adds nothing but the time, level and logger to what was logged.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the exception's type."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, form: str) -> None:
    """Send SI Check's and the libraries' logs to standard error at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and the Bot API's URLs hold the bot's token; the
    # library's debug records hold whole messages, answers included.
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("telegram").setLevel(max(root.level, logging.INFO))
    # The job queue's scheduler logs two lines at every run of every job, four a minute; its
    # warnings (a run missed) still show.
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))
