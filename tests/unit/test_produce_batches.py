"""How many lines one put of `produce` takes: a whole file 5,000, a pipe 500."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taxi_stream.app import produce as app_produce
from taxi_stream.cli import main
from taxi_stream.cli import produce as cli_produce

LETTERS = 1_200  # more than one pipe's put (500), fewer than one file's (5,000)


def letters_json() -> bytes:
    """An export of dead letters, as `query --dead-letters --format json` writes one."""
    raws = [json.dumps({"id": f"t{i}", "vendorId": 1}).encode() for i in range(LETTERS)]
    return json.dumps([{"rawBase64": base64.b64encode(raw).decode()} for raw in raws]).encode()


def batches_of(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path) -> list[int]:
    """The batch size each produce call of the command was given, and its exit code checked."""
    seen: list[int] = []
    real = app_produce.produce

    def recording(stream: Any, entries: Any, batch: int, **kw: Any) -> Any:
        seen.append(batch)
        return real(stream, entries, batch, **kw)

    monkeypatch.setattr(cli_produce, "produce", recording)
    args = ["produce", "--data-dir", str(tmp_path / "data"), "--from-dead-letters", str(source)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return seen


def test_dead_letters_from_a_regular_file_go_5000_a_put(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An export on disk is all there to read: its entries go in the file's large puts."""
    path = tmp_path / "letters.json"
    path.write_bytes(letters_json())
    assert batches_of(monkeypatch, tmp_path, path) == [app_produce.FILE_BATCH]


def test_dead_letters_from_a_pipe_go_500_a_put(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Dead letters read from a pipe (a FIFO, /dev/stdin) keep a pipe's 500 a put."""
    fifo = tmp_path / "letters.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb") as f:
            f.write(letters_json())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert batches_of(monkeypatch, tmp_path, fifo) == [app_produce.PRODUCE_BATCH]
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # a writer still waiting goes on
        writer.join()
