"""A batch row's zstd decompression with and without the check for bytes after its frame.

    .venv/bin/python bench/frames_ab.py                  # CPU ns a record, interleaved rounds
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/frames_ab.py --calls plain
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/frames_ab.py --calls strict

``streams/batches.py`` reads a row's frame with ``allow_extra_data=False`` (``strict``): bytes
after the frame are a damaged row. ``plain`` is the call without it, as the read was before.
Both decompress the same frames, of simulated trips as ``put_records`` encodes them (125, 500
and 5,000 records a row), in one process, the order alternating round by round; the medians of
CPU nanoseconds a record and their ratio are printed. ``--calls`` runs one variant 1,000 times
on a 500-record row, for instruction counts: compare the zstd functions' totals (cg_annotate),
which the interpreter's start-up does not move.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import zstandard

from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams import batches

Variant = Callable[[bytes, int], bytes]
_decompressor = zstandard.ZstdDecompressor()


def plain(stored: bytes, size: int) -> bytes:
    """The frame's body, bytes after it ignored."""
    return _decompressor.decompress(stored, max_output_size=size)


def strict(stored: bytes, size: int) -> bytes:
    """The frame's body; bytes after it are a ZstdError."""
    return _decompressor.decompress(stored, max_output_size=size, allow_extra_data=False)


def frame(records: int) -> tuple[int, bytes]:
    """(body length, stored frame) of a row of ``records`` simulated trips."""
    entries = Simulator(SimulatorConfig(seed=5)).batch(records).entries
    codec, size, stored = batches.encode([k for k, _ in entries], [d for _, d in entries])
    assert codec == batches.ZSTD
    return size, stored


def per_record_ns(variant: Variant, stored: bytes, size: int, calls: int, records: int) -> float:
    """CPU nanoseconds a record of ``calls`` decompressions."""
    started = time.process_time()
    for _ in range(calls):
        variant(stored, size)
    return (time.process_time() - started) / calls / records * 1e9


def main() -> None:
    """Print the medians per row size, or run one variant for an instruction count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--calls", choices=["plain", "strict"])
    args = parser.parse_args()
    if args.calls:
        size, stored = frame(500)
        variant = plain if args.calls == "plain" else strict
        for _ in range(1_000):
            variant(stored, size)
        return
    for records, calls in ((125, 4_000), (500, 1_000), (5_000, 100)):
        size, stored = frame(records)
        times: dict[Variant, list[float]] = {plain: [], strict: []}
        for round_ in range(args.rounds):
            for variant in (plain, strict) if round_ % 2 else (strict, plain):
                times[variant].append(per_record_ns(variant, stored, size, calls, records))
        a, b = statistics.median(times[plain]), statistics.median(times[strict])
        print(
            f"{records:>5} records a row ({size:,} bytes): plain {a:.1f} ns a record,"
            f" strict {b:.1f}, strict / plain {b / a:.3f}"
        )


if __name__ == "__main__":
    main()
