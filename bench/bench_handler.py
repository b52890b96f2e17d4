"""Handler throughput on 10,000-record Lambda events: ours vs the original Lambda's per-record loop.

Every handler gets the same event: 10,000 clean simulated trips (the original Lambda raises on
the first malformed one) in the exact Kinesis tumbling-window shape the local runner builds, as
a non-final invoke (the path every record takes; the final invoke only writes the few totals).

Baselines, measured side by side in the same process, alternating with ours:

- ``original``: the original Lambda as DESIGN section 12 describes it: per record stdlib
  ``base64.b64decode`` + ``json.loads`` into a dict, ``passengerCount`` added to the state and
  ``vendorId`` overwritten. It aggregates one number and validates nothing. Its per-call boto3
  client creation, its KPL check and its failing final-invoke write are left out: they would
  only make it slower.
- ``stdlib``: the same per-record stdlib loop doing our job (distance, duration and passengers
  per vendor, DESIGN section 3 field rules), still without any validation.

- ``record by record``: our own handler with ``exact=True``, its record-by-record path (the
  handler before the batch path, kept as the reference the batch path must equal).

Two rows show the handler's ceiling in the same run: the decode the handler cannot do without,
alone, with nothing checked or summed. ``decode alone`` maps the handler's msgspec decoder
(``codec.decode_clean``, the clean struct) over the payloads' bytes (no base64, no sums);
``pybase64 + decode alone`` also reads each record's ``data`` and undoes its base64 first, as
the Lambda path must. Their ratio to the original loop is what the handler would reach with no
glue at all. ``bench/decoders.py`` compares the candidate decoders themselves.

Ours writes to an in-memory store (a non-final invoke writes nothing to it). It runs on the
plain event (the Lambda path: base64 in every record) and on the same event whose ``Records``
are the local runner's view (``runner.events.record_view``: the path of our handler in process,
which reads the stream's bytes without the base64 round trip), with the arrival clock and with
the event clock (``--clock event``: the trips' pickups, 60 s windows, the shard's watermark).

    .venv/bin/python bench/bench_handler.py [--repeats N]
"""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

import pybase64

from taxi_stream.core.records import Contribution, DeadLetter, StreamRecord
from taxi_stream.function.codec import decode_clean
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.events import kinesis_records, record_view, stream_arn, window_event
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.memory import MemoryStore as WatermarkStore

EVENT_RECORDS = 10_000
DEFAULT_REPEATS = 7
WINDOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SHARD = "shardId-000000000000"

Handler = Callable[[dict[str, Any], Any], Any]


class MemoryStore:
    """A TotalsStore that keeps what it is given in memory."""

    def __init__(self) -> None:
        self.contributions: list[Contribution] = []
        self.dead_letters: list[DeadLetter] = []

    def apply(self, contributions: Sequence[Contribution]) -> int:
        """Keep every contribution."""
        self.contributions.extend(contributions)
        return len(contributions)

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep every dead letter."""
        self.dead_letters.extend(letters)
        return len(letters)


def original_lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The original Lambda's aggregation loop (DESIGN section 12), per record stdlib decoding."""
    state = event["state"]
    if not state:
        state = {"passengerCount": 0}
    for record in event["Records"]:
        payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if "passengerCount" in payload:
            state["passengerCount"] += payload["passengerCount"]
            state["vendorId"] = payload["vendorId"]
    return {"state": state}


def stdlib_totals_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Our totals per vendor with per-record stdlib base64 + json.loads + dict (no validation)."""
    totals: dict[str, list[int]] = {}
    for record in event["Records"]:
        try:
            trip = json.loads(base64.b64decode(record["kinesis"]["data"]))
            distance = trip.get("googleDistance")
            distance = trip["gcDistance"] if distance is None else distance
            duration = trip.get("tripDuration")
            duration = trip["googleDuration"] if duration is None else duration
            cell = totals.setdefault(str(trip["vendorId"]), [0, 0, 0, 0])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        cell[0] += 1
        cell[1] += round(distance * 1000)
        cell[2] += duration
        cell[3] += trip.get("passengerCount") or 0
    return {"state": {"totals": totals}, "batchItemFailures": []}


def decode_alone(payloads: list[bytes]) -> Handler:
    """A "handler" that only decodes the given bytes into the clean struct: the ceiling's floor."""

    def decode(event: dict[str, Any], context: Any) -> Any:
        return list(map(decode_clean, payloads))

    return decode


_KINESIS, _DATA = itemgetter("kinesis"), itemgetter("data")


def b64_decode_alone(event: dict[str, Any], context: Any) -> Any:
    """Each record's ``data`` read, strict base64 undone (pybase64) and decoded: nothing else."""
    texts = map(_DATA, map(_KINESIS, event["Records"]))
    return list(map(decode_clean, map(pybase64.b64decode, texts, repeat(None), repeat(True))))


def bench_event(records: int = EVENT_RECORDS, *, view: bool = False) -> dict[str, Any]:
    """A non-final tumbling-window invocation of ``records`` simulated trips.

    ``view``: its ``Records`` are the runner's view of the stream records, not the plain list.
    """
    sim = Simulator(SimulatorConfig(seed=1))
    stream_records = [
        StreamRecord(str(seq), WINDOW_MS + seq, key, data)
        for seq, (key, data) in enumerate(sim.batch(records).entries, start=1)
    ]
    arn = stream_arn("bench")
    build = record_view if view else kinesis_records
    return window_event(
        build(stream_records, SHARD, arn),
        shard_id=SHARD,
        arn=arn,
        window_start_ms=WINDOW_MS,
        window_end_ms=WINDOW_MS + 60_000,
        state={},
    )


def seconds_per_call(handler: Handler, event: dict[str, Any]) -> float:
    """Wall time of one invocation (a fresh state each time, as a new window would have)."""
    fresh = {**event, "state": {}}
    started = time.perf_counter()
    handler(fresh, None)
    return time.perf_counter() - started


def run(repeats: int = DEFAULT_REPEATS) -> list[dict[str, Any]]:
    """Median trips/s of our handler (both clocks, plain event and the runner's view), of its
    record-by-record path and of each naive baseline, measured alternately."""
    event, viewed = bench_event(), bench_event(view=True)
    records = event["Records"]
    by_event = HandlerConfig(clock="event")
    contenders: dict[str, tuple[Handler, dict[str, Any]]] = {
        "ours": (TumblingWindowHandler(MemoryStore()), event),
        "view": (TumblingWindowHandler(MemoryStore()), viewed),
        "each": (TumblingWindowHandler(MemoryStore(), exact=True), event),
        "each view": (TumblingWindowHandler(MemoryStore(), exact=True), viewed),
        "event": (TumblingWindowHandler(WatermarkStore(), by_event), event),
        "event view": (TumblingWindowHandler(WatermarkStore(), by_event), viewed),
        "event each view": (
            TumblingWindowHandler(WatermarkStore(), by_event, exact=True),
            viewed,
        ),
        "decode": (decode_alone([base64.b64decode(_DATA(_KINESIS(r))) for r in records]), event),
        "b64 decode": (b64_decode_alone, event),
        "original": (original_lambda_handler, event),
        "stdlib": (stdlib_totals_handler, event),
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for handler, given in contenders.values():  # warm up: imports, caches, allocator
        handler({**given, "state": {}}, None)
    for _ in range(repeats):
        for name, (handler, given) in contenders.items():
            timings[name].append(seconds_per_call(handler, given))
    rate = {name: EVENT_RECORDS / statistics.median(t) for name, t in timings.items()}
    return [
        {
            "name": f"handler, {label}",
            "trips_per_s": round(rate[mine]),
            "baseline_trips_per_s": round(rate[baseline]),
            "ratio": round(rate[mine] / rate[baseline], 1),
        }
        for mine, baseline, label in (
            ("ours", "original", "10k-record event vs original Lambda loop"),
            ("ours", "stdlib", "10k-record event vs stdlib loop, same totals"),
            ("view", "original", "in process (record view) vs original loop"),
            ("ours", "each", "10k-record event vs record by record"),
            ("view", "each view", "in process vs record by record"),
            ("event", "original", "event clock vs original Lambda loop"),
            ("event view", "original", "event clock, in process vs original loop"),
            ("event view", "event each view", "event clock, in process vs record by record"),
            ("decode", "original", "ceiling: decode alone vs original loop"),
            ("b64 decode", "original", "ceiling: base64 + decode alone vs original"),
        )
    ]


if __name__ == "__main__":
    from rows import print_rows

    print_rows(run, __doc__, DEFAULT_REPEATS)
