"""End to end: `taxi-stream run --as-fast-as-possible` vs the original producer and Lambda.

Ours is the real command, timed from start to exit as a user runs it (interpreter start-up,
the producer process, the runner, the drain, the final accounting), on trips/s = trips / wall
time:

    taxi-stream run --as-fast-as-possible --trips 1000000 --window-seconds 60 --seed 1

The baseline runs the same pipeline shape on the same machine with the original pieces: a
producer process that sends one record per call (one ``put_records`` of one trip, partition key
= trip id, committed each time: the original generator's ``put_record`` loop) into the embedded
stream, while this process runs the local runner (BatchSize 10,000, 60 s windows) with the
original Lambda's per-record stdlib loop (``bench_handler.original_lambda_handler``) as the
handler; timed until every trip is consumed. It uses the same two processes and the same trips.

End to end runs are long, so this module takes at most 3 repeats and reports the median.

    .venv/bin/python bench/bench_e2e.py [--repeats N] [--trips N] [--baseline-trips N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # the original handler is loaded as bench_handler:...

from taxi_stream.app.process import ProcessOptions, Processor  # noqa: E402
from taxi_stream.app.wiring import STREAM_FILE, Settings  # noqa: E402
from taxi_stream.runner.mapping import MappingConfig  # noqa: E402
from taxi_stream.sources.simulator import Simulator, SimulatorConfig  # noqa: E402
from taxi_stream.streams.local import LocalStream  # noqa: E402

MAX_REPEATS = 3
DEFAULT_TRIPS = 1_000_000
BASELINE_TRIPS = 50_000
WINDOW_S = 60
SEED = 1
ORIGINAL_HANDLER = "bench_handler:original_lambda_handler"
ACCOUNTING = re.compile(
    r"produced ([\d,]+) = ([\d,]+) in windows \+ ([\d,]+) dead letters? \(balanced\)"
)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def ours(trips: int) -> float:
    """Trips/s of one `taxi-stream run --as-fast-as-possible` to exit."""
    exe = Path(sys.executable).with_name("taxi-stream")
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(exe), "run", "--data-dir", tmp, "--as-fast-as-possible"]
        argv += ["--trips", str(trips), "--window-seconds", str(WINDOW_S), "--seed", str(SEED)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"taxi-stream run exited {done.returncode}: {done.stderr[-2000:]}")
    account = ACCOUNTING.search(" ".join(done.stdout.split()))  # the line may be wrapped
    if account is None or _number(account[1]) != trips:
        raise RuntimeError(f"run did not account for {trips} trips: {done.stdout[-500:]}")
    return trips / elapsed


def _put_one_by_one(stream_path: str, trips: int) -> None:
    """The original generator's loop: one record per call, partition key = trip id."""
    stream = LocalStream(Path(stream_path))
    for key, data in Simulator(SimulatorConfig(seed=SEED)).batch(trips).entries:
        stream.put_records([(key, data)])
    stream.close()


def baseline(trips: int) -> float:
    """Trips/s of the one-record producer and the original handler, run concurrently."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        LocalStream(Path(tmp) / STREAM_FILE).close()  # create it before both sides open it
        options = ProcessOptions(ORIGINAL_HANDLER, MappingConfig(window_seconds=WINDOW_S))
        with Processor(settings, options) as processor:
            producer = mp.get_context("spawn").Process(
                target=_put_one_by_one, args=(str(Path(tmp) / STREAM_FILE), trips)
            )
            started = time.perf_counter()
            producer.start()
            processor.loop(stop=lambda: not producer.is_alive())
            elapsed = time.perf_counter() - started
            producer.join()
    if producer.exitcode != 0 or processor.delivered != trips:
        raise RuntimeError(f"baseline delivered {processor.delivered} of {trips} trips")
    return trips / elapsed


def run(
    repeats: int = MAX_REPEATS, trips: int = DEFAULT_TRIPS, baseline_trips: int = BASELINE_TRIPS
) -> list[dict[str, Any]]:
    """Median end-to-end trips/s of `run` and of the original pieces (at most 3 repeats)."""
    repeats = max(1, min(repeats, MAX_REPEATS))
    mine, base = [], []
    for _ in range(repeats):
        base.append(baseline(baseline_trips))
        mine.append(ours(trips))
    rate, base_rate = statistics.median(mine), statistics.median(base)
    return [
        {
            "name": f"run end to end, {trips:,} trips vs original pieces",
            "trips_per_s": round(rate),
            "baseline_trips_per_s": round(base_rate),
            "ratio": round(rate / base_rate, 1),
        }
    ]


def main() -> None:
    """Print the comparison."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MAX_REPEATS)
    parser.add_argument("--trips", type=int, default=DEFAULT_TRIPS)
    parser.add_argument("--baseline-trips", type=int, default=BASELINE_TRIPS)
    args = parser.parse_args()
    for row in run(args.repeats, args.trips, args.baseline_trips):
        print(
            f"{row['name']:<48}{row['trips_per_s']:>12,}"
            f"{row['baseline_trips_per_s']:>12,}{row['ratio']:>8}x"
        )


if __name__ == "__main__":
    main()
