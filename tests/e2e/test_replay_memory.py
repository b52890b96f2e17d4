"""Replay memory stays flat: a file four times longer needs no more memory (Parquet, 1M rows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MIB = 1 << 20


def tlc_parquet(path: Path, rows: int, seed: int = 1) -> Path:
    """A TLC-typed 2024 yellow file of random trips over a month, in row groups of 100,000."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-11-01T00:00:00", "us")
    pickup = start + np.sort(rng.integers(0, 30 * 86_400, rows)).astype("timedelta64[s]")
    dropoff = pickup + rng.integers(60, 3_600, rows).astype("timedelta64[s]")
    money = lambda top: np.round(rng.random(rows) * top, 2)  # noqa: E731
    table = pa.table(
        {
            "VendorID": pa.array(rng.integers(1, 3, rows), pa.int32()),
            "tpep_pickup_datetime": pickup,
            "tpep_dropoff_datetime": dropoff,
            "passenger_count": pa.array(rng.integers(0, 5, rows), pa.int64()),
            "trip_distance": money(20),
            "RatecodeID": np.ones(rows),
            "store_and_fwd_flag": pa.array(np.where(rng.random(rows) < 0.01, "Y", "N")),
            "PULocationID": pa.array(rng.integers(1, 266, rows), pa.int32()),
            "DOLocationID": pa.array(rng.integers(1, 266, rows), pa.int32()),
            "fare_amount": money(80),
            "tip_amount": money(15),
            "total_amount": money(100),
            "Airport_fee": np.zeros(rows),
            "cbd_congestion_fee": np.full(rows, 0.75),
        }
    )
    pq.write_table(table, path, row_group_size=100_000)
    return path


CHILD = """
import json, sys
from pathlib import Path
import pyarrow as pa
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files

class Counting:
    def __init__(self):
        self.records = self.bytes = self.sent = 0
        self.failures = []
    def __call__(self, batch):
        self.records += len(batch)
        self.bytes += sum(len(data) for _, data in batch)
        self.sent = len(batch)
        return self

def status_kib(field):  # VmHWM is this process's own peak (ru_maxrss survives exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

files = open_files([Path(sys.argv[1])])
put = Counting()
before = status_kib("VmRSS")
Replayer(files, ReplayOptions(speedup=None), put).run()
peak = status_kib("VmHWM")
print(json.dumps({"records": put.records, "bytes": put.bytes, "growth_kib": peak - before,
                  "arrow_peak": pa.default_memory_pool().max_memory()}))
"""


def replay_in_child(path: Path) -> dict[str, int]:
    """Replay ``path`` unpaced in a fresh interpreter; its counts and its peak RSS growth."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_a_million_rows_need_no_more_memory_than_a_quarter_million(tmp_path: Path) -> None:
    """Peak RSS growth over 1,000,000 rows stays near that of 250,000, far below the data."""
    small = replay_in_child(tlc_parquet(tmp_path / "small.parquet", 250_000))
    large = replay_in_child(tlc_parquet(tmp_path / "large.parquet", 1_000_000))
    assert (small["records"], large["records"]) == (250_000, 1_000_000)
    assert large["growth_kib"] <= small["growth_kib"] * 1.25 + 16 * 1024
    assert large["arrow_peak"] <= small["arrow_peak"] * 1.25 + 8 * MIB
    assert large["growth_kib"] * 1024 < large["bytes"] / 2  # records are held a batch at a time
