"""``dashboard``: the live web page over a store, and what starts it beside a pipeline."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from taxi_stream.app.standing import standing
from taxi_stream.app.wiring import Settings, existing_store
from taxi_stream.cli.options import NumberRange, clear_errors, common, err, finality_options
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_IDLE_TIMEOUT_S,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from taxi_stream.app.process import Processor
    from taxi_stream.views.dashboard import DashboardServer, LiveFeed, PipelineSample, Reads
    from taxi_stream.views.metrics import Sources

F = TypeVar("F", bound=Callable[..., object])
HOST_HELP = "Address to serve the dashboard on; another than 127.0.0.1 only when you mean it."
REFRESH_S = {"local": 1.0, "dynamodb": 5.0}  # every refresh scans a DynamoDB table: less often


def serve_options(*, prefix: str) -> Callable[[F], F]:
    """``--{prefix}host`` and ``--{prefix}port``, taken as ``host: str`` and ``port: int``
    (``dashboard_host``/``dashboard_port`` with the prefix ``dashboard-``)."""
    env = "TAXI_STREAM_DASHBOARD_"
    host = click.option(
        f"--{prefix}host",
        default="127.0.0.1",
        show_default=True,
        envvar=f"{env}HOST",
        show_envvar=True,
        help=HOST_HELP,
    )
    port = click.option(
        f"--{prefix}port",
        type=click.IntRange(0, 65535),
        default=8765,
        show_default=True,
        envvar=f"{env}PORT",
        show_envvar=True,
        help="Port of the dashboard (0: a free one, printed with the URL).",
    )

    def decorate(fn: F) -> F:
        return host(port(fn))

    return decorate


@dataclass(frozen=True, slots=True)
class Served:
    """The dashboard beside a pipeline: the socket it serves on, bound by ``check_port``, and
    the pipeline's allowed lateness (for finality)."""

    sock: socket.socket
    allowed_lateness_s: int


@contextmanager
def check_port(served: tuple[str, int, int] | None) -> Iterator[Served | None]:
    """The dashboard's socket for (host, port, allowed lateness), bound now, for the ``with``
    (closed after it): an address that cannot be bound (a port in use) is a ConfigError before
    a pipeline creates its stream and store, and the page serves on this very socket, so no
    other program can take the port in between."""
    if served is None:
        yield None
        return
    from taxi_stream.views.dashboard.server import bind  # noqa: PLC0415 - only when asked

    host, port, lateness = served
    with bind(host, port) as sock:
        yield Served(sock, lateness)


def store_reads(settings: Settings) -> Reads:
    """How the dashboard reads the store: SQLite opened read-only for each read (as ``query``
    opens it), DynamoDB opened once. The store is opened once now, so a wrong --data-dir or
    --store is a one-line error before anything is served."""
    from taxi_stream.views.dashboard import Reads  # noqa: PLC0415 - starlette only when serving

    with closing(existing_store(settings)):
        pass
    return Reads(partial(existing_store, settings), keep_open=_dynamodb(settings))


def _dynamodb(settings: Settings) -> bool:
    return settings.store_url.startswith("dynamodb:")


def _refresh(settings: Settings, given: float | None = None) -> float:
    """How often the page refreshes: ``given``, else 1 s (SQLite) or 5 s (a DynamoDB table)."""
    if given is not None:
        return given
    return REFRESH_S["dynamodb" if _dynamodb(settings) else "local"]


def start_beside(
    settings: Settings,
    feed: LiveFeed,
    *,
    sock: socket.socket,
    mounts: dict[str, ASGIApp] | None = None,
    allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S,
) -> DashboardServer:
    """The dashboard beside a pipeline (``run``/``replay --dashboard``) on ``sock`` (bound by
    ``check_port``): health from ``feed``; ``mounts`` serves other apps beside it (the
    pipeline's ``/metrics``)."""
    from taxi_stream.views.dashboard import Lateness, start_dashboard  # noqa: PLC0415 - when asked

    reads = store_reads(settings)
    server = start_dashboard(
        reads,
        sock=sock,
        feed=feed,
        interval_s=_refresh(settings),
        mounts=mounts,
        lateness=Lateness(allowed_lateness_s, DEFAULT_IDLE_TIMEOUT_S),
    )
    err.print(f"dashboard: {server.url}", markup=False, highlight=False, soft_wrap=True)
    return server


@contextmanager
def beside_pipeline(
    settings: Settings,
    served: Served | None,
    sources: Callable[[], Sources],
    processor: Processor,
    produced: Callable[[], int],
) -> Iterator[Callable[[], None]]:
    """The dashboard beside a pipeline (``run``, ``replay``), with its metrics at /metrics, for
    the ``with``; yields the tick that shows it the runner's shards and counts (a no-op without
    one). ``served``: its socket (from ``check_port``) and the pipeline's allowed lateness."""
    if served is None:
        yield lambda: None
        return
    from taxi_stream.views.dashboard import LiveFeed  # noqa: PLC0415 - only when asked
    from taxi_stream.views.metrics import asgi_app, registry  # noqa: PLC0415 - only when asked

    feed = LiveFeed()
    mounts = {"/metrics": asgi_app(registry(sources()))}
    lateness = served.allowed_lateness_s
    with start_beside(settings, feed, sock=served.sock, mounts=mounts, allowed_lateness_s=lateness):
        yield lambda: feed.publish(_sample(processor, produced()))


def _sample(processor: Processor, produced: int) -> PipelineSample:
    """What the dashboard beside a pipeline shows of it: the shards and the counts."""
    from taxi_stream.views.dashboard import PipelineSample  # noqa: PLC0415 - only when asked

    shards = tuple(processor.mapping.snapshot())
    return PipelineSample(shards, produced, processor.delivered, processor.discarded)


@click.command()
@common(stream=False, window=False)
@click.option(
    "--stream",
    "stream_url",
    default="local",
    show_default=True,
    envvar="TAXI_STREAM_STREAM",
    show_envvar=True,
    help="The stream whose shards the health shows: 'local' (embedded) or kinesis://NAME.",
)
@serve_options(prefix="")
@click.option(
    "--refresh-seconds",
    type=NumberRange(0.2, 60),
    default=None,
    help="How often the page updates (default 1 s; 5 s for a DynamoDB table, which each"
    " update scans).",
)
@finality_options
@clear_errors
def dashboard(
    *,
    data_dir: Path,
    store_url: str,
    stream_url: str,
    endpoint_url: str | None,
    region: str | None,
    host: str,
    port: int,
    refresh_seconds: float | None,
    allowed_lateness: int,
    idle_timeout: int,
) -> None:
    """Serve the live dashboard of a store: windows, dead letters, health; reads only.

    Prints the page's URL on stderr, then serves until Ctrl-C, SIGINT or SIGTERM (SIGINT
    even when started with it ignored, as a script's background job is). The health shows
    each shard's checkpoint against the stream (records waiting, how far behind) and the dead
    letters; beside a pipeline (run or replay --dashboard) it shows the runner's own view
    instead.
    """  # fmt: skip
    from taxi_stream.views.dashboard import Lateness, start_dashboard  # noqa: PLC0415 - starlette

    settings = Settings(
        data_dir, stream_url=stream_url, store_url=store_url, endpoint_url=endpoint_url,
        region=region,
    )  # fmt: skip
    server = start_dashboard(
        store_reads(settings),
        host=host,
        port=port,
        standing=partial(standing, settings),
        interval_s=_refresh(settings, refresh_seconds),
        lateness=Lateness(allowed_lateness, idle_timeout),
    )
    err.print(  # an IPv6 host is written [fd00::1]: no markup
        f"dashboard: {server.url} (Ctrl-C stops it)", markup=False, highlight=False, soft_wrap=True
    )
    try:
        wait_for_stop(server.running)
    finally:
        server.stop()


def wait_for_stop(running: Callable[[], bool], every_s: float = 0.2) -> None:
    """Return on Ctrl-C, SIGINT or SIGTERM, or once ``running()`` is False.

    SIGINT stops it even when the process started with it ignored (a shell script's ``cmd &``
    job): a server is only ever stopped on purpose, and SIGINT is how ``kill -INT`` and a
    script's Ctrl-C ask. Both handlers are put back as they were once it returns.
    """
    stopped = threading.Event()
    handlers = {
        signum: signal.signal(signum, lambda signum, frame: stopped.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while running() and not stopped.wait(every_s):
            pass
    except KeyboardInterrupt:  # a Ctrl-C before the handler was in place
        pass
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
