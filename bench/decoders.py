"""The candidate decoders of the handler's payloads, side by side: ns a record, median of repeats.

The payloads are ``bench_handler.py``'s: 10,000 clean simulated trips, as bytes (no base64).
Each candidate turns them into something the totals can be summed from:

- ``msgspec struct``: the handler's decoder (``codec.decode_clean``: the clean struct, every
  field typed and range-checked), mapped over the payloads;
- ``msgspec, skip every field``: a Struct with no fields (msgspec parses and skips each value):
  the floor of any msgspec decode;
- ``stdlib json.loads``: a dict a record, as the original Lambda did;
- ``pyarrow.json over joined lines``: ``pyarrow.json.read_json`` of the newline-joined
  payloads into one table of columns (one thread);
- ``DuckDB json_transform + group by``: ``json_transform`` of each payload to the fields the
  totals read, and the totals per vendor by one ``GROUP BY`` (one thread), from an Arrow
  column of the payloads.

Only the first is what the handler can use as it stands: the others give no per-record
verdict a dead letter could carry, and pyarrow and DuckDB are not in the Lambda package.
The point is the per-record cost of the decode itself: none of them beats the first.

    .venv/bin/python bench/decoders.py [--repeats N] [--only SUBSTRING]

``--only`` keeps the candidates whose name holds the text: under ``valgrind --tool=cachegrind``,
two runs of one candidate with different ``--repeats`` give its instructions a record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.json as pa_json

from taxi_stream.function.codec import decode_clean
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

EVENT_RECORDS = 10_000  # as bench_handler.py
FIELDS = {
    "vendorId": "BIGINT",
    "pickupDate": "VARCHAR",
    "passengerCount": "BIGINT",
    "googleDistance": "DOUBLE",
    "tripDuration": "BIGINT",
    "fareAmount": "DOUBLE",
    "tipAmount": "DOUBLE",
    "totalAmount": "DOUBLE",
}
TOTALS = f"""
with trips as (select json_transform(decode(data), '{json.dumps(FIELDS)}') as t from payloads)
select t.vendorId, count(*), sum(round(t.googleDistance * 1000)), sum(t.tripDuration),
       sum(t.passengerCount), sum(round(t.fareAmount * 100)), sum(round(t.tipAmount * 100)),
       sum(round(t.totalAmount * 100))
from trips group by 1
"""


class Nothing(msgspec.Struct, gc=False):
    """No fields: msgspec skips every value of the object."""


def candidates(payloads: list[bytes]) -> dict[str, Callable[[], Any]]:
    """Each candidate decoder, as a call over all the payloads."""
    skip = msgspec.json.Decoder(Nothing).decode
    joined = pa.py_buffer(b"\n".join(payloads))
    options = pa_json.ReadOptions(use_threads=False, block_size=1 << 24)
    connection = duckdb.connect()
    connection.execute("SET threads = 1")

    def duck() -> Any:
        payloads_table = pa.table({"data": pa.array(payloads, pa.binary())})
        connection.register("payloads", payloads_table)
        return connection.execute(TOTALS).fetchall()

    return {
        "msgspec struct (the handler's decode)": lambda: list(map(decode_clean, payloads)),
        "msgspec, skip every field": lambda: list(map(skip, payloads)),
        "stdlib json.loads": lambda: list(map(json.loads, payloads)),
        "pyarrow.json over joined lines": lambda: pa_json.read_json(joined, read_options=options),
        "DuckDB json_transform + group by": duck,
    }


def run(repeats: int, only: str = "") -> dict[str, float]:
    """Median ns a record of each candidate, the candidates measured in turn every repeat."""
    sim = Simulator(SimulatorConfig(seed=1))
    payloads = [data for _, data in sim.batch(EVENT_RECORDS).entries]
    calls = {name: call for name, call in candidates(payloads).items() if only in name}
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm up
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) / len(payloads) * 1e9 for name, t in timings.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--only", default="", help="only the candidates whose name holds this")
    args = parser.parse_args()
    found = run(args.repeats, args.only)
    base = found.get("msgspec struct (the handler's decode)")
    for name, ns in found.items():
        ratio = f"{ns / base:>8.1f}x the handler's decode" if base else ""
        print(f"{name:<40}{ns:>8,.0f} ns a record{ratio}")
