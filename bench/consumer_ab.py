"""The consumer against a baseline tree: `process --until-idle` and `run`, interleaved, in pairs.

    .venv/bin/python bench/consumer_ab.py --baseline BASELINE/src --trips 300000 --pairs 5

One stream of ``--trips`` generated trips is produced once (with this tree); each pair then
consumes a fresh copy of it with `process --until-idle` under the baseline's ``src`` and under
this tree's, in alternating order, and runs `run --as-fast-as-possible` for as many trips under
both. Each command is timed from outside: wall seconds, and CPU seconds (user + sys of the
command and its children, from ``getrusage``); ``main`` is the CPU seconds of the command's
main thread after its imports (the runner's loop; the handler runs in a worker thread). The
medians of the per-pair ratios are printed beside the medians of each side, since a shared
machine moves single numbers by up to 2x.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "taxi_stream.cli"]
# The CLI, printing the CPU seconds its main thread spent after the imports (the runner's loop:
# reads, batching, checkpoints; the handler runs in a worker thread) as the last stderr line.
MAIN_THREAD = [
    sys.executable,
    "-c",
    "import sys, time; from taxi_stream.cli import main; sys.argv[0] = 'taxi-stream'\n"
    "start = time.thread_time()\n"
    "try:\n    main()\n"
    "finally:\n    print(f'main-thread {time.thread_time() - start:.3f}', file=sys.stderr)",
]
Timing = tuple[float, float, float]  # wall s, CPU s, main-thread CPU s (nan: not measured)


def timed(args: list[str], src: Path) -> Timing:
    """(wall s, CPU s, main-thread CPU s) of one CLI command run with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [*MAIN_THREAD, *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = done.stderr.strip().splitlines()[-1:] or [""]
    main = float(last[0].split()[1]) if last[0].startswith("main-thread ") else float("nan")
    return wall, cpu, main


def produced(work: Path, trips: int, src: Path) -> Path:
    """A data dir holding an embedded stream of ``trips`` generated trips (0.1% malformed)."""
    lines = work / "trips.jsonl"
    env = {**os.environ, "PYTHONPATH": str(src)}
    generate = ["generate", "--trips", str(trips), "--malformed", "0.001", "--out", str(lines)]
    subprocess.run([*CLI, *generate], env=env, check=True)
    template = work / "template"
    produce = ["produce", "--data-dir", str(template), "--from", str(lines)]
    subprocess.run([*CLI, *produce], env=env, check=True, stdout=subprocess.DEVNULL)
    return template


def process(template: Path, work: Path, src: Path) -> Timing:
    """`process --until-idle` over a fresh copy of the template stream."""
    data = work / "process"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    return timed(["process", "--data-dir", str(data), "--until-idle"], src)


def run(trips: int, work: Path, src: Path) -> Timing:
    """`run --as-fast-as-possible` for ``trips`` trips in a fresh data dir."""
    data = work / "run"
    shutil.rmtree(data, ignore_errors=True)
    args = ["run", "--data-dir", str(data), "--trips", str(trips), "--as-fast-as-possible"]
    return timed([*args, "--seed", "1"], src)


def report(name: str, pairs: list[tuple[Timing, Timing]]) -> None:
    """Medians of each side and of the per-pair ratios (baseline / ours: above 1 is faster)."""
    for index, what in enumerate(("wall", "cpu", "main")):
        base = [b[index] for b, _ in pairs]
        ours = [o[index] for _, o in pairs]
        ratio = statistics.median(b / o for b, o in zip(base, ours, strict=True))
        print(
            f"{name:8s} {what:4s} baseline {statistics.median(base):6.2f} s"
            f"  ours {statistics.median(ours):6.2f} s  median ratio {ratio:.2f}x"
            f"  (pairs: {', '.join(f'{b:.2f}/{o:.2f}' for b, o in zip(base, ours, strict=True))})"
        )


def main() -> None:
    """Parse the arguments, produce the stream, time the pairs, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other tree's src/")
    parser.add_argument("--trips", type=int, default=300_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", choices=("process", "run"), default=None)
    args = parser.parse_args()
    ours = HERE / "src"
    with tempfile.TemporaryDirectory(prefix="bench-consumer-") as tmp:
        work = Path(tmp)
        template = produced(work, args.trips, ours)
        results: dict[str, list[tuple[Timing, Timing]]] = {}
        for pair in range(args.pairs):
            for name in ("process", "run"):
                if args.only not in (None, name):
                    continue

                def one(src: Path, name: str = name) -> Timing:
                    if name == "process":
                        return process(template, work, src)
                    return run(args.trips, work, src)

                if pair % 2:  # alternate who goes first
                    mine, base = one(ours), one(args.baseline)
                else:
                    base, mine = one(args.baseline), one(ours)
                results.setdefault(name, []).append((base, mine))
        print(f"{args.trips:,} trips, {args.pairs} pairs")
        for name, pairs in results.items():
            report(name, pairs)


if __name__ == "__main__":
    main()
