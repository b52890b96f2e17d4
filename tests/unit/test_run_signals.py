"""Ctrl-C and SIGTERM during `run`: wherever the first lands, the drain counts every record once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.app.run import RunSignals
from taxi_stream.app.wiring import Settings
from taxi_stream.cli.pipeline import _run_live
from taxi_stream.infra.clock import Clock
from taxi_stream.runner.config import MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream

START_MS = 1_700_000_000_000
TRIPS = 12  # in batches of PRODUCED_PER_CALL, read by the runner in batches of BATCH_SIZE
PRODUCED_PER_CALL = 4
BATCH_SIZE = 3


class SteppedClock:
    """Epoch ms that move 7 ms a read and on each sleep; ``on_read(n)`` hears the n-th read."""

    def __init__(self, on_read: Callable[[int], None]) -> None:
        self.ms = START_MS
        self.reads = 0
        self.on_read = on_read

    def now_ms(self) -> int:
        self.reads += 1
        self.on_read(self.reads)
        self.ms += 7
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)

    def clock(self) -> Clock:
        return Clock(now_ms=self.now_ms, monotonic=lambda: self.ms / 1000, sleep=self.sleep)


class InlineProducer:
    """`run`'s producer in this process: each question whether it runs puts one more batch."""

    def __init__(self, data_dir: Path, now_ms: Callable[[], int]) -> None:
        self._stream = LocalStream(data_dir / "stream.db", clock=now_ms)
        sim = Simulator(SimulatorConfig(seed=8, start_ms=START_MS, malformed_fraction=0.1))
        self._batches = iter(sim.batches(PRODUCED_PER_CALL, count=TRIPS))
        self.sent = 0
        self.stopped = False

    def running(self) -> bool:
        batch = None if self.stopped else next(self._batches, None)
        if batch is None:
            return False
        self.sent += self._stream.put_records(batch.entries).sent
        return True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its exit code, what the producer sent and the store holds, clock reads."""

    code: int | str | None
    sent: int
    stored: int  # trips in windows + dead letters
    reads: int


def run_signalled_at(data_dir: Path, read: int) -> Outcome:
    """A quiet `run` that gets SIGTERM at its ``read``-th clock read (0: none at all)."""

    def deliver(n: int) -> None:
        if n == read:
            signal.raise_signal(signal.SIGTERM)

    stepped = SteppedClock(on_read=lambda n: None)
    options = ProcessOptions(mapping=MappingConfig(BATCH_SIZE, 1))
    settings = Settings(data_dir, shards=2)
    code: int | str | None = 0
    with Processor(settings, options, clock=stepped.clock()) as processor:
        producer = InlineProducer(data_dir, stepped.now_ms)
        with RunSignals().installed() as signals:
            stepped.reads, stepped.on_read = 0, deliver
            try:
                _run_live(processor, producer, signals, settings, START_MS, quiet=True)
            except SystemExit as exit_:
                code = exit_.code
            finally:
                stepped.on_read = lambda n: None
        producer.close()
        trips, letters = processor.store.counts()
    return Outcome(code, producer.sent, trips + letters, stepped.reads)


def test_wherever_the_first_signal_lands_the_run_drains_every_record_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM at any clock read of a run: exit 130, each record sent is one trip or dead letter,
    and one line on stderr, even quiet, names the signal and the trips drained."""
    whole = run_signalled_at(tmp_path / "whole", read=0)
    assert (whole.code, whole.sent, whole.stored) == (0, TRIPS, TRIPS)
    quiet = capsys.readouterr()
    assert (quiet.out.endswith("(balanced)\n"), quiet.err) == (True, "")  # no signal: no line
    unbalanced, said = [], []
    for read in range(1, whole.reads + 1):
        run = run_signalled_at(tmp_path / f"at-{read}", read)
        if run.code != 130 or run.stored != run.sent:
            unbalanced.append((read, run))
        trips = f"{run.sent:,} trip" + ("" if run.sent == 1 else "s")
        expected = f"interrupted by SIGTERM after {trips} produced; drained: each is in a window"
        printed = capsys.readouterr()
        (account,) = printed.out.splitlines()  # stdout: the accounting line alone, as quiet
        (line,) = printed.err.splitlines()
        said.append(account.endswith("(balanced)") and line.startswith(expected))
    assert unbalanced == []
    assert all(said)


def test_the_first_signal_asks_for_a_drain_and_the_next_one_cuts_it_short() -> None:
    """SIGTERM, then Ctrl-C: the first is only noted, the second raises; old handlers return."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with RunSignals().installed() as signals:
        assert not signals.requested
        signal.raise_signal(signal.SIGTERM)
        assert signals.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
