"""The live web dashboard: a starlette app over the stores, served by uvicorn on 127.0.0.1.

``start_dashboard`` binds the address (a free port for 0), or takes a socket bound before, builds
the app and serves it from a thread of its own; the caller's thread goes on (running a pipeline,
or waiting for Ctrl-C).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp

from taxi_stream.app.standing import Standing
from taxi_stream.views.dashboard.app import create_app
from taxi_stream.views.dashboard.data import (
    DEFAULT_LATENESS,
    DashboardData,
    Lateness,
    Reader,
    Reads,
)
from taxi_stream.views.dashboard.health import LiveFeed, PipelineSample
from taxi_stream.views.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, DashboardServer, bind

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DashboardServer",
    "Lateness",
    "LiveFeed",
    "PipelineSample",
    "Reader",
    "Reads",
    "start_dashboard",
]


def start_dashboard(
    reads: Reads,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    feed: LiveFeed | None = None,
    standing: Callable[[], Standing] | None = None,
    interval_s: float = 1.0,
    mounts: dict[str, ASGIApp] | None = None,
    lateness: Lateness = DEFAULT_LATENESS,
    sock: socket.socket | None = None,
) -> DashboardServer:
    """Serve the dashboard over ``reads`` on ``host``:``port``; ConfigError if it cannot bind.
    ``sock``: a listening socket already bound (``server.bind``) to serve on instead.

    ``interval_s``: how often the page's updates are read (health at most twice as often).
    ``feed``: the pipeline beside it publishes its shards there; else ``standing`` reads where
    the consumer stands from the stores. ``mounts`` serves other apps beside it (path -> app).
    ``lateness`` judges which event-time windows are final, as ``query`` does.
    """
    sock = bind(host, port) if sock is None else sock
    stopping = threading.Event()
    data = DashboardData(
        reads,
        monotonic=time.monotonic,
        feed=feed,
        standing=standing,
        cache_s=interval_s / 2,
        lateness=lateness,
    )
    app = create_app(data, interval_s=interval_s, stopping=stopping, extra=mounts)
    return DashboardServer(app, sock, stopping).start()
