"""Inputs the command line takes: bounded (past the bound, a usage error), and ``-`` for stdin
wherever a file is read."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli import main
from taxi_stream.streams.local import LocalStream

GENERATE_MAX = 10_000_000  # docs: README, generate --help


def test_generate_refuses_more_trips_than_its_documented_maximum(tmp_path: Path) -> None:
    """--trips 10,000,001 (a typo of extra zeros) is exit 2 in one line; nothing is written."""
    out = tmp_path / "trips.jsonl"
    args = ["generate", "--trips", str(GENERATE_MAX + 1), "--out", str(out)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert "--trips" in done.stderr
    assert f"1<=x<={GENERATE_MAX}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_generate_help_states_the_maximum() -> None:
    """generate --help says how many trips it writes at most."""
    done = CliRunner().invoke(main, ["generate", "--help"])
    assert "10,000,000" in " ".join(done.stdout.split())


def stream_data(data_dir: Path) -> list[bytes]:
    """Every record's data in the embedded stream of ``data_dir``."""
    stream = LocalStream(data_dir / "stream.db")
    out = [r.data for s in stream.list_shards() for r in stream.read(s.shard_id, None, 100).records]
    stream.close()
    return out


RAWS = [b"not json\r\n", b"\xff\xfe", b'{"vendorId": 1}']
EXPORT = json.dumps([{"rawBase64": base64.b64encode(raw).decode()} for raw in RAWS])


@pytest.mark.parametrize("flag", ["--from-dead-letters", "--from"])
def test_produce_reads_stdin_when_the_file_is_a_dash(tmp_path: Path, flag: str) -> None:
    """--from-dead-letters - replays an export piped in, as --from - sends piped lines."""
    lines = "".join(f"{raw.decode('latin-1')}\n" for raw in (b"a", b"b", b"c"))
    piped = EXPORT if flag == "--from-dead-letters" else lines
    args = ["produce", "--data-dir", str(tmp_path), flag, "-"]
    done = CliRunner().invoke(main, args, input=piped)
    assert done.exit_code == 0, done.output
    assert "sent 3 records, failed 0" in done.stderr
    want = RAWS if flag == "--from-dead-letters" else [b"a", b"b", b"c"]
    assert sorted(stream_data(tmp_path)) == sorted(want)


def test_a_bad_export_on_stdin_is_one_line_naming_stdin(tmp_path: Path) -> None:
    """Not JSON on stdin: exit 1, 'stdin: not the JSON of query --dead-letters', nothing sent."""
    args = ["produce", "--data-dir", str(tmp_path), "--from-dead-letters", "-"]
    done = CliRunner().invoke(main, args, input="{")
    assert done.exit_code == 1
    assert done.stderr.startswith("Error: stdin: not the JSON of query --dead-letters")
    assert "Traceback" not in done.stderr
