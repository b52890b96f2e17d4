"""The `process` live view: per shard its position, lag, window, retries, failures, destination."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from taxi_stream.runner.destinations import FileDestination
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views.cells import sequence_label
from taxi_stream.views.console import Notices, summary
from taxi_stream.views.process import ShardView
from tests.support.harness import START_MS, Clock, Harness
from tests.support.kinesis_like import SEQUENCE_DIGITS, KinesisLikeStream
from tests.support.recording import RecordingHandler, carries, is_final
from tests.support.screen import WIDTH, row_of, screen_lines, split_units, too_wide

HEADERS = ["shard", "status", "position", "lag", "window", "state", "retries", "failures"]
UNITS = ["ms", "s", "min", "h", "B", "kB", "MB", "rec", "records", "records/s"]


def screen_text(view: ShardView) -> str:
    """The view as plain text, wide enough for every column."""
    console = Console(record=True, width=300)
    console.print(view.render(0))
    return console.export_text()


def test_the_view_shows_each_shard_and_where_failed_batches_went(tmp_path: Path) -> None:
    """Discards counted apart; per shard position, lag, window, retries, failures, destination."""
    harness = Harness(tmp_path)
    handler = RecordingHandler()
    bad = harness.put(3)
    harness.clock.advance(2_500)
    good = harness.put(2)
    mapping = harness.mapping(handler, batch_size=3, window_seconds=60, maximum_retry_attempts=0)
    handler.fail(when=carries(bad[0]), error=ValueError("bad trip"))
    for _ in range(2):
        mapping.poll()
        harness.clock.advance(1_000)
    text = screen_text(ShardView(mapping))
    assert "shard-0000 " in text
    assert f" {sequence_label(good[-1])} " in text
    assert "delivered 0 records | discarded 3 |" in text
    assert "1.0 s" in text
    assert " 00:00:00 " in text
    assert "shard-0000 last error: ValueError: bad trip" in text
    assert f"shard-0000 discarded 1 (3 rec) -> file://{harness.failures_path}" in text
    lines: list[str] = []
    Notices(mapping, lines.append)()
    assert lines == [
        f"shard shardId-000000000000: discarded 1 (3 rec) -> file://{harness.failures_path}"
    ]
    mapping.poll()
    assert summary(mapping)[0].startswith("shard shardId-000000000000: window open, 1 failures")
    harness.close()


def resharded_mapping(tmp_path: Path) -> tuple[EventSourceMapping, RecordingHandler]:
    """Kinesis-like shards after a split: a parent stuck on its final invoke, an open shard
    that discarded a batch, two children waiting for the parent; 56-digit sequence numbers."""
    stream = KinesisLikeStream()
    parent, other = stream.add_shard(0, closed=True), stream.add_shard(1)
    children = [stream.add_shard(i, parents=(0,)) for i in (2, 3)]
    stream.put(parent, [b"{}"] * 3, START_MS)
    bad = stream.put(other, [b"{}"] * 3, START_MS)
    stream.put(other, [b"{}"] * 2, START_MS + 2_500)
    stream.put(children[0], [b"{}"], START_MS)
    handler = RecordingHandler()
    problem = ValueError("the window could not be written because " + "the store said no " * 6)
    stuck = lambda event: is_final(event) and event["shardId"] == parent  # noqa: E731
    handler.fail(when=stuck, times=None, error=problem)
    handler.fail(when=carries(bad[0]), times=None, error=KeyError("googleDistance"))
    clock = Clock()
    mapping = EventSourceMapping(
        stream,
        handler,
        SQLiteStore(tmp_path / "store.db", clock=clock),
        MappingConfig(batch_size=3, window_seconds=60, maximum_retry_attempts=0),
        now_ms=clock,
        destination=FileDestination(tmp_path / "failures.jsonl"),
    )
    for _ in range(8):
        mapping.poll(drain=True)
        clock.advance(1_000)
    return mapping, handler


def test_at_80_columns_shards_have_short_ids_and_only_free_text_is_cut(tmp_path: Path) -> None:
    """At 80 columns: shard-0003 ids, "…" and the last 7 digits of a 56-digit position, every
    column headed, every number with its unit, and only the last error cut, with an ellipsis."""
    mapping, handler = resharded_mapping(tmp_path)
    parent, other = mapping.snapshot()[:2]
    position = parent.checkpoint.position
    assert parent.stuck
    assert position is not None
    assert other.stats.discarded_batches == 1
    lines = screen_lines(ShardView(mapping).render(5))
    assert too_wide(lines) == []
    assert row_of(lines, "shard") == HEADERS
    assert split_units(lines, UNITS) == []
    stuck = row_of(lines, "shard-0000")
    assert len(position) == SEQUENCE_DIGITS
    assert stuck[:3] == ["shard-0000", "STUCK", "…" + position[-7:]]
    failed_finals = [e for e in handler.events if is_final(e) and e["shardId"] == parent.shard_id]
    state = f"{len(json.dumps(parent.checkpoint.state, separators=(',', ':')))} B"
    assert stuck[-3:] == [state, str(len(failed_finals)), str(len(failed_finals))]
    assert row_of(lines, "shard-0001")[-2:] == ["0", "1"]
    for child in ("shard-0002", "shard-0003"):
        assert row_of(lines, child)[:4] == [child, "waiting for", "start", "0 ms"]
    assert sum(line.strip() == "parents" for line in lines) == 2
    positions = [str(s.checkpoint.position) for s in (parent, other)]
    assert not any(position in line for position in positions for line in lines)
    error = next(line for line in lines if line.startswith("shard-0000 last error: "))
    assert len(error) == WIDTH
    assert error.endswith("…")
    assert "shard-0001 last error: KeyError: 'googleDistance'" in lines
    discarded = f"shard-0001 discarded 1 (3 rec) -> file://{tmp_path}/failures.jsonl"
    assert (discarded if len(discarded) <= WIDTH else discarded[: WIDTH - 1] + "…") in lines
