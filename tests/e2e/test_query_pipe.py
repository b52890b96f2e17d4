"""`query` into a pipe, as `query ... | file` runs it: the machine formats are byte-exact."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S
from tests.unit.test_query_exact import MESSAGE, RAW, hostile_dir, parsed


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_piped_export_keeps_escape_codes(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    """Through a real pipe (not a terminal), raw and message keep their ANSI codes."""
    argv = [taxi_stream_exe, "query", "--data-dir", hostile_dir(tmp_path)]
    done = subprocess.run(
        [*argv, "--dead-letters", "--format", fmt],
        capture_output=True,  # stdout a pipe, as in `query ... | tool`
        env=cli_env,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    row = parsed(fmt, done.stdout)
    assert (row["raw"], row["message"]) == (RAW.decode(), MESSAGE)
