"""The counters behind ``/metrics``: this process's updates, latencies, errors and exports."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    updates: Counter[str] = field(default_factory=Counter)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0
    errors: int = 0
    exports: int = 0
    export_seconds: float = 0.0
    heartbeat: float | None = None
    """``time.monotonic()`` of the polling loop's latest answer from Telegram."""

    def observe(self, kind: str, seconds: float) -> None:
        """Count one processed update of ``kind`` that took ``seconds``."""
        self.updates[kind] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        if index < len(self.latency_buckets):
            self.latency_buckets[index] += 1

    def render(self, assessments: dict[str, int]) -> str:
        """The metrics in Prometheus' text exposition format."""
        buckets = zip(LATENCY_BUCKETS, accumulate(self.latency_buckets), strict=True)
        lines = [
            "# HELP sicheck_updates_total Updates processed, by kind.",
            "# TYPE sicheck_updates_total counter",
            *(f'sicheck_updates_total{{kind="{k}"}} {n}' for k, n in sorted(self.updates.items())),
            "# HELP sicheck_update_seconds Time from receiving an update to its reply.",
            "# TYPE sicheck_update_seconds histogram",
            *(f'sicheck_update_seconds_bucket{{le="{le}"}} {n}' for le, n in buckets),
            f'sicheck_update_seconds_bucket{{le="+Inf"}} {self.latency_count}',
            f"sicheck_update_seconds_sum {self.latency_sum:.6f}",
            f"sicheck_update_seconds_count {self.latency_count}",
            "# HELP sicheck_errors_total Updates whose handling failed.",
            "# TYPE sicheck_errors_total counter",
            f"sicheck_errors_total {self.errors}",
            "# HELP sicheck_assessments Assessments in the database, by status.",
            "# TYPE sicheck_assessments gauge",
            *(f'sicheck_assessments{{status="{s}"}} {n}' for s, n in sorted(assessments.items())),
            "# HELP sicheck_export_seconds Time spent writing exports.",
            "# TYPE sicheck_export_seconds summary",
            f"sicheck_export_seconds_sum {self.export_seconds:.6f}",
            f"sicheck_export_seconds_count {self.exports}",
        ]
        return "\n".join(lines) + "\n"


def update_kind(update: Any) -> str:
    """The kind of update for the metrics: its first field after the id."""
    for kind in ("message", "edited_message", "callback_query"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"
