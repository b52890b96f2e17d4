"""A test harness for the runner: a settable clock, an embedded stream and store, a mapping,
and ``settle``, the one loop that runs a mapping until it is idle."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxi_stream.runner.destinations import FileDestination
from taxi_stream.runner.mapping import (
    EventSourceMapping,
    Handler,
    InProcess,
    MappingConfig,
    ShardSnapshot,
)
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from taxi_stream.streams.local import LocalStream

START_MS = 1_730_419_200_000  # 2024-11-01T00:00:00Z, a window boundary for any size up to 900 s
MAX_POLLS = 10_000  # the default bound on settle: a mapping that never goes idle fails the test


def settle(
    mapping: EventSourceMapping,
    *,
    drain: bool = True,
    polls: int = MAX_POLLS,
    tick: Callable[[], None] | None = None,
) -> None:
    """Poll until every shard is consumed and no window is open, calling ``tick`` (which lets
    time pass) between polls; AssertionError, with the shards' last errors, after ``polls``."""
    for _ in range(polls):
        mapping.poll(drain=drain)
        if mapping.idle():
            return
        if tick is not None:
            tick()
    errors = [c.last_error for c in mapping.cursors if c.last_error]
    raise AssertionError(f"not idle after {polls} polls; errors: {errors}")


@dataclass
class Clock:
    """Epoch milliseconds that move only when a test says so."""

    ms: int = START_MS

    def __call__(self) -> int:
        """Now."""
        return self.ms

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass."""
        self.ms += ms


@dataclass
class Harness:
    """An embedded stream and a SQLite store on ``tmp``, sharing one clock."""

    tmp: Path
    shards: int = 1
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.stream = LocalStream(self.tmp / "stream.db", self.shards, clock=self.clock)
        self.store = SQLiteStore(self.tmp / "store.db", clock=self.clock)
        self.failures_path = self.tmp / "failures.jsonl"

    def put(
        self, count: int, *, key: str = "k", data: Callable[[int], bytes] | None = None
    ) -> list[str]:
        """Put ``count`` records now (arrival = the clock); return their sequence numbers."""
        make = data or (lambda i: json.dumps({"n": i}).encode())
        before = self.stream.appended()
        self.stream.put_records([(key, make(i)) for i in range(count)])
        assert self.stream.appended() == before + count
        return self.sequences()[-count:] if count else []

    def sequences(self, shard: str = "shardId-000000000000") -> list[str]:
        """Every sequence number in a shard, in order."""
        result = self.stream.read(shard, None, 100_000)
        return [record.sequence_number for record in result.records]

    def mapping(
        self,
        handler: Handler | InProcess[SQLiteUnitOfWork],
        *,
        destination: bool = True,
        **settings: Any,
    ) -> EventSourceMapping:
        """A mapping over the stream, checkpointing to the store, failures to a JSON-lines file."""
        return EventSourceMapping(
            self.stream,
            handler,
            self.store,
            MappingConfig(**settings),
            now_ms=self.clock,
            destination=FileDestination(self.failures_path) if destination else None,
        )

    def failure_records(self) -> list[dict[str, Any]]:
        """What the on-failure destination received."""
        if not self.failures_path.exists():
            return []
        return [json.loads(line) for line in self.failures_path.read_text().splitlines()]

    def settle(
        self,
        mapping: EventSourceMapping,
        *,
        polls: int = 200,
        step_ms: int = 1_000,
        drain: bool = False,
    ) -> None:
        """``settle`` on this harness's clock: ``step_ms`` pass between polls."""
        settle(mapping, drain=drain, polls=polls, tick=lambda: self.clock.advance(step_ms))

    def close(self) -> None:
        """Close the databases."""
        self.stream.close()
        self.store.close()


def snapshot_of(mapping: EventSourceMapping, index: int = 0) -> ShardSnapshot:
    """A snapshot of one shard of ``mapping`` as it stands now (the first by default)."""
    return mapping.snapshot()[index]
