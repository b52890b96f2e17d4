"""Event-time pacing on an injected clock: on schedule, stragglers and far-off rows at once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from taxi_stream.app.replay import TripTimes
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.pacing import Pacer, PacingConfig
from taxi_stream.sources.replay.replayer import Replayer, open_files

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_730_433_600_000  # 2024-11-01T04:00:00Z, midnight in New York


class FakeClock:
    """Seconds that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rows_are_due_at_t0_plus_event_offset_over_speedup() -> None:
    """At speedup 600, ten event minutes later is one wall second later."""
    clock = FakeClock()
    pacer = Pacer(PacingConfig(600), clock)
    assert pacer.due(T0) == 100.0
    assert pacer.due(T0 + 10 * MIN) == 101.0
    assert pacer.due(T0 + 70 * MIN) == 107.0
    assert pacer.event_ms == T0 + 70 * MIN


def test_a_straggler_is_due_at_once_and_leaves_the_clock() -> None:
    """A row earlier than the running clock goes now; the clock only moves forward."""
    pacer = Pacer(PacingConfig(60), FakeClock())
    pacer.due(T0)
    pacer.due(T0 + 5 * MIN)
    assert pacer.due(T0 + MIN) is None
    assert pacer.event_ms == T0 + 5 * MIN
    assert pacer.due(T0 + 6 * MIN) == 106.0


def test_a_row_far_ahead_is_sent_at_once_without_dragging_the_clock() -> None:
    """A 2088 trip in a 2024 file neither stalls the replay nor moves the clock."""
    pacer = Pacer(PacingConfig(60), FakeClock())
    pacer.due(T0)
    assert pacer.due(T0 + 64 * 365 * DAY) is None
    assert pacer.event_ms == T0
    assert pacer.due(T0 + MIN) == 101.0


def test_a_far_off_first_row_gives_way_after_a_run_of_far_rows() -> None:
    """A 2008 first row: after reanchor_after rows far ahead of it, the clock restarts there."""
    clock = FakeClock()
    pacer = Pacer(PacingConfig(60, reanchor_after=3), clock)
    pacer.due(T0 - 16 * 365 * DAY)
    assert [pacer.due(T0 + i * MIN) for i in range(2)] == [None, None]
    clock.now = 200.0
    assert pacer.due(T0 + 2 * MIN) == 200.0
    assert pacer.due(T0 + 3 * MIN) == 201.0


def test_the_clock_starts_at_start_at_when_given() -> None:
    """--start-at 10 event minutes before the first row: that row waits 10 s at speedup 60."""
    pacer = Pacer(PacingConfig(60, start_ms=T0 - 10 * MIN), FakeClock())
    assert pacer.due(T0) == 110.0


def test_rows_without_time_and_unpaced_replays_never_wait() -> None:
    """No event time: due at once; as fast as possible: nothing is ever due later."""
    assert Pacer(PacingConfig(60), FakeClock()).due(None) is None
    unpaced = Pacer(PacingConfig(None), FakeClock())
    assert [unpaced.due(T0 + i * DAY) for i in range(3)] == [None, None, None]


HEADER = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"


def trip_file(tmp_path: Path, minutes: list[int], name: str = "t.csv") -> Path:
    """A TLC file with one trip picked up at 2024-11-01 00:MM for each minute given."""
    rows = [
        f"1,2024-11-01 {m // 60:02d}:{m % 60:02d}:00,2024-11-01 {m // 60:02d}:{m % 60:02d}:30,1,1"
        for m in minutes
    ]
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


@dataclass
class TimedPut:
    """A put that notes the fake time of each batch and can ask the replay to stop."""

    clock: FakeClock
    batches: list[tuple[float, list[str]]] = field(default_factory=list)
    stop_after: int | None = None
    sent: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    def __call__(self, batch: list[tuple[str, bytes]]) -> TimedPut:
        ids = [json.loads(data)["id"] for _, data in batch]
        self.batches.append((self.clock.now, ids))
        self.sent = len(batch)
        return self

    def stop(self) -> bool:
        return self.stop_after is not None and len(self.batches) >= self.stop_after


def test_batches_are_flushed_when_the_next_row_is_not_yet_due(tmp_path: Path) -> None:
    """Rows due together go in one put; a wait flushes first; stragglers join the batch."""
    clock = FakeClock()
    put = TimedPut(clock)
    path = trip_file(tmp_path, [0, 0, 1, 0, 2, 10])
    Replayer(
        open_files([path]), ReplayOptions(speedup=60), put, clock=clock, sleep=clock.sleep
    ).run()
    assert put.batches == [
        (100.0, ["t.csv:1", "t.csv:2"]),
        (101.0, ["t.csv:3", "t.csv:4"]),
        (102.0, ["t.csv:5"]),
        (110.0, ["t.csv:6"]),
    ]
    assert max(clock.slept) <= 0.25  # waits are sliced, so a stop is seen within a slice


def test_unpaced_batches_hold_up_to_batch_size_and_never_sleep(tmp_path: Path) -> None:
    """--as-fast-as-possible: full batches of 500 (here 2), no sleep at all."""
    clock = FakeClock()
    put = TimedPut(clock)
    path = trip_file(tmp_path, [0, 600, 1, 1200, 2])
    options = ReplayOptions(speedup=None, batch_size=2)
    Replayer(open_files([path]), options, put, clock=clock, sleep=clock.sleep).run()
    assert [ids for _, ids in put.batches] == [
        ["t.csv:1", "t.csv:2"],
        ["t.csv:3", "t.csv:4"],
        ["t.csv:5"],
    ]
    assert clock.slept == []


def test_a_stopped_replay_resumes_where_it_stopped_without_repeats(tmp_path: Path) -> None:
    """Stop after two batches, resume from the row it names: every row once, across two files."""
    first = trip_file(tmp_path, list(range(5)), "a.csv")
    second = trip_file(tmp_path, list(range(3)), "b.csv")
    files = [first, second]
    clock = FakeClock()
    put = TimedPut(clock, stop_after=2)
    options = ReplayOptions(speedup=None, batch_size=2)
    stopped = Replayer(open_files(files), options, put, clock=clock, stop=put.stop).run()
    assert stopped.stopped
    assert stopped.next_row == ("a.csv", 5)
    again = TimedPut(clock)
    resumed = ReplayOptions(speedup=None, batch_size=2, resume=stopped.next_row)
    done = Replayer(open_files(files), resumed, again, clock=clock).run()
    ids = [i for _, batch in put.batches + again.batches for i in batch]
    assert ids == [f"a.csv:{n}" for n in range(1, 6)] + [f"b.csv:{n}" for n in range(1, 4)]
    assert not done.stopped
    assert done.next_row is None
    assert [(f.name, f.first_row, f.sent) for f in done.files] == [("a.csv", 5, 1), ("b.csv", 1, 3)]


def test_limit_and_start_at_count_what_they_leave_out(tmp_path: Path) -> None:
    """--start-at skips early pickups (counted as read, not sent); --limit stops and says where."""
    path = trip_file(tmp_path, [5, 1, 6, 7, 2, 8])
    start = T0 + 5 * MIN  # 2024-11-01T00:05:00-04:00
    clock = FakeClock()
    put = TimedPut(clock)
    options = ReplayOptions(speedup=None, start_at_ms=start, limit=3)
    result = Replayer(open_files([path]), options, put, clock=clock).run()
    assert [i for _, batch in put.batches for i in batch] == ["t.csv:1", "t.csv:3", "t.csv:4"]
    assert result.limited
    assert result.next_row == ("t.csv", 5)
    (count,) = result.files
    assert (count.read, count.skipped, count.sent) == (4, 1, 3)


def test_a_stop_between_files_names_the_next_and_after_the_last_is_no_stop(
    tmp_path: Path,
) -> None:
    """Asked to stop once a.csv is sent: resume at b.csv row 1; once all is sent: done, exit 0."""
    files = [trip_file(tmp_path, [0, 1], "a.csv"), trip_file(tmp_path, [0], "b.csv")]
    clock = FakeClock()
    put = TimedPut(clock, stop_after=1)
    between = Replayer(open_files(files), ReplayOptions(None), put, clock=clock, stop=put.stop)
    result = between.run()
    assert (result.stopped, result.next_row) == (True, ("b.csv", 1))
    last = TimedPut(clock, stop_after=1)
    options = ReplayOptions(None, resume=("b.csv", 1))
    end = Replayer(open_files(files), options, last, clock=clock, stop=last.stop).run()
    assert (end.stopped, end.next_row, [f.sent for f in end.files]) == (False, None, [1])


def test_the_disorder_meter_weighs_only_the_rows_sent(tmp_path: Path) -> None:
    """--limit cutting a block: the late-trips hint's meter counts the rows sent, not the block."""
    path = trip_file(tmp_path, [30, 0, 1, 2, 3])  # rows 2-5 would fall 30 minutes behind row 1
    clock = FakeClock()
    for speedup in (None, 600.0):
        options = ReplayOptions(speedup=speedup, limit=1, measure="pickup")
        times = TripTimes(dropoff=False).of
        put = TimedPut(clock)
        result = Replayer(open_files([path]), options, put, clock=clock, trip_times=times).run()
        assert result.limited
        assert result.disorder is not None
        assert (result.disorder.timed, result.disorder.largest_s) == (1, 0)


def test_the_disorder_meter_weighs_only_what_can_enter_a_window(tmp_path: Path) -> None:
    """A row 30 minutes ahead that the consumer dead-letters (no vendor) drags no watermark, so
    the rows after it are not counted behind it; by dropoff, each trip counts at its dropoff."""
    path = trip_file(tmp_path, [30, 0, 1, 2, 3])
    text = path.read_text().splitlines()
    text[1] = "," + text[1].split(",", 1)[1]  # row 1 loses its vendor
    path.write_text("\n".join(text) + "\n")
    for event_time in ("pickup", "dropoff"):
        options = ReplayOptions(speedup=None, measure=event_time)
        times = TripTimes(dropoff=event_time == "dropoff").of
        result = Replayer(
            open_files([path]), options, TimedPut(FakeClock()), trip_times=times
        ).run()
        assert result.disorder is not None
        assert (result.disorder.timed, result.disorder.largest_s) == (4, 0)
        assert result.disorder.event_time == event_time
