"""Node-based AWS look-alikes (kinesalite, dynalite) in memory on 127.0.0.1, on a free port."""

from __future__ import annotations

import json
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("launch.js")
READY_PREFIX = "READY "
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


class ServerStartError(RuntimeError):
    """A local test server did not start; the message carries its stderr."""


def _node(package: str) -> str:
    node = shutil.which("node")
    if node is None:
        raise ServerStartError(f"node is not on PATH: the {package} test server needs Node.js")
    if not (REPO_ROOT / "node_modules" / package).is_dir():
        raise ServerStartError(f"{package} is not installed: run `npm ci` in {REPO_ROOT}")
    return node


def _await_ready(
    package: str, process: subprocess.Popen[str], stderr: IO[str], timeout_s: float
) -> str:
    """Poll the launcher's stdout (bounded) for its ready line; return the endpoint URL."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
            if not line:  # stdout closed: the launcher died
                break
    stderr.seek(0)
    raise ServerStartError(
        f"{package} did not start within {timeout_s:.0f} s (exit code {process.poll()}); "
        f"stderr:\n{stderr.read()}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    """Close stdin (the launcher exits), then terminate, then kill; always reap."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def node_server(
    package: str, options: dict[str, object], timeout_s: float = START_TIMEOUT_S
) -> Iterator[str]:
    """Run an npm server package on 127.0.0.1 on a free port; yield ``http://127.0.0.1:PORT``."""
    node = _node(package)
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [node, str(LAUNCHER), package, json.dumps(options), "0"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            yield _await_ready(package, process, stderr, timeout_s)
        finally:
            _stop(process)


def kinesalite_server(timeout_s: float = START_TIMEOUT_S) -> AbstractContextManager[str]:
    """kinesalite (Kinesis) on 127.0.0.1, streams created and deleted at once."""
    options = {"createStreamMs": 0, "deleteStreamMs": 0, "updateStreamMs": 0, "shardLimit": 100}
    return node_server("kinesalite", options, timeout_s)


def dynalite_server(timeout_s: float = START_TIMEOUT_S) -> AbstractContextManager[str]:
    """dynalite (DynamoDB) on 127.0.0.1, tables created and deleted at once."""
    options = {"createTableMs": 0, "deleteTableMs": 0, "updateTableMs": 0}
    return node_server("dynalite", options, timeout_s)
