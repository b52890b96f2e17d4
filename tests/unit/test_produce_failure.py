"""A produce that fails after some puts went in says what was sent and the --skip-lines that
goes on, so a re-run does not send those lines twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli import main
from taxi_stream.core.errors import StreamError
from taxi_stream.core.records import PutResult
from taxi_stream.streams.local import LocalStream

FULL = "embedded stream write failed: database or disk is full"
LINES = 12_000  # three puts of a file into the embedded stream (5,000 a put)


class FillsUp(LocalStream):
    """The embedded stream on a disk that is full from its ``nth`` put on."""

    nth = 3

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.puts = 0

    def put_columns(self, keys: Sequence[str], payloads: Sequence[bytes]) -> PutResult:
        self.puts += 1
        if self.puts >= self.nth:
            raise StreamError(FULL)
        return super().put_columns(keys, payloads)


def _ids(data_dir: Path) -> list[str]:
    """The id of every record in the embedded stream, shard by shard."""
    stream = LocalStream(data_dir / "stream.db")
    ids: list[str] = []
    for shard in stream.list_shards():
        after = None
        while records := stream.read(shard.shard_id, after, 1_000).records:
            ids.extend(json.loads(record.data)["id"] for record in records)
            after = records[-1].sequence_number
    stream.close()
    return ids


def _produce(data_dir: Path, source: Path, *more: str) -> tuple[int, list[str]]:
    done = CliRunner().invoke(
        main, ["produce", "--data-dir", str(data_dir), "--from", str(source), *more],
        prog_name="taxi-stream",
    )  # fmt: skip
    return done.exit_code, done.stderr.splitlines()


def test_a_full_disk_midway_says_what_went_and_the_resume_sends_the_rest_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third put fails: 10,000 lines are in, the report says so and gives --skip-lines
    10000, and that resume (on a disk with room) leaves every line in the stream once."""
    source = tmp_path / "trips.jsonl"
    source.write_text("".join(f'{{"id":"t{n}","vendorId":1}}\n' for n in range(1, LINES + 1)))
    data_dir = tmp_path / "data"
    monkeypatch.setattr("taxi_stream.app.wiring.LocalStream", FillsUp)

    code, lines = _produce(data_dir, source)

    assert code == 1
    assert lines == [
        "sent 10,000 records, failed 0",
        "stopped by the error below: lines 1..10,000 are handled (10,000 records sent); resume"
        " with --skip-lines 10000",
        f"Error: {FULL}",
    ]
    monkeypatch.undo()
    code, _ = _produce(data_dir, source, "--skip-lines", "10000")
    assert code == 0
    assert sorted(_ids(data_dir)) == sorted(f"t{n}" for n in range(1, LINES + 1))


def test_a_failure_before_any_put_went_is_the_error_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was sent: one Error line, no resume line (the same command starts it again)."""
    source = tmp_path / "trips.jsonl"
    source.write_text('{"id":"t1","vendorId":1}\n')
    monkeypatch.setattr(FillsUp, "nth", 1)
    monkeypatch.setattr("taxi_stream.app.wiring.LocalStream", FillsUp)

    code, lines = _produce(tmp_path / "data", source)

    assert code == 1
    assert lines == [f"Error: {FULL}"]
