"""The peer: a Bytewax 0.21 dataflow folding a JSON-lines file of trips into tumbling windows.

It runs in its own virtual environment (bench/.venv-bytewax, made by bench_peer.py), never the
project's, and imports only the standard library and Bytewax:

    bench/.venv-bytewax/bin/python bench/peer_flow.py TRIPS.jsonl TOTALS.json [WINDOW_SECONDS]

Per (vendor, window of the pickup time) it keeps the four totals taxi-stream keeps: trips,
distance in thousandths of a mile (googleDistance, else gcDistance), duration in seconds
(tripDuration), passengers. ``fold_window`` with a ``TumblingWindower`` aligned to the epoch and
an ``EventClock`` waiting 60 s for out-of-order trips (taxi-stream's default); windows live in
memory, no recovery (no durability). It writes ``{"VENDOR|WINDOW_START_MS": [trips, distance,
duration, passengers], ...}`` and the count of late trips Bytewax set aside, for the check
that both sides counted the same.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.dataflow import Dataflow
from bytewax.operators.windowing import EventClock, TumblingWindower, fold_window
from bytewax.run import cli_main
from bytewax.testing import TestingSink

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OUT_OF_ORDERNESS = timedelta(seconds=60)

Trip = tuple[str, datetime, int, int, int]  # vendor, pickup, distance_milli, duration_s, pax


def parse(line: str) -> Trip:
    """The fields the totals need, from one JSON line."""
    trip = json.loads(line)
    miles = trip.get("googleDistance")
    miles = trip["gcDistance"] if miles is None else miles
    pickup = datetime.fromisoformat(trip["pickupDate"])
    return (
        str(trip["vendorId"]),
        pickup,
        round(miles * 1000),
        round(trip["tripDuration"]),
        int(trip["passengerCount"]),
    )


def fold(totals: list[int], trip: Trip) -> list[int]:
    """Add one trip to a window's totals."""
    totals[0] += 1
    totals[1] += trip[2]
    totals[2] += trip[3]
    totals[3] += trip[4]
    return totals


def merge(a: list[int], b: list[int]) -> list[int]:
    """Two partial totals of one window."""
    return [x + y for x, y in zip(a, b, strict=True)]


def build(path: str, window_s: int, out: list[Any], late: list[Any]) -> Dataflow:
    """The dataflow: file -> parse -> key by vendor -> tumbling fold -> sinks."""
    flow = Dataflow("taxi_peer")
    lines = op.input("trips", flow, FileSource(path))
    keyed = op.key_on("vendor", op.map("parse", lines, parse), lambda trip: trip[0])
    clock = EventClock(lambda trip: trip[1], wait_for_system_duration=OUT_OF_ORDERNESS)
    windower = TumblingWindower(length=timedelta(seconds=window_s), align_to=EPOCH)
    windows = fold_window("totals", keyed, clock, windower, lambda: [0, 0, 0, 0], fold, merge)
    op.output("out", windows.down, TestingSink(out))
    op.output("late", windows.late, TestingSink(late))
    return flow


def main() -> None:
    """Run the flow in this process (one worker) and write the totals."""
    path, target = sys.argv[1], sys.argv[2]
    window_s = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    out: list[Any] = []
    late: list[Any] = []
    cli_main(build(path, window_s, out, late), workers_per_process=1)
    totals = {f"{vendor}|{wid * window_s * 1000}": sums for vendor, (wid, sums) in out}
    with open(target, "w", encoding="utf-8") as file:
        json.dump({"windows": totals, "late": len(late)}, file)


if __name__ == "__main__":
    main()
