"""The producer child's loop (simulator -> LocalStream.put_records) of two trees, interleaved.

    .venv/bin/python bench/producer_ab.py --baseline BASELINE/src --pairs 5 --trips 300000

Each repeat runs the loop once per tree in a fresh process (baseline first, then this tree), as
`run --as-fast-as-possible` drives it (its producer job, `SimulateJob`: 5,000 trips a put, 4
shards, seed 1, no faults; for the simulator alone, the same batches without puts), and
reads the process's CPU time around the loop alone (imports and the stream's creation left out).
It prints CPU microseconds a trip for the simulator alone and for the whole loop, per tree, the
medians, and the median of the per-pair ratios (baseline / this tree), which the machine's load
moves far less than the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"

LOOP = """
import sys, tempfile, time
from pathlib import Path
from taxi_stream.app.run import SimulateJob
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream
trips, put = int(sys.argv[1]), sys.argv[2] == "put"
with tempfile.TemporaryDirectory() as tmp:
    stream = LocalStream(Path(tmp) / "stream.db", 4)
    stream.put_records(Simulator(SimulatorConfig(seed=2)).batch(10).entries)  # imports zstd
    started = time.process_time()
    if put:
        SimulateJob(SimulatorConfig(seed=1), trips=trips)(stream, lambda: False, lambda n: None)
    else:
        for batch in Simulator(SimulatorConfig(seed=1)).batches(5_000, count=trips):
            pass
    print((time.process_time() - started) / trips * 1e6)
    stream.close()
"""


def cpu_us(tree: Path, trips: int, stage: str) -> float:
    """CPU microseconds a trip of the loop run with ``tree`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", LOOP, str(trips), stage],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout)


def main() -> None:
    """Run the pairs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other tree's src/")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--trips", type=int, default=300_000)
    args = parser.parse_args()
    for stage in ("sim", "put"):
        base, ours = [], []
        for _ in range(args.pairs):
            base.append(cpu_us(args.baseline, args.trips, stage))
            ours.append(cpu_us(OURS, args.trips, stage))
        ratios = [b / o for b, o in zip(base, ours, strict=True)]
        label = "simulator alone" if stage == "sim" else "simulator + put_records"
        print(f"{label}: CPU us/trip baseline {' '.join(f'{b:.2f}' for b in base)}")
        print(f"{' ' * len(label)}  this tree {' '.join(f'{o:.2f}' for o in ours)}")
        print(
            f"{' ' * len(label)}  medians {statistics.median(base):.2f} vs"
            f" {statistics.median(ours):.2f}, median ratio {statistics.median(ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
