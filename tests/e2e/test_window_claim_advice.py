"""A store that holds other windows is refused with advice the refused command can follow."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.conftest import CLI_TIMEOUT_S, Cli


def refused(exe: Path, env: dict[str, str], cwd: Path, *args: str) -> str:
    """The stderr of ``taxi-stream ARGS``, which must exit 1."""
    done = subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    return done.stderr


RUN = ("run", "--data-dir", "d", "--trips", "10", "--as-fast-as-possible", "--quiet")


def test_run_with_another_window_size_is_told_the_size_only(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """run on a store of 60 s windows, asked for 30 s, is told --window-seconds 60, not --clock."""
    cli(*RUN)
    stderr = refused(taxi_stream_exe, cli_env, tmp_path, *RUN, "--window-seconds", "30")
    assert "use --window-seconds 60, or another --data-dir / --store" in stderr
    assert "--clock" not in stderr


def test_run_on_an_event_clock_store_is_sent_to_process(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """run (arrival clock only) on an event-clock store is told the process command that fits."""
    cli("generate", "--trips", "5", "--out", "t.jsonl")
    cli("produce", "--data-dir", "d", "--from", "t.jsonl")  # process needs a stream to read
    cli("process", "--data-dir", "d", "--clock", "event", "--until-idle", "--quiet")
    stderr = refused(taxi_stream_exe, cli_env, tmp_path, *RUN)
    assert "holds event-clock windows of 60 s, not arrival-clock 60 s" in stderr
    assert "use process --clock event --window-seconds 60, or another --data-dir" in stderr


def test_replay_on_a_store_of_the_other_clock_is_told_its_own_clock_flag(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """replay (event clock) on an arrival-clock store is told replay's --clock, not process."""
    cli(*RUN)
    sample = Path(__file__).parents[1] / "data" / "kaggle_trip_duration_train_first1k.csv"
    replay = ("replay", str(sample), "--data-dir", "d", "--as-fast-as-possible", "--quiet")
    stderr = refused(taxi_stream_exe, cli_env, tmp_path, *replay)
    assert "holds arrival-clock windows of 60 s, not event-clock 60 s" in stderr
    assert "use --clock arrival --window-seconds 60, or another --data-dir" in stderr
    assert "process" not in stderr
