"""Where the consumer stands, read from the stores alone (the standalone dashboard's health)."""

from __future__ import annotations

from pathlib import Path

from taxi_stream.app.standing import CONSUMER, standing
from taxi_stream.app.wiring import Settings
from taxi_stream.core.hashkey import shard_for_key
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream

T0_MS = 1_730_448_000_000


def keys_for(shard: int, shards: int, count: int) -> list[str]:
    """``count`` partition keys that land on ``shard`` of ``shards``."""
    keys = (f"trip-{n}" for n in range(10_000))
    return [k for k in keys if shard_for_key(k, shards) == shard][:count]


def test_each_shard_says_whether_records_wait_after_its_checkpoint(tmp_path: Path) -> None:
    """A shard checkpointed at its last record has nothing waiting; one never read has all."""
    clock = [T0_MS]
    stream = LocalStream(tmp_path / "stream.db", 2, clock=lambda: clock[0])
    stream.put_records([(k, b"{}") for k in keys_for(0, 2, 3)])
    clock[0] += 2_500
    stream.put_records([(k, b"{}") for k in keys_for(1, 2, 2) + keys_for(0, 2, 1)])
    last_of_0 = stream.read("shardId-000000000000", None, 10).records[-1].sequence_number
    store = SQLiteStore(tmp_path / "store.db")
    store.save_checkpoint(CONSUMER, stream.name, "shardId-000000000000", Checkpoint(last_of_0))
    name = stream.name
    stream.close()
    store.close()

    found = standing(Settings(tmp_path))

    assert found.stream == name
    assert found.appended == 6
    zero, one = found.shards
    assert (zero.shard_id, zero.position, zero.waiting, zero.behind_ms) == (
        "shardId-000000000000",
        last_of_0,
        False,
        0,
    )
    assert (one.position, one.waiting, one.behind_ms) == (None, True, 0)


def test_the_first_waiting_record_says_how_far_behind_the_shard_is(tmp_path: Path) -> None:
    """behind is the newest record's arrival minus the first unread one's, in ms."""
    clock = [T0_MS]
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: clock[0])
    stream.put_records([("a", b"{}")])
    clock[0] += 4_000
    stream.put_records([("b", b"{}")])
    stream.close()
    [shard] = standing(Settings(tmp_path)).shards
    assert (shard.position, shard.waiting, shard.behind_ms) == (None, True, 4_000)


def test_a_data_dir_without_a_stream_is_read_as_no_shards_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    """No embedded stream: no shards, and no stream file is created by looking."""
    found = standing(Settings(tmp_path / "data"))
    assert (found.stream, found.shards, found.appended) == (None, (), None)
    assert not (tmp_path / "data").exists()
