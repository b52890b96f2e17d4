"""Replay at the edges: huge cells, bytes that are no UTF-8, read errors, odd resumes, progress."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.core.errors import RecordError, SourceError
from taxi_stream.function.codec import decode_values
from taxi_stream.sources.replay import files
from taxi_stream.sources.replay.files import Block
from taxi_stream.sources.replay.layouts import Columns, detect
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.progress import Progress
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured, verdict

HEADER = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"
MIB = 1_048_576


def row(minute: int, vendor: str = "1") -> str:
    """A TLC line picked up at 2024-11-01 00:00 plus ``minute`` minutes, 30 s long."""
    hh, mm = divmod(minute % 1440, 60)
    return f"{vendor},2024-11-01 {hh:02d}:{mm:02d}:00,2024-11-01 {hh:02d}:{mm:02d}:30,1,1.5"


def write(path: Path, lines: list[str]) -> Path:
    """A CSV file with the TLC header and these lines."""
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def test_a_row_over_the_record_limit_goes_as_the_oversize_envelope(tmp_path: Path) -> None:
    """A 1.2 MB cell: the row is sent as the marker (line, source, head), dead letter too_large."""
    huge = "x" * 1_200_000
    path = write(tmp_path / "big.csv", [row(0), row(1, vendor=huge), row(2)])
    put = Captured()
    result = Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    assert [len(key) + len(data) <= MIB for key, data in put.entries] == [True, True, True]
    assert [verdict(data) for _, data in put.entries] == [None, "too_large", None]
    marker = json.loads(put.entries[1][1])["taxiStreamOversize"]
    assert (marker["line"], marker["source"]) == (2, "big.csv")
    assert marker["bytes"] > 1_200_000
    assert base64.b64decode(marker["headBase64"]).startswith(b'{"id":"big.csv:2"')
    assert [(f.read, f.sent, f.failed) for f in result.files] == [(3, 3, 0)]


def test_the_dead_letter_of_an_oversize_row_names_the_row(tmp_path: Path) -> None:
    """The too_large dead letter of a 1.2 MB CSV row says row 2 of the file, not line 2, and
    that the row makes a record of that size."""
    path = write(tmp_path / "big.csv", [row(0), row(1, vendor="x" * 1_200_000)])
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    made = r"^too_large: row 2 of big\.csv makes a record of 1,2\d\d,\d\d\d bytes"
    with pytest.raises(RecordError, match=made):
        decode_values(put.entries[1][1])


def test_a_row_with_bytes_that_are_no_utf8_is_sent_and_the_replay_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 250 of 300 (in a later 4 kB block) has a \\xff: every row sent, that one not_utf8."""
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", 4_096)
    lines = [row(minute).encode() for minute in range(300)]
    lines[249] = lines[249].replace(b",1,1.5", b",1\xff,1.5")
    path = tmp_path / "u8.csv"
    path.write_bytes(b"\n".join([HEADER.encode(), *lines]) + b"\n")
    put = Captured()
    result = Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    assert [key for key, _ in put.entries] == [str(n) for n in range(1, 301)]
    verdicts = [verdict(data) for _, data in put.entries]
    assert verdicts == [None] * 249 + ["not_utf8"] + [None] * 50
    bad = put.entries[249][1]
    assert bad.startswith(b'{"id":"u8.csv:250"')
    assert b"1\xff" in bad
    assert [(f.read, f.sent) for f in result.files] == [(300, 300)]


def test_a_read_error_mid_file_keeps_what_was_read_and_names_the_next_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first block is sent, the error is reported, the resume point is the next row."""
    path = write(tmp_path / "t.csv", [row(minute) for minute in range(10)])
    opened = open_files([path])
    trip_file, _columns = opened[0]
    real = trip_file.blocks

    def failing(columns: Columns) -> Iterator[Block]:
        first = next(real(columns))
        yield Block(first.batch.slice(0, 4), first.rows[:4], 0.4)
        raise SourceError("cannot read t.csv: broken")

    monkeypatch.setattr(trip_file, "blocks", failing)
    put = Captured()
    result = Replayer(opened, ReplayOptions(speedup=None), put).run()
    assert [key for key, _ in put.entries] == ["1", "2", "3", "4"]
    assert result.error == "cannot read t.csv: broken"
    assert result.next_row == ("t.csv", 5)
    assert not result.stopped
    assert [(f.read, f.sent) for f in result.files] == [(4, 4)]


def test_an_unknown_header_is_listed_short(tmp_path: Path) -> None:
    """At most 20 columns, each cut to 40 characters, then how many more."""
    with pytest.raises(SourceError) as deep:
        detect(["[" * 10_000], "deep.jsonl")
    assert "[" * 41 not in str(deep.value)
    assert len(str(deep.value)) < 1_000
    with pytest.raises(SourceError) as wide:
        detect([f"col{i}" for i in range(30)], "wide.csv")
    message = str(wide.value)
    assert "col19" in message
    assert "col20" not in message
    assert "and 10 more" in message


def test_resume_takes_the_name_the_path_as_given_or_the_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each spelling of the one file resumes at its row; a file not given is refused."""
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    given = Path("sub/t.csv")
    write(tmp_path / given, [row(minute) for minute in range(5)])
    spellings = ["t.csv", "sub/t.csv", "./sub/../sub/t.csv", str(tmp_path / "sub" / "t.csv")]
    for spelling in spellings:
        put = Captured()
        options = ReplayOptions(speedup=None, resume=(spelling, 4))
        result = Replayer(open_files([given]), options, put).run()
        assert [key for key, _ in put.entries] == ["4", "5"], spelling
        assert [(f.name, f.first_row) for f in result.files] == [("t.csv", 4)]
    with pytest.raises(SourceError, match="not among the files"):
        Replayer(open_files([given]), ReplayOptions(None, resume=("other.csv", 1)), Captured())


def progress(**overrides: Any) -> Progress:
    """A snapshot of a long replay with long numbers and a long file name."""
    values: dict[str, Any] = {
        "file": "yellow_tripdata_2024-11_first10k_with_a_long_name.csv",
        "rows_read": 12_345_678,
        "rows_sent": 12_345_000,
        "elapsed_s": 3_600.0,
        "event_ms": 1_730_436_384_000,  # 2024-11-01T04:46:24Z
        "lag_s": 12.5,
        "fraction": 0.42,
    }
    return Progress(**{**values, **overrides})


def test_the_progress_line_fits_80_columns_and_keeps_the_counts() -> None:
    """Long numbers and names: at most 80 characters, with rows sent, done and the ETA."""
    line = progress().line()
    assert len(line) <= 80
    assert "12,345,000 sent" in line
    assert "42%" in line
    assert "ETA " in line
    assert "2024-11-01 00:46:24" in line  # New York time of the pickup
    narrow = progress().line(40)
    assert len(narrow) <= 40
    assert "12,345,000 sent" in narrow


def test_no_eta_before_enough_is_read_to_tell_a_pace() -> None:
    """0.1% read after half a second: no ETA; 42% after an hour: 3600 * 58 / 42 s left."""
    assert progress(elapsed_s=0.5, fraction=0.001).eta_s is None
    assert progress(elapsed_s=0.5, fraction=0.5).eta_s is None
    assert progress().eta_s == pytest.approx(3_600 * 0.58 / 0.42)


def test_an_unpaced_replay_shows_the_event_time_and_ends_with_all_sent(tmp_path: Path) -> None:
    """--as-fast-as-possible: the last tick has every record sent and the last pickup."""
    path = write(tmp_path / "t.csv", [row(minute) for minute in range(101)])
    ticks: list[Progress] = []
    Replayer(open_files([path]), ReplayOptions(speedup=None), Captured(), tick=ticks.append).run()
    last = ticks[-1]
    assert (last.rows_read, last.rows_sent) == (101, 101)
    # row 101: 2024-11-01 01:40 in New York, EDT (UTC-4), is 05:40 UTC
    assert last.event_ms == 1_730_439_600_000
    assert "2024-11-01 01:40:00" in last.line()
