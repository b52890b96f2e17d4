"""Process: the runner loop over one stream, with the store and checkpoints it writes."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from taxi_stream.app.accounting import Gain
from taxi_stream.app.tally import HandlerTally
from taxi_stream.app.wiring import (
    OUR_HANDLER,
    Consumer,
    Settings,
    import_handler,
    open_consumer,
    open_destination,
    our_handler,
)
from taxi_stream.core.errors import ConfigError
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_MAX_OUT_OF_ORDERNESS_S,
    EventTime,
    LatePolicy,
)
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.infra.clock import SYSTEM_CLOCK, Clock
from taxi_stream.ports import CountingStream, Store, Stream
from taxi_stream.runner.mapping import EventSourceMapping, Handler, InProcess, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore

log = logging.getLogger(__name__)

LOCK_FILE: Final = "consumer.lock"
POLL_IDLE_S: Final = 0.02
WINDOWS_OFF: Final = (
    "our handler needs tumbling windows: give --window-seconds 1..900; windows off"
    " (--window-seconds 0) is for a --handler of your own"
)


@dataclass(frozen=True, slots=True)
class EventSettings:
    """Our handler's event clock: which instant, the watermark's bound, lateness, late trips."""

    event_time: str = EventTime.PICKUP.value
    max_out_of_orderness_s: int = DEFAULT_MAX_OUT_OF_ORDERNESS_S
    allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S
    late: str = LatePolicy.COUNT.value


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """How to run the event source mapping: the handler and the mapping's settings.

    The window size lives in one place, ``mapping.window_seconds`` (TumblingWindowInSeconds);
    our handler's windows are made from it, so with windows off (0) our handler is refused.
    ``clock`` and ``naive_timezone`` are our handler's; they are checked for any handler.
    """

    handler: str = OUR_HANDLER  # module:function, or OUR_HANDLER
    mapping: MappingConfig = field(default_factory=MappingConfig)
    clock: str = "arrival"
    naive_timezone: str = "UTC"
    event: EventSettings = field(default_factory=EventSettings)

    def __post_init__(self) -> None:
        if self.ours:
            self.handler_config()
        else:  # as before, --clock and --naive-timezone are checked for a foreign handler too
            HandlerConfig(clock=self.clock, naive_timezone=self.naive_timezone)

    @property
    def ours(self) -> bool:
        """True when the handler is ours (run on the chosen store)."""
        return self.handler == OUR_HANDLER

    def handler_config(self) -> HandlerConfig:
        """Our handler's settings: its windows are the mapping's; ConfigError with windows off."""
        if not self.mapping.windowed:
            raise ConfigError(WINDOWS_OFF)
        event = self.event
        return HandlerConfig(
            self.clock,
            self.mapping.window_seconds,
            self.naive_timezone,
            event_time=event.event_time,
            max_out_of_orderness_s=event.max_out_of_orderness_s,
            allowed_lateness_s=event.allowed_lateness_s,
            late=event.late,
        )


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
    """The runner loop over one stream, with the store and checkpoints it writes.

    A context manager: leaving the ``with`` closes the stream and the stores it opened and
    releases the data dir's consumer lock. Every clock it reads is ``clock``.
    """

    def __init__(
        self, settings: Settings, options: ProcessOptions, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._clock = clock
        self.options = options
        self._resources = ExitStack()
        self.tally = HandlerTally() if options.ours else None  # what our handler did
        try:
            lock = consumer_lock(settings.data_dir)
            self._resources.callback(os.close, lock)
            consumer = open_consumer(settings, clock=clock.now_ms)
            self._resources.callback(consumer.close)
            self.mapping = EventSourceMapping(
                consumer.stream,
                self._handler(options, consumer, settings.data_dir, self.tally),
                consumer.checkpoints,
                options.mapping,
                now_ms=clock.now_ms,
                destination=open_destination(
                    options.mapping.on_failure,
                    endpoint_url=settings.endpoint_url,
                    region=settings.region,
                ),
            )
        except BaseException:
            self._resources.close()
            raise
        self._consumer = consumer
        self.delivered = 0  # records the function processed; discarded ones are not in it

    @staticmethod
    def _handler(
        options: ProcessOptions, consumer: Consumer, data_dir: Path, tally: HandlerTally | None
    ) -> Handler | InProcess[Any]:
        """Our handler once the store agrees to its windows and to these checkpoints feeding it
        the stream (another data dir's would re-read it under the same contribution ids, and the
        store would skip new trips as duplicates); else the user's, which writes where it will."""
        if options.ours:
            config = options.handler_config()
            identity = consumer.checkpoints.identity()
            consumer.store.claim_stream(consumer.stream.name, identity, str(data_dir))
            return our_handler(consumer.store, config, in_process=consumer.own_store, tally=tally)
        return import_handler(options.handler)

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the stream and the stores, release the consumer lock (once; later calls no-op)."""
        self._resources.close()

    @property
    def clock(self) -> Clock:
        """The clocks it reads (for the views that run beside it)."""
        return self._clock

    @property
    def stream(self) -> Stream:
        """The stream it reads."""
        return self._consumer.stream

    @property
    def store(self) -> Store:
        """The store the handler writes (the checkpoints' own with ``--store local``)."""
        return self._consumer.store

    @property
    def checkpoints(self) -> SQLiteStore:
        """The data dir's checkpoint store."""
        return self._consumer.checkpoints

    @property
    def whole_data_dir(self) -> CountingStream | None:
        """The embedded stream when the store is the data dir's own (see wiring.Consumer)."""
        return self._consumer.whole_data_dir

    def gain(self) -> Gain:
        """The store's counts and the embedded stream's now, to tell what a replay adds."""
        return Gain(self.store, self.whole_data_dir)

    @property
    def discarded(self) -> int:
        """Records discarded so far (retries exhausted or too old), over every shard."""
        return self.mapping.discarded

    def last_errors(self) -> str:
        """The last error of every shard whose work is failing: ``SHARD: ERROR; ...``."""
        failing = [s for s in self.mapping.snapshot() if s.consecutive_failures]
        return "; ".join(f"{s.shard_id}: {s.stats.last_error}" for s in failing)

    def gave_up(self, after_s: float) -> str:
        """The line that says the drain gave up after ``after_s``, with the last errors."""
        line = f"the work left has kept failing for {after_s:g} s"
        errors = self.last_errors()
        return f"{line}; last error {errors}" if errors else line

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
        failing that long (a shard suspended on a failing final invoke never drains); the
        time it failed before the drain began does not count, so a drain always gets that long.
        """
        clock = self._clock
        next_tick = 0.0
        drained_since: int | None = None  # now_ms when the drain began
        give_up_ms = None if give_up_after_s is None else give_up_after_s * 1000
        while True:
            if drained_since is None and stop():
                drained_since = clock.now_ms()
            draining = drained_since is not None
            delivered = self.mapping.poll(drain=draining)
            self.delivered += delivered
            if clock.monotonic() >= next_tick:
                tick()
                next_tick = clock.monotonic() + tick_every_s
            if draining and delivered == 0 and self.mapping.idle():
                return
            if drained_since is not None and give_up_ms is not None:
                blocked = min(self.mapping.blocked_ms(), clock.now_ms() - drained_since)
                if blocked >= give_up_ms:
                    return
            if delivered == 0:
                clock.sleep(POLL_IDLE_S)


def consumer_lock(data_dir: Path) -> int:
    """Hold the data dir's consumer lock for the life of the process (freed even on SIGKILL).

    Checkpoints live in the data dir: two consumers would race on them, so a second one is
    refused with the first one's pid. Returns the lock's file descriptor (closing it unlocks).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"{data_dir} is being consumed already (pid {holder}); stop it, or use another "
            "--data-dir"
        ) from None
    try:
        pid = str(os.getpid()).encode()
        os.pwrite(fd, pid, 0)
        os.ftruncate(fd, len(pid))
    except OSError as exc:  # a full disk: name the file, which the bare error does not
        os.close(fd)
        raise OSError(exc.errno, f"{exc.strerror} (writing its pid)", str(path)) from exc
    return fd
