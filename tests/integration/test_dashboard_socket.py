"""The dashboard beside a pipeline serves on the very socket its port check bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from taxi_stream.app.wiring import Settings
from taxi_stream.cli.dashboard import check_port, start_beside
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views.dashboard import LiveFeed

BIND = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
except OSError as exc:
    print(exc.strerror)
    sys.exit(3)
print("bound")
"""


def bind_elsewhere(port: int) -> subprocess.CompletedProcess[str]:
    """Another process trying to listen on 127.0.0.1:``port``, as a program taking it would."""
    return subprocess.run(
        [sys.executable, "-c", BIND, str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_other_process_can_take_the_port_between_the_check_and_the_page(
    tmp_path: Path,
) -> None:
    """Once checked, the port is held: another process cannot bind it, and the page serves on it."""
    data = tmp_path / "data"
    SQLiteStore(data / "store.db").close()
    settings = Settings(data)
    with check_port(("127.0.0.1", 0, 0)) as served:
        assert served is not None
        port = served.sock.getsockname()[1]
        taken = bind_elsewhere(port)
        assert (taken.returncode, taken.stdout.strip()) == (3, "Address already in use")
        with start_beside(settings, LiveFeed(), sock=served.sock) as server:
            assert server.address == ("127.0.0.1", port)
            health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
            assert health.status_code == 200
            assert health.json()["source"] == "pipeline"
    assert bind_elsewhere(port).returncode == 0  # freed once the with ends
