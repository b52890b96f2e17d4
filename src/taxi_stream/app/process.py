"""Process: the runner loop over one stream, with the store and checkpoints it writes."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from taxi_stream.app.wiring import (
    DEFAULT_HANDLER,
    Settings,
    open_checkpoints,
    open_handler,
    open_store,
    open_stream,
)
from taxi_stream.core.errors import ConfigError
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.infra.clock import now_ms
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig

log = logging.getLogger(__name__)

LOCK_FILE: Final = "consumer.lock"


POLL_IDLE_S: Final = 0.02


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

        handler = open_handler(options.handler, settings, self.store, options.handler_config)
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
