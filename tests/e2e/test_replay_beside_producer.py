"""A replay whose stream another producer writes to: its balance names those records."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)
SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"


def test_records_another_producer_sent_are_named_in_the_balance(
    taxi_stream_exe: Path, cli_env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """`produce` into the stream of a running replay: the replay counts those 5 records too,
    says where they came from, and balances (not `-5 in flight`)."""
    data, five = tmp_path / "data", tmp_path / "five.jsonl"
    cli("generate", "--trips", "5", "--out", five)
    argv = [str(taxi_stream_exe), "replay", str(SAMPLE), "--data-dir", str(data), "--speedup", "1"]
    with subprocess.Popen(
        argv, env=cli_env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: it is waiting for a row now
        assert "rows read" in first, first
        cli("produce", "--data-dir", data, "--from", five)
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == 130, rest
    balance = next(line for line in rest.splitlines() if line.startswith("rows read"))
    read = int(balance.split()[2].replace(",", ""))
    assert balance == (
        f"rows read {read:,} + 5 records of another producer"
        f" = {read + 5:,} trips in windows + 0 dead letters (balanced)"
    ), rest
    assert "NOT balanced" not in rest
