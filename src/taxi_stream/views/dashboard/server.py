"""The dashboard served by uvicorn in a thread of its own, on a socket bound before it starts."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Final

import uvicorn
from starlette.types import ASGIApp

from taxi_stream.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
STOP_WITHIN_S: Final = 5.0  # open connections (the updates streams) get this long to end


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port); ConfigError when the
    address cannot be bound (in use, not this machine's, not an address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host}: not an address this machine has ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


class DashboardServer:
    """uvicorn serving ``app`` on a bound socket, in a daemon thread; ``stop`` ends it.

    ``stopping`` is set first, so the app's updates streams end before uvicorn waits on them.
    """

    def __init__(self, app: ASGIApp, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock, self._stopping = sock, stopping
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=int(STOP_WITHIN_S),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, name="taxi-stream-dashboard", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it listens on."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start(self) -> DashboardServer:
        """Start serving, unless it was started already (returns at once)."""
        if self._thread.ident is None:
            self._thread.start()
        return self

    def running(self) -> bool:
        """True while the server thread runs."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """End the updates streams, then the server; wait for its thread."""
        self._stopping.set()
        self._server.should_exit = True
        self._thread.join(STOP_WITHIN_S + 2)
        if self._thread.is_alive():
            log.warning("the dashboard did not stop within %.0f s", STOP_WITHIN_S + 2)
        self._sock.close()

    def __enter__(self) -> DashboardServer:
        """Serving (started if it was not)."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))
