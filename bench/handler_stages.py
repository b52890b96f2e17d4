"""One stage of the handler, or the handler itself, called N times on bench_handler.py's event.

For instruction counts: run it under cachegrind with N = 0 and N = 2 and take the difference
over 20,000 records. The event is built, the stage called once (a warm-up: imports, memos,
allocator) and what was built frozen out of the collector's reach (``gc.freeze``) before the
N calls, so only the calls differ between the two runs.

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python bench/handler_stages.py MODE N

MODE: ``lambda`` (the handler, Lambda path, arrival clock), ``lambdacold`` (a fresh handler
each call: empty memos), ``view`` (in process: the runner's record view), ``event`` and
``eventview`` (the event clock), ``original`` (the original loop), ``decode`` (msgspec decode
alone), ``b64decode`` (pybase64 + decode alone), ``unpack`` (``payloads.unpack``), ``chunks``
(``columns.decode_chunks`` by vendor) and ``chunks_tot`` (and each part's totals).
"""

from __future__ import annotations

import base64
import gc
import sys
from collections.abc import Callable
from datetime import UTC
from itertools import repeat
from typing import Any

import pybase64

from bench_handler import MemoryStore, bench_event, original_lambda_handler
from taxi_stream.function import columns, payloads
from taxi_stream.function.codec import decode_clean
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.function.state import part_from_state
from taxi_stream.stores.memory import MemoryStore as WatermarkStore


def stages(event: dict[str, Any], viewed: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Each mode's call."""
    texts = [record["kinesis"]["data"] for record in event["Records"]]
    raw = [base64.b64decode(text) for text in texts]
    by_event = HandlerConfig(clock="event")
    handlers = {
        "lambda": (TumblingWindowHandler(MemoryStore()), event),
        "view": (TumblingWindowHandler(MemoryStore()), viewed),
        "event": (TumblingWindowHandler(WatermarkStore(), by_event), event),
        "eventview": (TumblingWindowHandler(WatermarkStore(), by_event), viewed),
        "original": (original_lambda_handler, event),
    }

    def call(handler: Any, given: dict[str, Any]) -> Callable[[], Any]:
        return lambda: handler({**given, "state": {}}, None)

    def chunks(totals: bool) -> Callable[[], Any]:
        stamps: dict[str, int] = {}

        def run() -> None:
            for found, _ in columns.decode_chunks(raw, UTC, stamps, False, by_vendor=True):
                if totals:
                    for part in found:
                        part.totals()

        return run

    found = {name: call(*pair) for name, pair in handlers.items()}
    return found | {
        "lambdacold": lambda: TumblingWindowHandler(MemoryStore())({**event, "state": {}}, None),
        "decode": lambda: list(map(decode_clean, raw)),
        "b64decode": lambda: list(
            map(decode_clean, map(pybase64.b64decode, texts, repeat(None), repeat(True)))
        ),
        "unpack": lambda: payloads.unpack(
            event["Records"], part_from_state({}), "s", "shard", payloads.Decoders()
        ),
        "chunks": chunks(totals=False),
        "chunks_tot": chunks(totals=True),
    }


if __name__ == "__main__":
    mode, count = sys.argv[1], int(sys.argv[2])
    stage = stages(bench_event(), bench_event(view=True))[mode]
    stage()
    gc.freeze()
    for _ in range(count):
        stage()
