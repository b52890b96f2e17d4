"""Replay progress counts the bytes of the rows sent, not the bytes pyarrow has read ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxi_stream.sources.replay import files
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.progress import Progress
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
BLOCK_BYTES = 65_536  # the 1 MB sample in some 16 blocks


def row_ends(path: Path) -> list[int]:
    """The byte offset just past each data row (index 0: row 1), header left out."""
    ends, offset = [], 0
    with path.open("rb") as f:
        for line in f:
            offset += len(line)
            ends.append(offset)
    return ends[1:]


def longest_row(path: Path) -> int:
    with path.open("rb") as f:
        return max(len(line) for line in f)


def test_each_csv_block_says_how_far_its_rows_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block's ``done`` is its last row's end over the file's size, to within one row."""
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", BLOCK_BYTES)
    trip_file, columns = open_files([SAMPLE])[0]
    ends, size, slack = row_ends(SAMPLE), SAMPLE.stat().st_size, longest_row(SAMPLE)
    blocks = [block for block in trip_file.blocks(columns) if len(block.rows)]
    assert len(blocks) > 10
    for block in blocks:
        reached = ends[int(block.rows[-1]) - 1]
        assert abs(block.done * size - reached) <= slack, (block.rows[-1], block.done)


def test_progress_after_a_limit_is_the_share_of_the_bytes_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--limit 3000 of a file read in many blocks: every line shows at most the bytes sent."""
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", BLOCK_BYTES)
    seen: list[Progress] = []
    options = ReplayOptions(speedup=None, batch_size=100, limit=3000)
    Replayer(open_files([SAMPLE]), options, Captured(), tick=seen.append, tick_every_s=0).run()
    size, slack = SAMPLE.stat().st_size, longest_row(SAMPLE)
    ends = row_ends(SAMPLE)
    for progress in seen:
        sent_bytes = ends[progress.rows_sent - 1] if progress.rows_sent else 0
        assert progress.fraction * size <= sent_bytes + slack, progress
    assert seen[-1].rows_sent == 3000
    assert abs(seen[-1].fraction * size - ends[2999]) <= slack
