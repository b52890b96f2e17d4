"""The processor: a context manager that closes what it opens, on an injected clock, with one
window size for the mapping and our handler."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.app.process import POLL_IDLE_S, ProcessOptions, Processor, consumer_lock
from taxi_stream.app.wiring import Settings, require_stream
from taxi_stream.cli.process import process
from taxi_stream.core.errors import ConfigError
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.infra.clock import Clock
from taxi_stream.runner.config import MappingConfig
from taxi_stream.streams.local import LocalStream

FOREIGN = "tests.support.poison:lambda_handler"


def trip(n: int) -> dict[str, object]:
    """A clean trip of vendor 1 (the wire schema's fields the handler reads)."""
    return {
        "id": f"t{n}",
        "vendorId": 1,
        "pickupDate": "2024-11-01T00:00:00+00:00",
        "dropoffDate": "2024-11-01T00:10:00+00:00",
        "passengerCount": 1,
        "tripDuration": 600,
        "gcDistance": 1.5,
    }


def open_files_under(folder: Path) -> list[str]:
    """Paths under ``folder`` that a file descriptor of this process has open (Linux /proc)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the descriptor listdir itself used is gone by now
        if target.startswith(str(folder)):
            paths.append(target)
    return paths


class FakeClock:
    """Monotonic seconds and epoch ms that move only when the processor sleeps: a quarter of
    a second each time (a binary fraction, so the sums are exact)."""

    def __init__(self) -> None:
        self.seconds = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.seconds += 0.25

    def clock(self) -> Clock:
        return Clock(
            now_ms=lambda: round(self.seconds * 1000) + 1_700_000_000_000,
            monotonic=lambda: self.seconds,
            sleep=self.sleep,
        )


def test_leaving_the_with_closes_the_files_and_frees_the_data_dir(tmp_path: Path) -> None:
    """After ``with Processor(...)`` no file of the data dir is open and its lock is free."""
    data = tmp_path / "data"
    with Processor(Settings(data), ProcessOptions()) as processor:
        processor.loop(stop=lambda: True)
        assert any(path.endswith("stream.db") for path in open_files_under(data))
        with pytest.raises(ConfigError, match="being consumed already"):
            consumer_lock(data)
    assert open_files_under(data) == []
    os.close(consumer_lock(data))


def test_a_processor_that_fails_to_open_leaves_nothing_open(tmp_path: Path) -> None:
    """A bad store URL is one error, and the stream and lock opened before it are let go."""
    data = tmp_path / "data"
    with pytest.raises(ConfigError, match="unknown store"):
        Processor(Settings(data, store_url="nowhere://"), ProcessOptions())
    assert open_files_under(data) == []
    os.close(consumer_lock(data))


def test_the_loop_waits_on_the_injected_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle processor sleeps through its clock, and ticks by its clock's seconds."""

    def no_wall_clock(seconds: float) -> None:
        raise AssertionError("time.sleep called")

    monkeypatch.setattr(time, "sleep", no_wall_clock)
    fake = FakeClock()
    ticks: list[float] = []
    options = ProcessOptions(FOREIGN, MappingConfig(window_seconds=0))
    with Processor(Settings(tmp_path), options, clock=fake.clock()) as processor:
        processor.loop(
            stop=lambda: len(fake.sleeps) == 30,
            tick=lambda: ticks.append(fake.seconds),
            tick_every_s=0.5,
        )
    assert fake.sleeps == [POLL_IDLE_S] * 30
    # 30 sleeps take the clock from 100.0 to 107.5; a tick at the start, then every 0.5 s
    assert ticks == [100.0 + 0.5 * i for i in range(16)]


def test_what_the_processor_writes_is_stamped_by_its_clock(tmp_path: Path) -> None:
    """Our handler's windows carry the injected clock's time as their update time."""
    stream = LocalStream(tmp_path / "stream.db", 1)
    stream.put_records([("k", json.dumps(trip(i)).encode()) for i in range(3)])
    stream.close()
    fake = FakeClock()
    with Processor(Settings(tmp_path), ProcessOptions(), clock=fake.clock()) as processor:
        processor.loop(stop=lambda: True)
        [window] = processor.store.windows()
    assert window.totals.trip_count == 3
    assert window.updated_ms == 1_700_000_100_000 + 250 * len(fake.sleeps)


def test_our_handler_takes_its_window_size_from_the_mapping() -> None:
    """The size is set once, as TumblingWindowInSeconds; our handler's windows are those."""
    options = ProcessOptions(mapping=MappingConfig(window_seconds=30), clock="event")
    assert options.handler_config() == HandlerConfig("event", 30, "UTC")


def test_our_handler_refuses_windows_off() -> None:
    """With windows off our handler has no window size: refused, naming the alternative."""
    with pytest.raises(ConfigError, match=r"--window-seconds 1\.\.900.*--handler of your own"):
        ProcessOptions(mapping=MappingConfig(window_seconds=0))


def test_process_says_in_one_line_that_our_handler_needs_windows(tmp_path: Path) -> None:
    """`process --window-seconds 0` with our handler exits 1 with one line, writing nothing."""
    argv = ["--data-dir", str(tmp_path), "--window-seconds", "0", "--until-idle"]
    result = CliRunner().invoke(process, argv)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: our handler needs tumbling windows: give --window-seconds 1..900; windows off"
        " (--window-seconds 0) is for a --handler of your own"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_handler_of_your_own_still_runs_with_windows_off(tmp_path: Path) -> None:
    """`process --window-seconds 0 --handler M:F` delivers every record, as before."""
    stream = LocalStream(tmp_path / "stream.db", 1)
    stream.put_records([("k", b'{"n": %d}' % i) for i in range(5)])
    stream.close()
    argv = ["--data-dir", str(tmp_path), "--window-seconds", "0", "--until-idle"]
    result = CliRunner().invoke(process, [*argv, "--handler", FOREIGN, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "delivered 5 records, discarded 0" in result.output


def test_process_ends_with_what_it_delivered_and_what_the_store_holds_within_80_columns(
    tmp_path: Path,
) -> None:
    """The last two lines: delivered and discarded, then the store's trips and dead letters."""
    stream = LocalStream(tmp_path / "stream.db", 1)
    stream.put_records([("k", json.dumps(trip(n)).encode()) for n in range(1_234)] + [("k", b"x")])
    stream.close()
    argv = ["--data-dir", str(tmp_path), "--until-idle", "--quiet"]
    result = CliRunner().invoke(process, argv)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [
        "delivered 1,235 records, discarded 0",
        "store: 1,234 trips in windows, 1 dead letter",
    ]
    assert all(len(line) <= 80 for line in result.output.splitlines())


@pytest.mark.parametrize("made", [False, True], ids=["no-dir", "empty-dir"])
def test_process_on_a_data_dir_without_a_stream_says_so_and_creates_nothing(
    tmp_path: Path, made: bool
) -> None:
    """`process --data-dir TYPO`: exit 1, one line naming it and what writes a stream, no files."""
    typo = tmp_path / "TYPO"
    if made:
        typo.mkdir()
    result = CliRunner().invoke(process, ["--data-dir", str(typo), "--until-idle"])
    assert result.exit_code == 1
    missing = f"no stream in {typo}" if made else f"no data dir {typo}"
    assert result.output.splitlines() == [
        f"Error: {missing} (is --data-dir right?): write records into it with `taxi-stream"
        " produce` or `taxi-stream run` first, or read another stream with --stream"
        " kinesis://NAME"
    ]
    assert sorted(tmp_path.rglob("*")) == ([typo] if made else [])


def test_another_stream_needs_no_embedded_one_in_the_data_dir(tmp_path: Path) -> None:
    """With --stream kinesis://NAME the data dir holds only checkpoints: it may be new."""
    require_stream(Settings(tmp_path / "new", stream_url="kinesis://input-stream"))
    with pytest.raises(ConfigError, match="no data dir"):
        require_stream(Settings(tmp_path / "new"))


def poisoned_processor(tmp_path: Path, fake: FakeClock) -> tuple[Processor, str]:
    """A processor of one shard whose only record its handler always fails; that record's
    shard and sequence number."""
    stream = LocalStream(tmp_path / "stream.db", 1)
    stream.put_records([("k", b"poison")])
    [shard] = stream.list_shards()
    [record] = stream.read(shard.shard_id, None, 10).records
    stream.close()
    options = ProcessOptions(FOREIGN, MappingConfig(window_seconds=0))
    where = f"{shard.shard_id}: ValueError: poisoned record {record.sequence_number}"
    return Processor(Settings(tmp_path), options, clock=fake.clock()), where


def test_a_drain_that_gives_up_names_the_last_error_of_the_failing_shard(tmp_path: Path) -> None:
    """The give-up line ends with each failing shard's last error, the handler's own words."""
    fake = FakeClock()
    processor, where = poisoned_processor(tmp_path, fake)
    with processor:
        processor.loop(stop=lambda: True, give_up_after_s=30)
        assert not processor.mapping.idle()
        line = processor.gave_up(30)
    assert line == f"the work left has kept failing for 30 s; last error {where}"


def test_failing_before_the_drain_does_not_shorten_its_give_up_time(tmp_path: Path) -> None:
    """Work failing for 60 s while the producer runs still gets 30 s of drain before it ends."""
    fake = FakeClock()
    producing_s = 60.0
    processor, _ = poisoned_processor(tmp_path, fake)
    with processor:
        start = fake.seconds
        processor.loop(stop=lambda: fake.seconds - start >= producing_s, give_up_after_s=30)
    assert fake.seconds - start >= producing_s + 30
