"""The simulator's malformed records: each fault, and the Reason a consumer must give for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
import numpy as np

from taxi_stream.core.errors import Reason
from taxi_stream.sources.simdraw import Draws


def inject_faults(rng: Draws, fraction: float, records: list[bytes]) -> tuple[list[int], list[str]]:
    """Replace a fraction of records by malformed ones; their indices and expected reasons."""
    n = len(records)
    at = np.flatnonzero(rng.random(n) < fraction).tolist()
    kinds = rng.integers(len(_FAULTS), size=n)
    reasons = []
    for i in at:
        reason, fault = _FAULTS[kinds[i]]
        records[i] = fault(records[i])
        reasons.append(reason)
    return at, reasons


def _edit(name: str, change: Callable[[Any], Any]) -> Callable[[bytes], bytes]:
    """A fault that changes one field of a record (a change to None removes the field)."""

    def fault(raw: bytes) -> bytes:
        fields = msgspec.json.decode(raw)
        fields[name] = change(fields[name])
        if fields[name] is None:
            del fields[name]
        return msgspec.json.encode(fields)

    return fault


_FAULTS: Final[tuple[tuple[str, Callable[[bytes], bytes]], ...]] = (
    (Reason.NOT_UTF8, lambda raw: raw.replace(b'"id":"', b'"id":"\xff', 1)),
    (Reason.NOT_JSON, lambda raw: raw[: len(raw) // 2]),
    (Reason.NOT_OBJECT, lambda raw: b"[" + raw + b"]"),
    (Reason.MISSING_VENDOR, _edit("vendorId", lambda _: None)),
    (Reason.BAD_VENDOR, _edit("vendorId", lambda vendor: [vendor])),
    (Reason.BAD_TIMESTAMP, _edit("pickupDate", lambda t: f"{t[5:7]}/{t[8:10]}/{t[:4]} {t[11:19]}")),
    (Reason.BAD_COORDINATE, _edit("pickupLatitude", lambda lat: lat * 10)),
    (Reason.BAD_FLAG, _edit("storeAndFwdFlag", lambda _: "maybe")),
    (Reason.BAD_DISTANCE, _edit("googleDistance", lambda miles: -miles)),
    (Reason.BAD_DURATION, _edit("tripDuration", lambda seconds: -seconds)),
    (Reason.BAD_NUMBER, _edit("passengerCount", lambda count: f"{count} passengers")),
    (Reason.BAD_PASSENGERS, _edit("passengerCount", lambda count: count + 10)),
)
