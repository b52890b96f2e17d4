"""CloudWatch embedded metric format: one JSON log line per invocation, stdlib only.

CloudWatch Logs turns the line into metrics in ``namespace`` with the dimension
``FunctionName``: ``Records``, ``Trips``, ``DeadLetters`` (all reasons), one
``DeadLetters_<reason>`` per reason seen, ``LateTrips`` and ``ContributionsWritten``, all of
unit Count. ``ShardId`` rides along as a property (searchable in Logs Insights, no dimension).
"""

from __future__ import annotations

import json
from typing import Any, Final

from taxi_stream.function.stats import InvocationStats

DEFAULT_NAMESPACE: Final = "TaxiStream"
DEAD_LETTERS_OF: Final = "DeadLetters_"  # + the reason: one metric per reason


def emf_record(
    stats: InvocationStats, *, namespace: str, function_name: str, shard_id: str, now_ms: int
) -> dict[str, Any]:
    """The embedded-metric-format object for one invocation's counts."""
    values: dict[str, int] = {
        "Records": stats.records,
        "Trips": stats.trips,
        "DeadLetters": sum(stats.dead_letters.values()),
        "LateTrips": stats.late_trips,
        "ContributionsWritten": stats.contributions_written,
    }
    for reason, n in sorted(stats.dead_letters.items()):
        values[DEAD_LETTERS_OF + reason] = n
    directive = {
        "Namespace": namespace,
        "Dimensions": [["FunctionName"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
    }
    return {
        "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [directive]},
        "FunctionName": function_name,
        "ShardId": shard_id,
        **values,
    }


def emf_line(
    stats: InvocationStats, *, namespace: str, function_name: str, shard_id: str, now_ms: int
) -> str:
    """The record as one compact JSON line (no newline)."""
    record = emf_record(
        stats, namespace=namespace, function_name=function_name, shard_id=shard_id, now_ms=now_ms
    )
    return json.dumps(record, separators=(",", ":"))
