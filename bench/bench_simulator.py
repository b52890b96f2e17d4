"""Simulator throughput: serialized trips/s of the vectorised simulator vs the original generator.

The baseline builds each trip the way the original workshop generator did: a Python dict filled
from ``random`` (a seeded ``random.Random`` here), ``datetime.now().isoformat()`` timestamps, then
``json.dumps``; it yields the same (partition key, JSON bytes) pairs the simulator does. Both run
in the same process; the median of ``repeats`` timings is reported.

    .venv/bin/python bench/bench_simulator.py [--repeats N] [--trips N]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from taxi_stream.sources.simulator import Simulator, SimulatorConfig

DEFAULT_TRIPS = 100_000
Entries = list[tuple[str, bytes]]

# A few of the fixed pickup/dropoff points the original generator chose from, in its own form
# ("lon,lat" strings, some with a blank or a tab after the comma).
_POINTS = [
    "-73.98174286,40.71915817",
    "-73.98508453, 40.74716568",
    "-73.97333527,40.76407242",
    "-73.98544312,\t40.73571014",
    "-73.9697876,40.75758362",
    "-73.87303925,\t40.77410507",
]


def original_style(trips: int) -> Entries:
    """Trips as the original generator made them: one dict per trip, then json.dumps."""
    rnd = random.Random(0)
    entries = []
    for _ in range(trips):
        trip_id = "id" + str(rnd.randint(1665586, 8888888))
        pickup_lon, pickup_lat = rnd.choice(_POINTS).split(",")
        dropoff_lon, dropoff_lat = rnd.choice(_POINTS).split(",")
        distance = rnd.randint(1, 7)
        duration = rnd.randint(8, 10000)
        trip = {
            "id": trip_id,
            "vendorId": rnd.randint(1, 2),
            "pickupDate": datetime.now().isoformat(),
            "dropoffDate": (datetime.now() + timedelta(minutes=rnd.randint(30, 100))).isoformat(),
            "passengerCount": rnd.randint(1, 9),
            "pickupLongitude": pickup_lon,
            "pickupLatitude": pickup_lat,
            "dropoffLongitude": dropoff_lon,
            "dropoffLatitude": dropoff_lat,
            "storeAndFwdFlag": rnd.randint(0, 1),
            "gcDistance": distance,
            "tripDuration": duration,
            "googleDistance": distance,
            "googleDuration": duration,
        }
        entries.append((trip_id, json.dumps(trip).encode()))
    return entries


def simulator(config: SimulatorConfig) -> Callable[[int], Entries]:
    """A fresh simulator's first ``trips`` records (the cost of drawing, not of a warm cache)."""

    def make(trips: int) -> Entries:
        return Simulator(config).batch(trips).entries

    return make


def trips_per_s(make: Callable[[int], Entries], trips: int) -> float:
    """Trips per second of one timed call."""
    started = time.perf_counter()
    entries = make(trips)
    elapsed = time.perf_counter() - started
    assert len(entries) == trips
    return trips / elapsed


def run(repeats: int = 5, trips: int = DEFAULT_TRIPS) -> list[dict[str, Any]]:
    """Median trips/s of the simulator, clean and with faults, against the original style."""
    contenders = {
        "simulator, clean": simulator(SimulatorConfig(seed=1)),
        "simulator, 5% malformed + disorder": simulator(
            SimulatorConfig(
                seed=1, malformed_fraction=0.05, out_of_order_fraction=0.1, late_fraction=0.01
            )
        ),
    }
    timings: dict[str, list[float]] = {"baseline": [], **{name: [] for name in contenders}}
    for _ in range(repeats):
        timings["baseline"].append(trips_per_s(original_style, trips))
        for name, make in contenders.items():
            timings[name].append(trips_per_s(make, trips))
    baseline = statistics.median(timings["baseline"])
    return [
        {
            "name": name,
            "trips_per_s": round(statistics.median(timings[name])),
            "baseline_trips_per_s": round(baseline),
            "ratio": round(statistics.median(timings[name]) / baseline, 1),
        }
        for name in contenders
    ]


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trips", type=int, default=DEFAULT_TRIPS)
    args = parser.parse_args()
    rows = run(args.repeats, args.trips)
    print(
        f"{args.trips:,} trips to JSON bytes, median of {args.repeats}, one core; "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"{'generator':<38}{'trips/s':>12}{'original style':>17}{'ratio':>9}")
    for row in rows:
        print(
            f"{row['name']:<38}{row['trips_per_s']:>12,}"
            f"{row['baseline_trips_per_s']:>17,}{row['ratio']:>8}x"
        )


if __name__ == "__main__":
    main()
