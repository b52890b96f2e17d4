"""Use cases behind the CLI: produce, process (the runner loop), run (both, with a live view)."""

from __future__ import annotations

import fcntl
import logging
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, Final

from taxi_stream.clock import now_ms
from taxi_stream.core.errors import ConfigError, TaxiStreamError
from taxi_stream.handler import HandlerConfig
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.sources.files import Entry
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams import PutResult
from taxi_stream.wiring import (
    DEFAULT_HANDLER,
    Settings,
    load_handler,
    open_checkpoints,
    open_store,
    open_stream,
)

log = logging.getLogger(__name__)

LOCK_FILE: Final = "consumer.lock"
PRODUCE_BATCH: Final = 500  # one PutRecords call's worth
POLL_IDLE_S: Final = 0.02
PRODUCER_STOP_S: Final = 10.0  # a stopped producer ends its batch within this, or is terminated


@dataclass(frozen=True, slots=True)
class Produced:
    """What a producer achieved, by input line.

    ``records`` counts the stream records put (fewer than ``sent`` when KPL aggregates carry
    many entries); ``handled_through`` is the input line up to which every entry is sent or
    failed; ``interrupted`` says a signal stopped it before the input's end.
    """

    sent: int
    failed: int
    failures: list[tuple[int, str]]  # (input line number, reason)
    records: int = 0
    handled_through: int = 0
    interrupted: bool = False


class Interruption:
    """Ctrl-C and SIGTERM while producing: a batch in flight finishes, a wait for input ends.

    Install it as the signal handler. While ``produce`` reads input it raises KeyboardInterrupt
    (so a read blocked on a quiet pipe ends); while a batch is being sent it only takes note,
    and ``produce`` stops after that batch.
    """

    def __init__(self) -> None:
        self.requested = False
        self.breakable = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.breakable:
            self.breakable = False
            raise KeyboardInterrupt


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    records: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    last_line: int = 0

    def put(self, stream: Any, chunk: list[Entry], gate: Interruption) -> None:
        """Send a chunk and empty it, unbreakable from the call to the emptying."""
        if not chunk:
            return
        gate.breakable = False
        result: PutResult = stream.put_records([(key, data) for _, key, data in chunk])
        self.sent += result.sent
        self.records += result.sent if result.records is None else result.records
        self.failures.extend((chunk[i][0], why) for i, why in result.failed)
        self.last_line = chunk[-1][0]
        chunk.clear()
        gate.breakable = not gate.requested


def produce(
    stream: Any,
    entries: Iterable[Entry],
    batch: int = PRODUCE_BATCH,
    interruption: Interruption | None = None,
) -> Produced:
    """Send (line number, partition key, data) entries in batches; count what went and failed.

    With an ``interruption`` installed as the signal handler, a signal ends the input: what
    was read is sent, and the result says so.
    """
    gate = interruption or Interruption()
    tally, chunk = _Tally(), []
    try:
        gate.breakable = interruption is not None and not gate.requested
        for entry in entries:
            chunk.append(entry)
            if len(chunk) == batch:
                tally.put(stream, chunk, gate)
                if gate.requested:
                    break
        gate.breakable = False  # the last statement a signal may break
    except KeyboardInterrupt:
        if interruption is None:
            raise
    tally.put(stream, chunk, gate)  # the last entries, or those read before the signal
    gate.breakable = False
    failures = tally.failures
    return Produced(
        tally.sent, len(failures), failures, tally.records, tally.last_line, gate.requested
    )


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """How to run the event source mapping."""

    handler: str
    mapping: MappingConfig
    handler_config: HandlerConfig


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of the records a run read: processed by the function, or discarded."""

    delivered: int  # processed by the function (not failed by it)
    discarded: int  # discarded: retries exhausted or too old
    destination: str | None = None  # where the discarded batches' details were sent

    def line(self) -> str:
        """``delivered N records, discarded M (sent to DEST)``."""
        text = f"delivered {self.delivered:,} records, discarded {self.discarded:,}"
        if self.discarded:
            where = (
                f"sent to {self.destination}" if self.destination else "no on-failure destination"
            )
            text += f" ({where})"
        return text


class Processor:
    """The runner loop over one stream, with the store and checkpoints it writes."""

    def __init__(self, settings: Settings, options: ProcessOptions) -> None:
        self._lock = consumer_lock(settings.data_dir)
        self.stream = open_stream(settings)
        self.checkpoints = open_checkpoints(settings)
        self.store = open_store(settings, self.checkpoints)
        if options.handler == DEFAULT_HANDLER:  # our handler's windows must match the store's
            config = options.handler_config
            self.store.check_window(config.window_seconds, config.clock)
        from taxi_stream.runner.destinations import open_destination  # noqa: PLC0415 - process only

        handler = load_handler(options.handler, self.store, options.handler_config)
        destination = open_destination(
            options.mapping.on_failure, endpoint_url=settings.endpoint_url, region=settings.region
        )
        self.mapping = EventSourceMapping(
            self.stream,
            handler,
            self.checkpoints,
            options.mapping,
            now_ms=now_ms,
            destination=destination,
        )
        self.delivered = 0  # records the function processed; discarded ones are not in it

    @property
    def discarded(self) -> int:
        """Records discarded so far (retries exhausted or too old), over every shard."""
        return self.mapping.discarded

    def delivery(self) -> Delivery:
        """What became of the records read so far."""
        where = self.mapping.destination
        return Delivery(self.delivered, self.discarded, where.description if where else None)

    def loop(
        self,
        *,
        stop: Callable[[], bool],
        tick: Callable[[], None] = lambda: None,
        tick_every_s: float = 0.25,
        give_up_after_s: float | None = None,
    ) -> None:
        """Poll until ``stop()`` says so, then drain: consume the rest, close open windows.

        While draining, ``give_up_after_s`` ends the loop once all the work left has kept
        failing that long (a shard suspended on a failing final invoke never drains).
        """
        next_tick = 0.0
        draining = False
        give_up_ms = None if give_up_after_s is None else give_up_after_s * 1000
        while True:
            draining = draining or stop()
            delivered = self.mapping.poll(drain=draining)
            self.delivered += delivered
            if time.monotonic() >= next_tick:
                tick()
                next_tick = time.monotonic() + tick_every_s
            if draining and delivered == 0 and self.mapping.idle():
                return
            if draining and give_up_ms is not None and self.mapping.blocked_ms() >= give_up_ms:
                return
            if delivered == 0:
                time.sleep(POLL_IDLE_S)


def consumer_lock(data_dir: Path) -> int:
    """Hold the data dir's consumer lock for the life of the process (freed even on SIGKILL).

    Checkpoints live in the data dir: two consumers would race on them, so a second one is
    refused with the first one's pid. Returns the lock's file descriptor (closing it unlocks).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"{data_dir} is being consumed already (pid {holder}); stop it, or use another "
            "--data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


@dataclass(frozen=True, slots=True)
class Accounting:
    """produced = counted in windows + dead-lettered + in flight.

    ``produced`` is every record the embedded stream ever took, when the store is the data
    dir's own (a balance over the whole data dir); otherwise what this run produced, against
    what the store gained during the run. ``this_run`` is what this run produced.
    """

    produced: int
    counted: int
    dead_letters: int
    this_run: int | None = None

    @property
    def in_flight(self) -> int:
        """Records produced but in no window total and no dead letter yet."""
        return self.produced - self.counted - self.dead_letters

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        verdict = "balanced" if self.in_flight == 0 else "NOT balanced"
        prefix = ""
        if self.this_run is not None and self.this_run != self.produced:
            prefix = f"this run produced {self.this_run:,}; with earlier runs "
        return (
            f"{prefix}produced {self.produced:,} = counted in windows {self.counted:,}"
            f" + dead-lettered {self.dead_letters:,}; in flight {self.in_flight:,} ({verdict})"
        )


def accounting(processor: Processor, before: tuple[int, int], this_run: int) -> Accounting:
    """The balance after a run; ``before`` is the store's (counted, dead letters) at its start."""
    counted, dead = processor.store.counts()
    appended = getattr(processor.stream, "appended", None)
    if appended is not None and processor.store is processor.checkpoints:
        return Accounting(appended(), counted, dead, this_run)
    return Accounting(this_run, counted - before[0], dead - before[1], this_run)


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
    stream = open_stream(settings)
    batch_size = 5_000 if sim.trips_per_second is None else PRODUCE_BATCH
    for batch in Simulator(sim).batches(batch_size, count=trips, duration_s=duration_s):
        if stopped():
            break
        result = stream.put_records(batch.entries)
        with sent.get_lock():
            sent.value += result.sent
