"""Run every benchmark in bench/ (each ``bench_*.py`` module's ``run(repeats)``), print one table.

Each module measures its own naive baseline side by side in the same run and returns rows
``{"name", "trips_per_s", "baseline_trips_per_s", "ratio"}``; this script only collects them.

    .venv/bin/python bench/run.py [--repeats N] [--only SUBSTRING ...]

`make bench` runs it with the defaults (median of 5 repeats; end to end takes at most 3).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DEFAULT_REPEATS = 5
COLUMNS = (("benchmark", 56), ("trips/s", 12), ("baseline/s", 12), ("ratio", 8))


PIPELINE_ORDER = (
    "bench_simulator",
    "bench_producer",
    "bench_stream",
    "bench_handler",
    "bench_e2e",
    "bench_peer",
)


def modules(only: list[str]) -> list[str]:
    """Names of the benchmark modules to run: pipeline order first, then any others by name."""
    found = {path.stem for path in BENCH.glob("bench_*.py")}
    names = [n for n in PIPELINE_ORDER if n in found] + sorted(found - set(PIPELINE_ORDER))
    return [name for name in names if not only or any(part in name for part in only)]


def machine() -> str:
    """One line describing where the numbers come from."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.machine()}, {cores} cores available, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def row_line(row: dict[str, Any]) -> str:
    """One table row."""
    (_, name_w), (_, rate_w), (_, base_w), (_, ratio_w) = COLUMNS
    return (
        f"{row['name']:<{name_w}}{row['trips_per_s']:>{rate_w},}"
        f"{row['baseline_trips_per_s']:>{base_w},}{row['ratio']:>{ratio_w - 1}}x"
    )


def main() -> int:
    """Run the selected benchmarks; exit 1 if any of them failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--only", nargs="*", default=[], help="run modules whose name has this")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    importlib.import_module("bench_peer").compile_package()  # every row times a compiled package
    print(machine())
    print(f"median of {args.repeats} repeats (end to end: at most 3), baselines in the same run")
    header = "".join(
        f"{title:<{width}}" if i == 0 else f"{title:>{width}}"
        for i, (title, width) in enumerate(COLUMNS)
    )
    print(header, "-" * len(header), sep="\n", flush=True)
    failed = []
    for name in modules(args.only):
        started = time.perf_counter()
        try:
            rows = importlib.import_module(name).run(args.repeats)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed.append(name)
            print(f"{name}: FAILED", flush=True)
            traceback.print_exc()
            continue
        for row in rows:
            print(row_line(row), flush=True)
        print(f"  ({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
