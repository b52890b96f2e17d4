"""A CSV row pyarrow cannot hand over (bad field count, no UTF-8): a dead letter, the rest go."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from taxi_stream.sources.replay import files
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured, verdict

SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"


def sample_lines(count: int) -> list[bytes]:
    """The sample's header line and its first ``count`` data lines, without line endings."""
    return SAMPLE.read_bytes().splitlines()[: count + 1]


def data_rows(content: bytes) -> list[bytes]:
    """The file's data rows as a CSV reader sees them: lines after the header, blank ones not."""
    return [line for line in re.split(rb"\r\n|\r|\n", content)[1:] if line]


def replay(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Captured, int, list[object]]:
    """Replay the file unpaced into a capture: its entries, rows read, exceptions ignored."""
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    put = Captured()
    result = Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    assert result.error is None
    return put, sum(f.read for f in result.files), ignored


def test_a_short_row_that_is_no_utf8_is_dead_lettered_and_every_other_row_sent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """2 rows, then \\xff\\xfe\\x00garbage, then 46 rows: 48 trips + 1 dead letter, no traceback."""
    header, *good = sample_lines(48)
    content = b"\n".join([header, *good[:2], b"\xff\xfe\x00garbage", *good[2:]]) + b"\n"
    path = tmp_path / "shortbin.csv"
    path.write_bytes(content)
    put, read, ignored = replay(path, monkeypatch)
    assert ignored == []
    assert "Traceback" not in capfd.readouterr().err
    assert [key for key, _ in put.entries] == [str(n) for n in range(1, 50)]
    verdicts = [verdict(data) for _, data in put.entries]
    assert verdicts == [None, None, "not_utf8"] + [None] * 46
    assert b"\xff\xfe\\u0000garbage" in put.entries[2][1]
    assert read == len(data_rows(content)) == 49


def test_3000_random_bytes_mid_file_are_dead_lettered_and_every_good_row_sent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random bytes (no quote) after row 300 of 600, 16 kB blocks: each good row is a trip."""
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", 16_384)
    noise = bytes(b for b in random.Random(7).randbytes(3_200) if b != ord('"'))[:3_000]
    header, *good = sample_lines(600)
    content = b"\n".join([header, *good[:300], noise, *good[300:]]) + b"\n"
    path = tmp_path / "noisy.csv"
    path.write_bytes(content)
    rows = data_rows(content)
    put, read, ignored = replay(path, monkeypatch)
    assert ignored == []
    assert "Traceback" not in capfd.readouterr().err
    verdicts = [verdict(data) for _, data in put.entries]
    trips = verdicts.count(None)
    assert trips == 600
    assert read == len(rows) == trips + (len(verdicts) - trips)
    assert sorted(int(key) for key, _ in put.entries) == list(range(1, len(rows) + 1))
    assert len(rows) > 601  # the noise is more than one row, each one a dead letter
    assert verdicts[:300] == [None] * 300
    assert verdicts[-300:] == [None] * 300


def test_the_csv_module_reads_rows_as_pyarrow_does(tmp_path: Path) -> None:
    """Quotes, empty cells, empty lines, CRLF, a short row, a \\xff cell: same rows, numbers."""
    header = b"VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"
    lines = [
        b"1,2024-11-01 00:00:00,2024-11-01 00:00:30,1,1.5",
        b"",
        b'"2","2024-11-01 00:01:00",2024-11-01 00:01:30,"1,5","say ""hi"""\r',
        b"1,2024-11-01 00:02:00,,,",
        b"only,three,cells",
        b"1,2024-11-01 00:03:00,2024-11-01 00:03:30,1\xff,1.5",
        b"\r",
        b"2,2024-11-01 00:04:00,2024-11-01 00:04:30,2,2.5",
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\n".join([header, *lines]) + b"\n")
    trip_file, columns = open_files([path])[0]
    canonical = list(columns.names)
    wanted = [columns.names[name] for name in canonical]

    def seen(blocks: list[files.Block]) -> tuple[list[tuple[int, object]], object, object]:
        good = [
            (int(n), cells)
            for b in blocks
            for n, cells in zip(
                b.rows, zip(*b.batch.to_pydict().values(), strict=True), strict=True
            )
        ]
        bad = [m for b in blocks for m in b.malformed]
        not_utf8 = [u for b in blocks for u in b.not_utf8]
        return good, bad, not_utf8

    arrow = seen(list(trip_file.blocks(columns)))
    python = seen(list(files._python_csv_blocks(path, path.stat().st_size, wanted, canonical, 1)))
    assert python == arrow
    assert [n for n, _ in arrow[0]] == [1, 3, 4, 8]  # the file's own: empty lines are rows
