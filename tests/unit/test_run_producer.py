"""`run`'s producer job: the simulator's batches into the stream, as columns where it takes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taxi_stream.app.run import SimulateJob
from taxi_stream.core.records import PutResult
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

TRIPS = 12_345  # three puts of 5,000 (the last one short)
SIM = SimulatorConfig(seed=4, malformed_fraction=0.1)


class PairStream:
    """A stream that takes (key, data) pairs only, and remembers them."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, bytes]] = []

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        self.pairs.extend(entries)
        return PutResult(sent=len(entries))


class ColumnStream(PairStream):
    """A stream that also takes two columns, and remembers which way each put came."""

    def __init__(self) -> None:
        super().__init__()
        self.ways: list[str] = []

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        self.ways.append("pairs")
        return super().put_records(entries)

    def put_columns(self, keys: Sequence[str], payloads: Sequence[bytes]) -> PutResult:
        self.ways.append("columns")
        return super().put_records(list(zip(keys, payloads, strict=True)))


def run_job(stream: Any) -> list[int]:
    """Run the job of TRIPS unpaced trips into ``stream``; what it reported sent, put by put."""
    sent: list[int] = []
    assert SimulateJob(SIM, trips=TRIPS)(stream, lambda: False, sent.append) is None
    return sent


def test_a_stream_that_takes_columns_gets_every_put_as_columns_with_the_simulators_records() -> (
    None
):
    """Keys and records go as two columns, in the simulator's order, and every trip is counted."""
    stream = ColumnStream()
    assert run_job(stream) == [5_000, 5_000, 2_345]
    assert stream.ways == ["columns"] * 3
    assert stream.pairs == Simulator(SIM).batch(TRIPS).entries


def test_a_stream_of_pairs_only_gets_the_same_records_as_pairs() -> None:
    """A stream without put_columns (Kinesis) gets the same records, as (key, record) pairs."""
    stream = PairStream()
    assert run_job(stream) == [5_000, 5_000, 2_345]
    assert stream.pairs == Simulator(SIM).batch(TRIPS).entries
