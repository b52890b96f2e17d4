"""A ``taxi-stream`` command that serves the dashboard, run until the test is done with it."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

URL = re.compile(r"dashboard: (http://\S+/)")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass
class Served:
    """The running command: its page's URL, and what it printed once it ended (``lines``:
    both streams; ``stdout``: its standard output alone)."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    stdout: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The port it serves on."""
        return int(self.url.rstrip("/").rsplit(":", 1)[1])


def _pump(
    stream: IO[str], lines: queue.Queue[str | None], kept: list[str], *also: list[str]
) -> None:
    for line in stream:
        for into in (kept, *also):
            into.append(line.rstrip("\n"))
        lines.put(line)
    lines.put(None)


@contextmanager
def serving(
    argv: Sequence[str | Path], *, cwd: Path, env: dict[str, str], url_on: str = "stderr"
) -> Iterator[Served]:
    """Start ``argv``, wait for its ``dashboard: URL`` line (on ``url_on``), yield; on the way
    out stop it with SIGTERM (unless it ended) and keep its exit status and its lines."""
    process = subprocess.Popen(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    kept: list[str] = []
    out: list[str] = []
    watched = process.stdout if url_on == "stdout" else process.stderr
    other = process.stderr if url_on == "stdout" else process.stdout
    assert watched is not None
    assert other is not None
    watched_also, other_also = ([out], []) if url_on == "stdout" else ([], [out])
    pumps = [
        threading.Thread(target=_pump, args=(watched, lines, kept, *watched_also), daemon=True),
        threading.Thread(target=_pump, args=(other, queue.Queue(), kept, *other_also), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        served = Served(process, _first_url(lines, kept), kept, stdout=out)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        finally:
            process.kill()
            for pump in pumps:
                pump.join(timeout=STOP_TIMEOUT_S)
            watched.close()
            other.close()
    served.returncode = process.returncode


def _first_url(lines: queue.Queue[str | None], kept: list[str]) -> str:
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"no dashboard URL within {START_TIMEOUT_S:g} s: {kept}") from None
        if line is None:
            raise AssertionError(f"the command ended before serving: {kept}")
        found = URL.search(line)
        if found:
            return found.group(1)
