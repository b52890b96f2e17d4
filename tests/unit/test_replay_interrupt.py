"""An interrupted replay says where it stands and how to go on, with the flags it was given."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli import main
from taxi_stream.cli.replay import replay as replay_command
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.progress import Progress
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
BATCH = 100


class Ticks:
    """Every progress the replay gives, and a stop asked once ``after`` puts have gone."""

    def __init__(self, put: Captured, after: int) -> None:
        self.put, self.after = put, after
        self.seen: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        self.seen.append(progress)

    def stop(self) -> bool:
        return len(self.put.entries) >= self.after * BATCH


def test_progress_after_an_interrupt_stays_where_the_replay_got(tmp_path: Path) -> None:
    """Stopped after 30 batches of the one-block sample, the last line is not back at 0 %."""
    put = Captured()
    ticks = Ticks(put, after=30)
    options = ReplayOptions(speedup=None, batch_size=BATCH)
    replayer = Replayer(
        open_files([SAMPLE]), options, put, stop=ticks.stop, tick=ticks, tick_every_s=0
    )
    result = replayer.run()
    assert result.stopped
    last = ticks.seen[-1]
    assert last.rows_sent == 30 * BATCH
    assert last.fraction >= max(p.fraction for p in ticks.seen[:-1])
    assert last.fraction > 0.25  # 3,000 of the 10,000 rows: past a quarter of the bytes


class QuitOnPut(Captured):
    """A put that a second Ctrl-C interrupts on its ``nth`` call."""

    def __init__(self, nth: int) -> None:
        super().__init__()
        self.nth, self.calls = nth, 0

    def __call__(self, batch: list[tuple[str, bytes]]) -> Captured:
        self.calls += 1
        if self.calls == self.nth:
            raise KeyboardInterrupt
        return super().__call__(batch)


def test_a_quit_mid_put_goes_on_from_the_batch_in_flight() -> None:
    """Interrupted in its 3rd put: rows 1-200 are sent, so it goes on from row 201."""
    put = QuitOnPut(3)
    replayer = Replayer(open_files([SAMPLE]), ReplayOptions(None, batch_size=BATCH), put)
    with pytest.raises(KeyboardInterrupt):
        replayer.run()
    sent = [json.loads(data)["id"] for _, data in put.entries]
    assert sent[-1] == f"{SAMPLE.name}:200"
    assert replayer.unsent() == (SAMPLE.name, 201)


def test_the_json_lines_pointer_keeps_the_flags_given(tmp_path: Path) -> None:
    """replay --data-dir 'my data' --shards 2 on JSON lines points at produce with both."""
    trips = tmp_path / "my trips.jsonl"
    trips.write_text('{"id":"t-1","vendorId":2}\n')
    data = tmp_path / "my data"
    args = ["--data-dir", str(data), "--shards", "2", "--quiet", str(trips)]
    done = CliRunner().invoke(replay_command, args)
    assert done.exit_code == 1
    assert done.output.strip().endswith(
        f"send JSON lines with: taxi-stream produce --data-dir '{data}' --shards 2 --from '{trips}'"
    )
    assert not data.exists()  # nothing was opened, nothing sent


def test_a_replay_stopped_short_prints_the_whole_command_that_goes_on(tmp_path: Path) -> None:
    """Stopped by --limit in a data dir with a space, it prints a command line that, pasted
    (split as a shell splits it), sends the next rows from where it stopped."""
    data = tmp_path / "my data"
    args = [str(SAMPLE), "--data-dir", str(data), "--limit", "250", "--as-fast-as-possible"]
    first = CliRunner().invoke(main, ["replay", *args, "--produce-only"], prog_name="taxi-stream")
    (line,) = [line for line in first.output.splitlines() if "that is: " in line]
    words = shlex.split(line.split("that is: ", 1)[1])
    assert words[:2] == ["taxi-stream", "replay"]
    assert words[-2:] == ["--resume", f"{SAMPLE.name}:251"]
    again = CliRunner().invoke(main, words[1:], prog_name="taxi-stream")
    assert "from row 251, read 250 rows, sent 250 records" in again.output, again.output
    assert data.exists()


def test_the_command_that_goes_on_runs_for_a_file_named_like_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file given as ``-- -trips.csv`` (its name starts with a dash): the printed command,
    pasted, reads that file again from where it stopped, not a flag -t."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-trips.csv").write_bytes(SAMPLE.read_bytes())
    args = ["--data-dir", "data", "--limit", "250", "--as-fast-as-possible", "--produce-only"]
    first = CliRunner().invoke(main, ["replay", *args, "--", "-trips.csv"], prog_name="taxi-stream")
    (line,) = [line for line in first.output.splitlines() if "that is: " in line]
    words = shlex.split(line.split("that is: ", 1)[1])
    again = CliRunner().invoke(main, words[1:], prog_name="taxi-stream")
    assert "from row 251, read 250 rows, sent 250 records" in again.output, again.output


@pytest.mark.parametrize("where", ["trips [copy].csv", "in[/trips].csv"])
def test_a_path_with_brackets_is_printed_as_it_is(tmp_path: Path, where: str) -> None:
    """Square brackets in a file's path are no terminal markup: the --resume and the command
    that goes on name that very file (not ``trips .csv``), and nothing fails as they print."""
    source = tmp_path / where
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(SAMPLE.read_bytes())
    args = ["replay", str(source), "--data-dir", str(tmp_path / "d"), "--limit", "250"]
    first = CliRunner().invoke(main, [*args, "--as-fast-as-possible", "--produce-only"])
    assert first.exit_code == 0, first.output
    assert f"to go on: --resume {source.name}:251" in first.output
    (line,) = [line for line in first.output.splitlines() if "that is: " in line]
    words = shlex.split(line.split("that is: ", 1)[1])
    assert (words[2], words[-1]) == (str(source), f"{source.name}:251")
