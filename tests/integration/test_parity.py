"""Parity: one seeded scenario through the embedded pipeline and through Kinesis + DynamoDB."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import reference_totals
from tests.servers.node import dynalite_server
from tests.support.disorder import disordered_trips
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
    """Window totals (counts, distance, duration, passengers, fare, tip, amount, late trips)
    keyed by (vendor, window start)."""
    return {(w.vendor_id, w.window_start_ms): tuple(w.totals.as_list()) for w in windows}


def per_vendor(windows: dict[tuple[str, int], tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The window totals summed per vendor."""
    out: dict[str, tuple[int, ...]] = {}
    for (vendor, _start), totals in windows.items():
        sums = totals[:7]  # late trips are compared apart, path against path
        out[vendor] = tuple(map(sum, zip(out.get(vendor, (0,) * 7), sums, strict=True)))
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


@pytest.mark.aws
def test_event_clock_with_late_trips_is_the_same_on_sqlite_and_dynalite(
    tmp_path: Path, kinesalite_url: str, aws_credentials: dict[str, str]
) -> None:
    """Out-of-order trips, 1% late: the embedded pipeline and kinesalite -> handler ->
    DynamoDB (dynalite) store the same totals and late trips, and the same watermarks."""
    config = HandlerConfig(clock="event", window_seconds=60, max_out_of_orderness_s=300)
    trips = disordered_trips(seed=5, count=2_000)
    entries = [(t.trip_id, t.wire()) for t in trips]
    local = LocalStream(tmp_path / "stream.db", shard_count=2)
    assert local.put_records(entries).sent == len(entries)
    local_store = SQLiteStore(tmp_path / "store.db")
    drain(local, in_process_handler(config), local_store)

    kinesis = KinesisStream("parity-late", endpoint_url=kinesalite_url)
    create_stream(kinesis.client, "parity-late", 2)
    for at in range(0, len(entries), 500):  # in order, as the embedded stream took them
        assert kinesis.put_records(entries[at : at + 500]).sent == len(entries[at : at + 500])
    with dynalite_server() as dynalite_url:
        table = DynamoDBStore("parity-late", endpoint_url=dynalite_url)
        create_table(table.client, "parity-late")
        drain(kinesis, TumblingWindowHandler(table, config), SQLiteStore(tmp_path / "cp.db"))
        aws_windows, aws_marks = table.windows(), table.watermarks()

    late = [w.totals.late_trips for w in local_store.windows()]
    assert sum(late) > 0
    assert keyed(local_store.windows()) == keyed(aws_windows)
    assert late == [w.totals.late_trips for w in aws_windows]
    marks = [(m.shard_id, m.watermark_ms) for m in local_store.watermarks()]
    assert marks == [(m.shard_id, m.watermark_ms) for m in aws_marks]
    assert local_store.counts() == (len(trips), 0)
