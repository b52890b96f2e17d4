"""Run: the simulator in a child process writing to the stream, as its parent sees it."""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from typing import Final, Protocol

from taxi_stream.app.produce import PRODUCE_BATCH
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

log = logging.getLogger(__name__)

PRODUCER_STOP_S: Final = 10.0  # a stopped producer ends its batch within this, or is terminated


class Producing(Protocol):
    """What a run asks of its producer."""

    @property
    def sent(self) -> int:
        """How many records the stream accepted so far."""
        ...

    def running(self) -> bool:
        """True while it produces; raises why, when it failed."""
        ...

    def stop(self) -> None:
        """Stop it; it may finish its current batch first."""
        ...


class Producer:
    """The simulator in a child process writing to the stream, as its parent sees it."""

    def __init__(
        self, process: BaseProcess, stop: MpEvent, sent: Synchronized[int], failure: Connection
    ) -> None:
        self._process, self._stop, self._sent, self._failure = process, stop, sent, failure
        self._why: str | None = None

    @property
    def sent(self) -> int:
        """How many records the stream accepted so far."""
        return int(self._sent.value)

    def running(self) -> bool:
        """True while it produces, False once it has ended; raises why, when it failed."""
        if self._process.is_alive():
            return True
        self._process.join()
        code = self._process.exitcode
        if code:
            if self._why is None:
                self._why = self._failure.recv() if self._failure.poll() else f"exit code {code}"
            raise TaxiStreamError(f"the producer failed: {self._why}")
        return False

    def stop(self, within_s: float = PRODUCER_STOP_S) -> None:
        """Stop it after its current batch; one that does not end ``within_s`` is terminated."""
        self._stop.set()
        self._process.join(within_s)
        if self._process.is_alive():
            log.warning("the producer did not stop within %.0f s; terminating it", within_s)
            self._process.terminate()
            self._process.join()


class RunSignals:
    """Ctrl-C and SIGTERM during a run: the first asks for a drain, the next cut it short.

    Installed as the handler of both signals (``installed()``). The first only takes note, and
    the run's loop reads ``requested`` between two polls: raised inside a poll, as an exception
    it would leave the runner's cursor out of step with its committed checkpoint (records read
    but in no batch, or a committed batch still in flight), and the drain that follows would
    lose or repeat them. Every later one raises KeyboardInterrupt: the run then ends without
    polling again, and what is committed is what the next ``process`` resumes from.
    """

    def __init__(self) -> None:
        self.received = 0

    @property
    def requested(self) -> bool:
        """True once a signal came: stop producing and drain."""
        return self.received > 0

    def __call__(self, signum: int, frame: object) -> None:
        self.received += 1
        if self.received > 1:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[RunSignals]:
        """While inside, SIGINT and SIGTERM come here; the previous handlers come back after."""
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def start_producer(
    settings: Settings, sim: SimulatorConfig, *, trips: int | None, duration_s: float | None
) -> Producer:
    """Start the simulator in a child process writing to the stream."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    sent: Synchronized[int] = ctx.Value("q", 0)
    failure, report = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_simulate_into,
        args=(replace(settings), sim, (trips, duration_s)),
        kwargs={"stop": stop, "sent": sent, "report": report},
        name="taxi-stream-producer",
        daemon=True,
    )
    process.start()
    report.close()  # the child holds the sending end
    return Producer(process, stop, sent, failure)


def _simulate_into(
    settings: Settings,
    sim: SimulatorConfig,
    bounds: tuple[int | None, float | None],
    *,
    stop: MpEvent,
    sent: Synchronized[int],
    report: Connection,
) -> None:
    """The producer child: our errors go to the parent as one message, then exit status 1."""
    terminated: list[int] = []
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, lambda signum, _: terminated.append(signum))  # stop cleanly
    try:
        _simulate(settings, sim, bounds, lambda: stop.is_set() or bool(terminated), sent)
    except (TaxiStreamError, OSError) as exc:
        report.send(str(exc))
        raise SystemExit(1) from None


def _simulate(
    settings: Settings,
    sim: SimulatorConfig,
    bounds: tuple[int | None, float | None],
    stopped: Callable[[], bool],
    sent: Synchronized[int],
) -> None:
    trips, duration_s = bounds
    batch_size = 5_000 if sim.trips_per_second is None else PRODUCE_BATCH
    with closing(open_stream(settings)) as stream:
        for batch in Simulator(sim).batches(batch_size, count=trips, duration_s=duration_s):
            if stopped():
                break
            result = stream.put_records(batch.entries)
            with sent.get_lock():
                sent.value += result.sent
