"""produce: every non-blank line is sent as is; what is not sent is named by its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_blank_lines_are_counted_and_an_oversized_line_is_named(tmp_path: Path) -> None:
    """Blank lines are reported skipped; a line over 1 MiB fails by its own line number."""
    lines = [b'{"vendorId": 1}', b"", b"   ", b"x" * 1_100_000, b"not json"]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    argv = [sys.executable, "-m", "taxi_stream.cli", "produce", "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [*argv, "--from", str(source)], capture_output=True, timeout=60, check=False
    )
    out = done.stderr.decode()
    assert done.returncode == 1, out
    assert "sent 2 records, failed 1, skipped 2 blank lines" in out
    assert "line 4: record of 1100000 bytes" in out
    assert "Traceback" not in out
