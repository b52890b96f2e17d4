"""Against a peer: taxi-stream vs a Bytewax 0.21 tumbling fold over the same trips, whole processes.

Rows (each: ours, the peer's, ours / peer; medians of interleaved repeats):

1. ``taxi-stream run --as-fast-as-possible --trips 1000000 --window-seconds 60 --seed 1
   --malformed 0 --quiet``, wall time to exit, vs ``bench/peer_flow.py`` (Bytewax
   ``fold_window``, ``TumblingWindower``, 60 s windows, the same four totals per vendor,
   windows in memory, no durability) over a JSON-lines file of as many trips from the same
   simulator and seed. trips/s. Trips, distance and passengers per vendor must be equal on
   both sides (durations differ: the simulator draws them by the pickup's hour, and `run`
   starts its pickups at the wall clock).
2. File to store: ``taxi-stream produce --from F`` then ``taxi-stream process --until-idle
   --clock event`` (500,000 trips; both wall times added) vs the same Bytewax flow on F.
   Before the row counts, every (vendor, pickup window) total of our store must equal the
   peer's, and both must hold every trip: the comparison is of the same work.
3. The embedded stream on disk after that produce (every ``stream.db*`` file), bytes per trip,
   vs the JSON file itself (lower is better).
4. Peak resident memory (the ``run`` process and its producer, summed, sampled every 0.2 s)
   of 1,000,000 trips through ``run`` vs the Bytewax process on the 1,000,000-trip file, MB.
5. Peak resident memory of 10,000,000 trips through ``run``: the peak over the last half of
   the run vs over the first half (flat memory gives 1.0x), MB; once, it takes minutes.

Bytewax runs from its own virtual environment, bench/.venv-bytewax, which this module creates
on first use (``python3 -m venv`` and ``pip install bytewax==0.21.1`` from the package index;
git-ignored); the project's environment never sees it.

    .venv/bin/python bench/bench_peer.py [--repeats N] [--trips N] [--file-trips N]
        [--rss-trips N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".venv-bytewax"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_PIN = "bytewax==0.21.1"
TAXI_STREAM = Path(sys.executable).with_name("taxi-stream")
MAX_REPEATS = 3
RUN_TRIPS = 1_000_000
FILE_TRIPS = 500_000
RSS_TRIPS = 10_000_000
WINDOW_S = 60
SEED = 1
SAMPLE_S = 0.2

Totals = dict[str, list[int]]  # "vendor|window_start_ms" -> [trips, distance, duration, pax]


def compile_package() -> None:
    """Our package's bytecode written before any timing, as pip writes the peer's at install.

    The editable install leaves it to the first import, and where PYTHONDONTWRITEBYTECODE is
    set (it is on the machine of bench/README.md's figures) no import writes it: each process
    started compiles the sources again, about 0.37 G instructions (0.1 s) a start.
    """
    spec = importlib.util.find_spec("taxi_stream")
    if spec is None or spec.origin is None:
        raise SystemExit("taxi_stream is not importable: run `make bench` (it installs it)")
    package = str(Path(spec.origin).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)


def peer_python() -> Path:
    """The peer's interpreter, creating its virtual environment on first use."""
    probe = [str(PEER_PYTHON), "-c", "import bytewax, importlib.metadata as m; "
             "print(m.version('bytewax'))"]  # fmt: skip
    if PEER_PYTHON.exists():
        done = subprocess.run(probe, capture_output=True, text=True, check=False)
        if done.stdout.strip() == PEER_PIN.split("==")[1]:
            return PEER_PYTHON
    subprocess.run(["python3", "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    pip = [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, PEER_PIN], check=True)
    return PEER_PYTHON


def write_trips(path: Path, trips: int, seed: int = SEED) -> None:
    """A JSON-lines file of ``trips`` simulated trips, one record per line."""
    from taxi_stream.sources.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(seed=seed))
    with path.open("wb") as file:
        for batch in simulator.batches(10_000, count=trips):
            file.write(b"".join(data + b"\n" for _, data in batch.entries))


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants, KiB (0 once it is gone)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:")), 0)  # fmt: skip
    return total


def timed(argv: list[str]) -> tuple[float, list[int], str]:
    """Run a command to exit: (seconds, tree RSS samples in KiB, stdout); error on failure."""
    samples: list[int] = []
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(SAMPLE_S):
                samples.append(tree_rss_kb(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = process.communicate()
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {process.returncode}: {err[-2000:].decode()}")
    return elapsed, [s for s in samples if s], out.decode()


def peer(file: Path, out: Path) -> tuple[float, int, Totals]:
    """(seconds, peak RSS KiB, totals) of the Bytewax flow over ``file``."""
    argv = [str(peer_python()), str(BENCH / "peer_flow.py"), str(file), str(out), str(WINDOW_S)]
    seconds, samples, _ = timed(argv)
    result = json.loads(out.read_text())
    if result["late"]:
        raise RuntimeError(f"Bytewax set {result['late']} trips aside as late")
    return seconds, max(samples, default=0), result["windows"]


def store_totals(data_dir: Path) -> Totals:
    """Every (vendor, window) total of a data dir's store."""
    from taxi_stream.stores.sqlite import SQLiteStore

    store = SQLiteStore(data_dir / "store.db", read_only=True)
    try:
        return {
            f"{w.vendor_id}|{w.window_start_ms}": [
                w.totals.trip_count,
                w.totals.distance_milli,
                w.totals.duration_s,
                w.totals.passenger_count,
            ]
            for w in store.windows()
        }
    finally:
        store.close()


def by_vendor(totals: Totals) -> dict[str, list[int]]:
    """Totals summed over windows, per vendor (window clocks may differ, the sums may not)."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for key, values in totals.items():
        vendor = key.split("|")[0]
        sums[vendor] = [a + b for a, b in zip(sums[vendor], values, strict=True)]
    return dict(sums)


def untimed(totals: dict[str, list[int]]) -> dict[str, list[int]]:
    """Trips, distance and passengers: what `run` and the file share (the simulator draws
    durations by the hour of the pickup, and `run` starts its pickups at the wall clock)."""
    return {key: [values[0], values[1], values[3]] for key, values in totals.items()}


def ours_run(trips: int, data_dir: Path) -> tuple[float, list[int], Totals]:
    """(seconds, RSS samples, totals) of `taxi-stream run --as-fast-as-possible`."""
    argv = [str(TAXI_STREAM), "run", "--data-dir", str(data_dir), "--as-fast-as-possible"]
    argv += ["--trips", str(trips), "--window-seconds", str(WINDOW_S), "--seed", str(SEED)]
    seconds, samples, out = timed([*argv, "--malformed", "0", "--quiet"])
    if f"produced {trips:,} = {trips:,} in windows" not in " ".join(out.split()):
        raise RuntimeError(f"run did not count {trips} trips in windows: {out[-500:]}")
    return seconds, samples, store_totals(data_dir)


def ours_file(file: Path, data_dir: Path) -> tuple[float, int, Totals]:
    """(seconds, stream bytes on disk, totals) of `produce --from F` then `process`."""
    common = ["--data-dir", str(data_dir)]
    produce, _, _ = timed([str(TAXI_STREAM), "produce", *common, "--from", str(file)])
    on_disk = sum(path.stat().st_size for path in data_dir.glob("stream.db*"))
    process = [str(TAXI_STREAM), "process", *common, "--until-idle", "--quiet"]
    process += ["--clock", "event", "--window-seconds", str(WINDOW_S)]
    consumed, _, _ = timed(process)
    return produce + consumed, on_disk, store_totals(data_dir)


def row(name: str, mine: float, theirs: float) -> dict[str, Any]:
    """One table row: ours, the peer's, ours / peer."""
    return {
        "name": name,
        "trips_per_s": round(mine),
        "baseline_trips_per_s": round(theirs),
        "ratio": round(mine / theirs, 2),
    }


def _same(ours: Totals, theirs: Totals, trips: int, what: str) -> None:
    counted = sum(values[0] for values in ours.values())
    if ours != theirs or counted != trips:
        raise RuntimeError(f"{what}: ours and Bytewax's totals differ ({counted} of {trips})")


def _rounds(repeats: int, trips: int, file_trips: int, tmp: Path) -> dict[str, list[float]]:
    """Interleaved repeats of rows 1, 2 and 4; the bytes per trip of row 3."""
    run_file, small_file = tmp / "run.jsonl", tmp / "file.jsonl"
    write_trips(run_file, trips)
    write_trips(small_file, file_trips, seed=SEED + 1)
    got: dict[str, list[float]] = defaultdict(list)
    for repeat in range(repeats):
        seconds, rss, totals = peer(run_file, tmp / "peer-run.json")
        got["peer_run"].append(trips / seconds)
        got["peer_rss"].append(rss / 1024)
        seconds, samples, ours = ours_run(trips, tmp / f"run-{repeat}")
        _same(untimed(by_vendor(ours)), untimed(by_vendor(totals)), trips, "run")
        got["ours_run"].append(trips / seconds)
        got["ours_rss"].append(max(samples, default=0) / 1024)
        seconds, _, totals = peer(small_file, tmp / "peer-file.json")
        got["peer_file"].append(file_trips / seconds)
        seconds, on_disk, ours = ours_file(small_file, tmp / f"file-{repeat}")
        _same(ours, totals, file_trips, "file -> store")
        got["ours_file"].append(file_trips / seconds)
        got["ours_bytes"].append(on_disk / file_trips)
        got["json_bytes"].append(small_file.stat().st_size / file_trips)
    return got


def flat_rss(trips: int, tmp: Path) -> tuple[float, float]:
    """(peak MB over the last half, over the first half) of ``trips`` through `run`."""
    _, samples, _ = ours_run(trips, tmp / "rss")
    half = len(samples) // 2
    return max(samples[half:], default=0) / 1024, max(samples[:half], default=1) / 1024


def run(
    repeats: int = MAX_REPEATS,
    trips: int = RUN_TRIPS,
    file_trips: int = FILE_TRIPS,
    rss_trips: int = RSS_TRIPS,
) -> list[dict[str, Any]]:
    """The rows against Bytewax (at most 3 repeats; the 10M-trip memory row once)."""
    repeats = max(1, min(repeats, MAX_REPEATS))
    med = statistics.median
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        got = _rounds(repeats, trips, file_trips, Path(tmp))
        last, first = flat_rss(rss_trips, Path(tmp)) if rss_trips else (0.0, 1.0)
    rows = [
        row(f"run, {trips:,} trips vs Bytewax fold_window on a file", med(got["ours_run"]),
            med(got["peer_run"])),
        row(f"file -> store, {file_trips:,} trips vs Bytewax on the file",
            med(got["ours_file"]), med(got["peer_file"])),
        row("stream on disk, bytes/trip vs the JSON file (lower wins)", med(got["ours_bytes"]),
            med(got["json_bytes"])),
        row(f"peak RSS MB, run {trips:,} vs Bytewax (lower wins)", med(got["ours_rss"]),
            med(got["peer_rss"])),
    ]  # fmt: skip
    if rss_trips:
        rows.append(row(f"peak RSS MB, run {rss_trips:,}: 2nd half vs 1st", last, first))
    return rows


def main() -> None:
    """Print the rows."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MAX_REPEATS)
    parser.add_argument("--trips", type=int, default=RUN_TRIPS)
    parser.add_argument("--file-trips", type=int, default=FILE_TRIPS)
    parser.add_argument("--rss-trips", type=int, default=RSS_TRIPS, help="0: skip that row")
    args = parser.parse_args()
    for line in run(args.repeats, args.trips, args.file_trips, args.rss_trips):
        print(
            f"{line['name']:<60}{line['trips_per_s']:>12,}"
            f"{line['baseline_trips_per_s']:>12,}{line['ratio']:>8}x",
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
