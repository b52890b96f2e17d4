"""dynalite (npm) in memory on 127.0.0.1 on a free port, run by a small Node launcher."""

from __future__ import annotations

import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("launch_dynalite.js")
READY_PREFIX = "READY "
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


class DynaliteStartError(RuntimeError):
    """dynalite did not start; the message carries the launcher's stderr."""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise DynaliteStartError("node is not on PATH: the DynamoDB test server needs Node.js")
    if not (REPO_ROOT / "node_modules" / "dynalite").is_dir():
        raise DynaliteStartError(f"dynalite is not installed: run `npm ci` in {REPO_ROOT}")
    return node


def _await_ready(process: subprocess.Popen[str], stderr: IO[str], timeout_s: float) -> str:
    """Wait (bounded) for the launcher's ready line on stdout; return the endpoint URL."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line.removeprefix(READY_PREFIX).strip()
            if not line:  # stdout closed: the launcher exited
                break
    stderr.seek(0)
    raise DynaliteStartError(
        f"dynalite did not start within {timeout_s:.0f} s (exit code {process.poll()}); "
        f"stderr:\n{stderr.read()}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    """Close stdin (the launcher exits), else terminate, else kill; always reap."""
    if process.stdin is not None:
        process.stdin.close()
    for signal_next in (process.terminate, process.kill):
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            break
        except subprocess.TimeoutExpired:
            signal_next()
    else:
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def dynalite_server(timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Run dynalite on 127.0.0.1 on a free port; yield ``http://127.0.0.1:PORT``."""
    node = _node()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [node, str(LAUNCHER), "0"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            yield _await_ready(process, stderr, timeout_s)
        finally:
            _stop(process)
