"""The `process` live view: per shard its position, lag, window, retries, failures, destination."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from taxi_stream.runner.console import Notices, summary
from taxi_stream.views.process import ShardView
from tests.handlers.harness import Harness
from tests.handlers.recording import RecordingHandler, carries


def screen_text(view: ShardView) -> str:
    """The view as plain text, wide enough for every column."""
    console = Console(record=True, width=300)
    console.print(view.render(0))
    return console.export_text()


def test_the_view_shows_each_shard_and_where_failed_batches_went(tmp_path: Path) -> None:
    """Position, lag, open window, retries, failures, last error and the destination, per shard."""
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
    assert "shardId-000000000000" in text
    assert f" {good[-1]} " in text
    assert "1.0 s" in text
    assert "00:00:00Z-00:01:00Z" in text
    assert "ValueError: bad trip" in text
    assert f"1 (3 rec) -> file://{harness.failures_path}" in text
    lines: list[str] = []
    Notices(mapping, lines.append)()
    assert lines == [
        f"shard shardId-000000000000: discarded 1 (3 rec) -> file://{harness.failures_path}"
    ]
    mapping.poll()
    assert summary(mapping)[0].startswith("shard shardId-000000000000: window open, 1 failures")
    harness.close()
