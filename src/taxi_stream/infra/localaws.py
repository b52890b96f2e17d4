"""kinesalite and dynalite (npm packages) in memory on 127.0.0.1, run from a node_modules folder."""

from __future__ import annotations

import json
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from importlib.resources import as_file, files
from pathlib import Path
from typing import IO, Final

from taxi_stream.core.errors import ServerStartError

PACKAGES: Final = ("kinesalite", "dynalite")
READY_PREFIX: Final = "READY "
START_TIMEOUT_S: Final = 20.0
STOP_TIMEOUT_S: Final = 5.0
INSTALL_HINT: Final = "run `npm ci` in the repository (`make aws-local` installs them)"
# Resources are created, deleted and resharded at once (AWS takes seconds to minutes).
KINESALITE_OPTIONS: Final = {
    "createStreamMs": 0,
    "deleteStreamMs": 0,
    "updateStreamMs": 0,
    "shardLimit": 100,
}
DYNALITE_OPTIONS: Final = {"createTableMs": 0, "deleteTableMs": 0, "updateTableMs": 0}
_CHECKOUT: Final = Path(__file__).resolve().parents[3]  # src/taxi_stream/infra -> the repository


def find_node_modules(start: Path | None = None) -> Path | None:
    """The first node_modules holding both packages: in ``start`` (default: the working
    directory) or one of its parents, else in the checkout this package runs from."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, _CHECKOUT):
        if all(_installed(folder / "node_modules", package) for package in PACKAGES):
            return folder / "node_modules"
    return None


def _installed(node_modules: Path, package: str) -> bool:
    return (node_modules / package / "package.json").is_file()


def _node(package: str, node_modules: Path) -> str:
    node = shutil.which("node")
    if node is None:
        raise ServerStartError(f"node is not on PATH: {package} needs Node.js (and npm to install)")
    if not _installed(node_modules, package):
        raise ServerStartError(f"{package} is not installed in {node_modules}: {INSTALL_HINT}")
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
            if not line:  # stdout closed: the launcher is exiting
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=STOP_TIMEOUT_S)
                break
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().splitlines() if line.strip()]
    why = lines[-1] if lines else f"no ready line within {timeout_s:g} s"
    raise ServerStartError(f"{package} did not start (exit code {process.poll()}): {why}")


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
    package: str,
    options: Mapping[str, object],
    *,
    node_modules: Path,
    port: int = 0,
    timeout_s: float = START_TIMEOUT_S,
) -> Iterator[str]:
    """Run an npm server package on 127.0.0.1 (port 0: a free one); yield its URL.

    The server stops when the block ends, and also when this process dies: it exits once its
    stdin (a pipe only this process holds) closes. It runs in a session of its own, so a
    Ctrl-C reaches this process, which stops it, and not the server first.
    """
    node = _node(package, node_modules)
    launcher = files("taxi_stream.infra").joinpath("launch.js")
    with as_file(launcher) as script, tempfile.TemporaryFile("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [
                node,
                str(script),
                str(node_modules.resolve()),
                package,
                json.dumps(options),
                str(port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        try:
            yield _await_ready(package, process, stderr, timeout_s)
        finally:
            _stop(process)


def kinesalite_server(
    *, node_modules: Path, port: int = 0, timeout_s: float = START_TIMEOUT_S
) -> AbstractContextManager[str]:
    """kinesalite (Kinesis) on 127.0.0.1, in memory; streams are created and deleted at once."""
    return node_server(
        "kinesalite", KINESALITE_OPTIONS, node_modules=node_modules, port=port, timeout_s=timeout_s
    )


def dynalite_server(
    *, node_modules: Path, port: int = 0, timeout_s: float = START_TIMEOUT_S
) -> AbstractContextManager[str]:
    """dynalite (DynamoDB) on 127.0.0.1, in memory; tables are created and deleted at once."""
    return node_server(
        "dynalite", DYNALITE_OPTIONS, node_modules=node_modules, port=port, timeout_s=timeout_s
    )
