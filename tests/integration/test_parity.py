"""Parity: one seeded scenario through the embedded pipeline and through Kinesis + DynamoDB."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import reference_totals
from tests.support.harness import settle

from taxi_stream.app.wiring import in_process_handler
from taxi_stream.core.records import WindowTotals
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.mapping import EventSourceMapping, Handler, InProcess, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.dynamodb import DynamoDBStore, create_table
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from taxi_stream.streams.kinesis import KinesisStream, create_stream
from taxi_stream.streams.local import LocalStream

TRIPS = 3_000
CONFIG = HandlerConfig(clock="event", window_seconds=300)  # pickup-time windows: deterministic


def scenario() -> list[tuple[str, bytes]]:
    """The seeded trips, 2% malformed, as (partition key, bytes)."""
    return Simulator(SimulatorConfig(seed=11, malformed_fraction=0.02)).batch(TRIPS).entries


def drain(
    stream: Any, handler: Handler | InProcess[SQLiteUnitOfWork], checkpoints: SQLiteStore
) -> None:
    """Run the event source mapping until every shard is consumed and every window closed."""
    clock = itertools.count(10**13, 1_000)  # far after every arrival: windows close when drained
    mapping = EventSourceMapping(
        stream, handler, checkpoints, MappingConfig(batch_size=250, window_seconds=60),
        now_ms=lambda: next(clock),
    )  # fmt: skip
    settle(mapping)


def keyed(windows: list[WindowTotals]) -> dict[tuple[str, int], tuple[int, ...]]:
    """Window totals (counts, distance, duration, passengers, fare, tip, amount) keyed by
    (vendor, window start)."""
    return {(w.vendor_id, w.window_start_ms): tuple(w.totals.as_list()) for w in windows}


def per_vendor(windows: dict[tuple[str, int], tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The window totals summed per vendor."""
    out: dict[str, tuple[int, ...]] = {}
    for (vendor, _start), totals in windows.items():
        out[vendor] = tuple(map(sum, zip(out.get(vendor, (0,) * 7), totals, strict=True)))
    return out


@pytest.mark.aws
def test_embedded_and_aws_paths_store_identical_totals(
    tmp_path: Path, kinesalite_url: str, moto_url: str
) -> None:
    """Simulator -> kinesalite -> runner -> handler -> DynamoDB equals the embedded pipeline,
    fares, tips and amounts included, and both equal the plain sums of the clean trips."""
    entries = scenario()
    local = LocalStream(tmp_path / "stream.db", shard_count=2)
    assert local.put_records(entries).sent == TRIPS
    local_store = SQLiteStore(tmp_path / "store.db")
    drain(local, in_process_handler(CONFIG), local_store)

    kinesis = KinesisStream("parity-stream", endpoint_url=kinesalite_url)
    create_stream(kinesis.client, "parity-stream", 2)
    assert kinesis.put_records(entries).sent == TRIPS
    table = DynamoDBStore("parity-table", endpoint_url=moto_url)
    create_table(table.client, "parity-table")
    drain(kinesis, TumblingWindowHandler(table, CONFIG), SQLiteStore(tmp_path / "checkpoints.db"))

    embedded, aws = keyed(local_store.windows()), keyed(table.windows())
    assert embedded == aws
    assert len(local_store.dead_letters()) == len(table.dead_letters()) > 0
    dead = {letter.raw for letter in table.dead_letters()}
    clean = [json.loads(data) for _, data in entries if data not in dead]
    assert per_vendor(aws) == reference_totals(clean)  # fares, tips and amounts in cents too
    assert all(totals[4] > 0 and totals[6] > totals[4] for totals in per_vendor(aws).values())
    counted, dead = local_store.counts()
    assert counted + dead == TRIPS
