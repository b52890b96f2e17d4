"""A handler that raises on any record whose data holds ``poison`` and counts the rest."""

from __future__ import annotations

import base64
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail the whole batch when it carries a poisoned record; keep a count in the state."""
    for record in event.get("Records") or []:
        if b"poison" in base64.b64decode(record["kinesis"]["data"]):
            raise ValueError(f"poisoned record {record['kinesis']['sequenceNumber']}")
    state = dict(event.get("state") or {})
    state["records"] = state.get("records", 0) + len(event.get("Records") or [])
    return {"state": state, "batchItemFailures": []}
