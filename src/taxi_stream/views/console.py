"""The `taxi-stream process` driver: live view or quiet notices, the summary, exit codes."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from rich.console import Console
from rich.live import Live

from taxi_stream.runner.mapping import EventSourceMapping, ShardSnapshot
from taxi_stream.views.process import ShardView, failed_batches, status

if TYPE_CHECKING:
    from taxi_stream.app.process import Processor

EXIT_INTERRUPTED: Final = 130
EXIT_STUCK: Final = 3  # with --until-idle: work is left that keeps failing


@dataclass(slots=True)
class Notices:
    """One line per new event worth a person's attention, for output that is not a terminal."""

    mapping: EventSourceMapping
    say: Callable[[str], None]
    _seen: dict[str, tuple[int, bool, int]] = field(default_factory=dict)

    def __call__(self) -> None:
        """Report failure streaks that begin, shards that become stuck, batches discarded."""
        for shard in self.mapping.snapshot():
            failing, stuck, discarded = self._seen.get(shard.shard_id, (0, False, 0))
            stats = shard.stats
            if shard.stuck and not stuck:
                self.say(f"shard {shard.shard_id} STUCK: {stats.last_error}")
            elif shard.consecutive_failures and not failing and not shard.stuck:
                self.say(f"shard {shard.shard_id} retrying: {stats.last_error}")
            if stats.discarded_batches > discarded:
                self.say(f"shard {shard.shard_id}: discarded {failed_batches(shard)}")
            self._seen[shard.shard_id] = (
                shard.consecutive_failures,
                shard.stuck,
                stats.discarded_batches,
            )


def summary(mapping: EventSourceMapping) -> list[str]:
    """Lines for the shards that failed, were stuck or discarded batches."""
    lines = []
    for shard in mapping.snapshot():
        if shard.stats.failures or shard.stats.discarded_batches:
            lines.append(_shard_line(shard))
    return lines


def _shard_line(shard: ShardSnapshot) -> str:
    stats = shard.stats
    line = f"shard {shard.shard_id}: {status(shard)}, {stats.failures:,} failures"
    if stats.discarded_batches:
        line += f", discarded {failed_batches(shard)}"
    if stats.last_error:
        line += f"; last error: {stats.last_error}"
    return line


def run_processor(
    processor: Processor,
    *,
    until_idle: bool,
    quiet: bool,
    give_up_after_s: float,
    err: Console,
) -> int:
    """Run the processor loop with a live per-shard view (or quiet notices); the exit code.

    Ctrl-C and SIGTERM end it alike: one line, exit code 130.
    """
    mapping = processor.mapping
    live = not quiet and err.is_terminal
    try:
        with sigterm_as_ctrl_c():
            _loop(
                processor,
                until_idle=until_idle,
                live=live,
                give_up_after_s=give_up_after_s,
                err=err,
            )
    except KeyboardInterrupt:
        err.print("interrupted; the next run resumes from the last checkpoint")
        return EXIT_INTERRUPTED
    for line in summary(mapping):
        say(err, line)
    if mapping.idle():
        return 0
    err.print(f"[red]gave up: work left has kept failing for {give_up_after_s:g} s")
    return EXIT_STUCK


def say(err: Console, line: str) -> None:
    """A line as it is: a handler's error, a shard id or a destination may hold ``[...]``,
    which is no terminal markup (``[/x]`` would end the command, ``[red]`` would vanish)."""
    err.print(line, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside, SIGTERM (a service manager's stop, ``kill``) raises KeyboardInterrupt."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _loop(
    processor: Processor, *, until_idle: bool, live: bool, give_up_after_s: float, err: Console
) -> None:
    """The processor loop under a live view, or with a notice line per event."""
    if live:
        _run_live(processor, until_idle=until_idle, give_up_after_s=give_up_after_s, err=err)
        return
    notices = Notices(processor.mapping, lambda line: say(err, line))
    processor.loop(stop=lambda: until_idle, tick=notices, give_up_after_s=give_up_after_s)
    notices()


def _run_live(
    processor: Processor, *, until_idle: bool, give_up_after_s: float, err: Console
) -> None:
    view = ShardView(processor.mapping)
    with Live(view.render(0), console=err, refresh_per_second=4, transient=False) as screen:
        processor.loop(
            stop=lambda: until_idle,
            tick=lambda: screen.update(view.render(processor.delivered)),
            give_up_after_s=give_up_after_s,
        )
        screen.update(view.render(processor.delivered))
