"""Shared pieces of the command line: the common options, one-line errors, ISO-8601 flags."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

import click
from rich.console import Console

from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.core.limits import MAX_WINDOW_S
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_OUT_OF_ORDERNESS_S,
    MAX_BOUND_S,
    EventTime,
    LatePolicy,
)
from taxi_stream.core.windows import WindowClock
from taxi_stream.streams.local import DEFAULT_RETENTION_H, MAX_RETENTION_H

if TYPE_CHECKING:
    from taxi_stream.views.metrics import Sources

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., object])

err = Console(stderr=True, emoji=False)  # what data holds (":smile:") is printed as it is

DEFAULT_WINDOW_S: Final = 60  # --window-seconds when not given
BROKEN_PIPE_EXIT: Final = 141  # as a shell reports a command ended by SIGPIPE (128 + 13)


class NumberRange(click.FloatRange):
    """click's FloatRange without nan: nan compares false with both bounds, so it passed."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The number, or a usage error when it is out of range or not a number at all."""
        number: float = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


def clear_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors and OS errors into one line on stderr and exit status 1.

    A reader that went away (``| head``) is no error to report: the command ends quietly with
    exit status 141, as one killed by SIGPIPE would.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:
            _quiet_stdout()
            raise SystemExit(BROKEN_PIPE_EXIT) from None
        except (TaxiStreamError, OSError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush finds no broken pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):  # stdout is gone altogether: nothing to flush
        pass
    finally:
        os.close(devnull)


def require_stdout() -> None:
    """A one-line error (exit status 1) when stdout is closed (``>&-``): the output would be lost.

    For the commands that write their results there; called before they do anything else.
    """
    if sys.stdout is None:  # how Python starts when file descriptor 1 is closed
        raise click.ClickException(
            "stdout is closed, so the output cannot be written: open it, or redirect it to a"
            " file (> FILE)"
        )


def open_dash(path: str, mode: str, flag: str) -> IO[bytes]:
    """``path`` opened in binary ``mode``; ``-`` is stdin (read) or stdout (write).

    A closed stdin or stdout is a one-line error (exit status 1) naming ``flag``.
    """
    if path == "-":
        reading = "r" in mode
        stream = sys.stdin if reading else sys.stdout
        if stream is None or getattr(stream, "buffer", None) is None:
            name = "stdin" if reading else "stdout"
            raise click.ClickException(f"{name} is closed: give {flag} FILE, or open {name}")
    return click.open_file(path, mode)


def common(
    *, stream: bool = True, store: bool = True, window: bool = True, windows_off: bool = False
) -> Callable[[F], F]:
    """The options of a command: where data lives, and the stream, store and window it uses.

    ``windows_off``: --window-seconds also takes 0 (``process``, for a --handler of your own).

    The command takes them as keyword parameters: ``data_dir: Path``, ``window_seconds: int``,
    ``stream_url: str``, ``shards: int | None``, ``retention_hours: int``, ``store_url: str``,
    ``endpoint_url: str | None`` and ``region: str | None`` (those it asked for).
    """
    options = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("data"),
            show_default=True,
            envvar="TAXI_STREAM_DATA_DIR",
            show_envvar=True,
            help="Where the embedded stream and the store live.",
        ),
    ]
    if window:
        off = " (0: windows off, for a --handler of your own)" if windows_off else ""
        options.append(
            click.option(
                "--window-seconds",
                type=click.IntRange(0 if windows_off else 1, MAX_WINDOW_S),
                default=DEFAULT_WINDOW_S,
                show_default=True,
                envvar="TAXI_STREAM_WINDOW_SECONDS",
                show_envvar=True,
                help=f"Tumbling window size in seconds{off}.",
            )
        )
    if stream:
        options += [
            click.option(
                "--stream",
                "stream_url",
                default="local",
                show_default=True,
                envvar="TAXI_STREAM_STREAM",
                show_envvar=True,
                help="'local' (embedded) or kinesis://NAME.",
            ),
            click.option(
                "--shards",
                type=click.IntRange(1, 64),
                default=None,
                help="Shards of a new embedded stream (default 4).",
            ),
            click.option(
                "--retention-hours",
                type=click.IntRange(1, MAX_RETENTION_H),
                default=DEFAULT_RETENTION_H,
                show_default=True,
                envvar="TAXI_STREAM_RETENTION_HOURS",
                show_envvar=True,
                help="Hours the embedded stream keeps a record, read or not (as Kinesis's"
                " retention); a trim frees the disk space (docs/architecture.md).",
            ),
        ]
    if store:
        options.append(
            click.option(
                "--store",
                "store_url",
                default="local",
                show_default=True,
                envvar="TAXI_STREAM_STORE",
                show_envvar=True,
                help="'local' (SQLite in the data dir), sqlite:///RELATIVE/PATH (from the working"
                " directory), sqlite:////ABSOLUTE/PATH or dynamodb://TABLE.",
            )
        )
    options += [
        click.option("--endpoint-url", default=None,
                     help="AWS endpoint for both services (a local implementation). Without it,"
                     " boto3 reads AWS_ENDPOINT_URL_KINESIS / _DYNAMODB, then AWS_ENDPOINT_URL."),
        click.option("--region", default=None, envvar="AWS_REGION", show_envvar=True,
                     help="AWS region of the Kinesis stream / DynamoDB table."),
    ]  # fmt: skip

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def flag_ms(text: str | None, flag: str) -> int | None:
    """Epoch ms of an ISO-8601 flag value, UTC without an offset (None stays None); a bad
    value is a usage error that says so."""
    if text is None:
        return None
    try:
        return parse_iso_ms(text)
    except ValueError:
        raise click.BadParameter(
            f"not an ISO-8601 time (such as 2024-11-25T08:00:00Z; without an offset, UTC):"
            f" {text!r}",
            param_hint=flag,
        ) from None


def event_options(*, clock: bool = False, default_clock: str = "arrival") -> Callable[[F], F]:
    """The event clock's options (``clock``: --clock too, default ``default_clock``).

    The command takes them as keyword parameters ``event_time: str``,
    ``max_out_of_orderness: int``, ``allowed_lateness: int`` and ``late: str`` (and
    ``clock: str``). They read the environment variables the Lambda function reads.
    """
    bound = click.IntRange(0, MAX_BOUND_S)
    options = [
        click.option("--event-time", type=click.Choice([e.value for e in EventTime]),
                     default=EventTime.PICKUP.value, show_default=True, envvar="EVENT_TIME",
                     show_envvar=True,
                     help="Event clock: the trip's instant that puts it in its window."),
        click.option("--max-out-of-orderness", type=bound,
                     default=DEFAULT_MAX_OUT_OF_ORDERNESS_S, show_default=True,
                     envvar="MAX_OUT_OF_ORDERNESS_SECONDS", show_envvar=True,
                     help="Event clock: a shard's watermark is the latest event time it saw"
                     " minus this many seconds."),
        click.option("--allowed-lateness", type=bound, default=DEFAULT_ALLOWED_LATENESS_S,
                     show_default=True, envvar="ALLOWED_LATENESS_SECONDS", show_envvar=True,
                     help="Event clock: a trip is late once its shard's watermark has passed"
                     " its window's end plus this many seconds."),
        click.option("--late", type=click.Choice([p.value for p in LatePolicy]),
                     default=LatePolicy.COUNT.value, show_default=True, envvar="LATE_TRIPS",
                     show_envvar=True,
                     help="Event clock: count late trips in their window (and in its"
                     " lateTrips), or send them to the dead letters (reason late)."),
    ]  # fmt: skip
    if clock:
        options.insert(
            0,
            click.option(
                "--clock",
                type=click.Choice([c.value for c in WindowClock]),
                default=WindowClock(default_clock).value,
                show_default=True,
                envvar="WINDOW_CLOCK",
                show_envvar=True,
                help="Window clock: arrival (Lambda's own windows) or event (the trip's time).",
            ),
        )

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def metrics_options(fn: F) -> F:
    """--metrics-port and --metrics-host; the command takes ``metrics_port: int | None`` and
    ``metrics_host: str``, and serves with ``serving_metrics``."""
    port = click.option(
        "--metrics-port",
        type=click.IntRange(0, 65_535),
        default=None,
        envvar="TAXI_STREAM_METRICS_PORT",
        show_envvar=True,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics while it runs (0: a free"
        " port); a line on stderr names the address. Off by default.",
    )
    host = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        envvar="TAXI_STREAM_METRICS_HOST",
        show_envvar=True,
        help="Address the metrics server binds; give another only to be scraped from elsewhere.",
    )
    return port(host(fn))


def finality_options(fn: F) -> F:
    """--allowed-lateness and --idle-timeout, how the read side decides a window is final; the
    command takes ``allowed_lateness: int`` and ``idle_timeout: int`` (seconds)."""
    lateness = click.option(
        "--allowed-lateness",
        type=click.IntRange(0, MAX_BOUND_S),
        default=DEFAULT_ALLOWED_LATENESS_S,
        show_default=True,
        envvar="ALLOWED_LATENESS_SECONDS",
        show_envvar=True,
        help="Seconds after its end an event-time window still takes trips on time: it is"
        " final once the stream's watermark passes its end plus this.",
    )
    idle = click.option(
        "--idle-timeout",
        type=click.IntRange(0, MAX_BOUND_S),
        default=DEFAULT_IDLE_TIMEOUT_S,
        show_default=True,
        envvar="TAXI_STREAM_IDLE_TIMEOUT",
        show_envvar=True,
        help="A shard whose last record arrived this many seconds before the newest shard's is"
        " idle: it does not hold the stream's watermark back.",
    )
    return lateness(idle(fn))


@contextmanager
def serving_metrics(sources: Callable[[], Sources], port: int | None, host: str) -> Iterator[None]:
    """While inside, serve the metrics of ``sources()`` (nothing when ``port`` is None)."""
    if port is None:
        yield
        return
    from taxi_stream.views.metrics import MetricsServer, registry  # noqa: PLC0415 - only when asked

    with MetricsServer(registry(sources()), port=port, host=host) as server:
        err.print(f"metrics: {server.url}", markup=False, highlight=False, soft_wrap=True)
        yield
