"""Run: a producer (the simulator, a replay) in a child process writing to the stream."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from typing import Final, Protocol, cast

from taxi_stream.app.produce import PRODUCE_BATCH
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.ports import ColumnWriter, Stream
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


class ProducerJob(Protocol):
    """What a producer child runs: picklable, it writes to the stream until done or stopped.

    It adds what the stream accepted through ``sent`` and returns what it has to report
    (picklable too; the parent reads it with ``Producer.result``).
    """

    def __call__(
        self, stream: Stream, stopped: Callable[[], bool], sent: Callable[[int], None]
    ) -> object:
        """Produce into ``stream``; return the report."""
        ...


@dataclass(frozen=True, slots=True)
class SimulateJob:
    """The simulator's trips: ``trips`` of them, or for ``duration_s``, or until stopped."""

    sim: SimulatorConfig
    trips: int | None = None
    duration_s: float | None = None

    def __call__(
        self, stream: Stream, stopped: Callable[[], bool], sent: Callable[[int], None]
    ) -> object:
        """Put the simulator's batches until its bound or ``stopped()``.

        A stream that takes columns (the embedded one) gets the batch's keys and records as
        they are; any other gets them as (key, record) pairs.
        """
        batch_size = 5_000 if self.sim.trips_per_second is None else PRODUCE_BATCH
        batches = Simulator(self.sim).batches(
            batch_size, count=self.trips, duration_s=self.duration_s
        )
        columns = isinstance(stream, ColumnWriter)
        for batch in batches:
            if stopped():
                break
            if columns:
                result = cast(ColumnWriter, stream).put_columns(batch.keys, batch.payloads)
            else:
                result = stream.put_records(batch.entries)
            sent(result.sent)
        return None


class Producer:
    """A producer job in a child process writing to the stream, as its parent sees it."""

    def __init__(
        self, process: BaseProcess, stop: MpEvent, sent: Synchronized[int], report: Connection
    ) -> None:
        self._process, self._stop, self._sent, self._report = process, stop, sent, report
        self._message: tuple[str, object] | None = None

    @property
    def sent(self) -> int:
        """How many records the stream accepted so far."""
        return int(self._sent.value)

    def running(self) -> bool:
        """True while it produces, False once it has ended; raises why, when it failed."""
        self._read()
        if self._process.is_alive():
            return True
        self._process.join()
        self._read()
        code = self._process.exitcode
        if code:
            why = self._message[1] if self._message else f"exit code {code}"
            raise TaxiStreamError(f"the producer failed: {why}")
        return False

    def result(self) -> object:
        """What the job returned, once it has ended (None before, or when it failed)."""
        self._read()
        message = self._message
        return message[1] if message is not None and message[0] == "done" else None

    def _read(self) -> None:
        """Take what the child said: its warnings, logged here as they come, then its last word."""
        while self._message is None and self._report.poll():
            try:
                message = self._report.recv()
            except EOFError:
                self._message = ("failed", "it ended without a word")
                return
            if message[0] == "warning":
                log.warning("%s", message[1])  # as the run's own
            else:
                self._message = message

    def stop(self, within_s: float = PRODUCER_STOP_S) -> None:
        """Stop it after its current batch; one that does not end ``within_s`` is terminated."""
        self._stop.set()
        self._read()
        self._process.join(within_s)
        if self._process.is_alive():
            log.warning("the producer did not stop within %.0f s; terminating it", within_s)
            self._process.terminate()
            self._process.join()
        self._read()


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
        self.first: str | None = None  # the first signal's name: SIGINT (Ctrl-C) or SIGTERM

    @property
    def requested(self) -> bool:
        """True once a signal came: stop producing and drain."""
        return self.received > 0

    def __call__(self, signum: int, frame: object) -> None:
        self.received += 1
        if self.first is None:
            self.first = signal.Signals(signum).name
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


def start_producer(settings: Settings, job: ProducerJob) -> Producer:
    """Start ``job`` in a child process writing to the stream ``settings`` name."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    sent: Synchronized[int] = ctx.Value("q", 0)
    receive, report = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_produce_into,
        args=(replace(settings), job),
        kwargs={"stop": stop, "sent": sent, "report": report},
        name="taxi-stream-producer",
        daemon=True,
    )
    process.start()
    report.close()  # the child holds the sending end
    return Producer(process, stop, sent, receive)


def _produce_into(
    settings: Settings,
    job: ProducerJob,
    *,
    stop: MpEvent,
    sent: Synchronized[int],
    report: Connection,
) -> None:
    """The producer child: its report, or our error as one message then exit status 1."""
    terminated: list[int] = []
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, lambda signum, _: terminated.append(signum))  # stop cleanly
    parent = os.getppid()  # the run that started us; once it is killed, the pid is another's
    logging.getLogger("taxi_stream").addHandler(_ToParent(report))  # else no one sees them

    def add(count: int) -> None:
        with sent.get_lock():
            sent.value += count

    def stopped() -> bool:
        if os.getppid() != parent:  # SIGKILL leaves nobody to count or drain what we put
            log.warning("the run that started this producer is gone: stopping")
            return True
        return stop.is_set() or bool(terminated)

    try:
        with closing(open_stream(settings)) as stream:
            result = job(stream, stopped, add)
    except (TaxiStreamError, OSError) as exc:
        _send(report, ("failed", str(exc)))
        raise SystemExit(1) from None
    _send(report, ("done", result))


class _ToParent(logging.Handler):
    """The package's warnings in the producer child, sent to the parent, whose log shows them
    (the child's own logging has no handler: the package adds only a NullHandler)."""

    def __init__(self, report: Connection) -> None:
        super().__init__(logging.WARNING)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        """Send the record's message as a ("warning", text) message."""
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call must not end the producer
            self.handleError(record)
            return
        _send(self._report, ("warning", text))


def _send(report: Connection, message: tuple[str, object]) -> None:
    """The child's last word to its parent, if the parent is still there to read it."""
    with suppress(OSError):  # a parent killed outright closed its end
        report.send(message)
