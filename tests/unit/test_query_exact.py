"""`query`'s machine formats keep every character of a dead letter: ANSI codes included."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.app.wiring import STORE_FILE
from taxi_stream.cli.query import query
from taxi_stream.core.records import DeadLetter, Origin
from taxi_stream.stores.sqlite import SQLiteStore

RAW = b"\x1b[31mRED\x1b[0m ansi \x1b]0;title\x07 bell\r\n\xc2\x9b2J csi"
MESSAGE = "not JSON: \x1b[1mbold\x1b[0m"


def hostile_dir(tmp_path: Path) -> Path:
    """A data dir whose store holds one dead letter full of terminal escape codes."""
    store = SQLiteStore(tmp_path / STORE_FILE)
    origin = Origin("local-x", "shardId-000000000000", "1", None, 1_700_000_000_000)
    store.put_dead_letters([DeadLetter(origin, "not_json", MESSAGE, RAW)])
    store.close()
    return tmp_path


def parsed(fmt: str, out: bytes) -> dict[str, str]:
    """The one dead letter of a json or csv export, parsed as its format says."""
    text = out.decode()
    if fmt == "json":
        (row,) = json.loads(text)
        return dict(row)
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    return row


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_of_dead_letters_keep_escape_codes(tmp_path: Path, fmt: str) -> None:
    """Written to a stream that is no terminal, raw and message are exactly the stored text."""
    args = ["--data-dir", str(hostile_dir(tmp_path)), "--dead-letters", "--format", fmt]
    done = CliRunner().invoke(query, args)
    assert done.exit_code == 0, done.output
    row = parsed(fmt, done.stdout_bytes)
    assert (row["raw"], row["message"]) == (RAW.decode(), MESSAGE)
