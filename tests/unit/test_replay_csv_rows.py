"""A CSV file's rows are accounted as the file has them: empty lines, long rows, open quotes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from taxi_stream.core.errors import RecordError
from taxi_stream.core.trip import parse_trip
from taxi_stream.function.codec import decode_trip
from taxi_stream.sources.replay import files
from taxi_stream.sources.replay.outcomes import FileCount, ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
NOT_UTF8_SHORT = b"2,\xff"  # a short row that is no UTF-8: the csv module reads the rest


def sample(count: int) -> tuple[bytes, list[bytes]]:
    """The sample's header and its first ``count`` data lines."""
    header, *rows = SAMPLE.read_bytes().splitlines()[: count + 1]
    return header, rows


def replay(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FileCount, list[bytes]]:
    """Replay one file unpaced: its count and the records sent, in row order."""
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    put = Captured()
    result = Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    assert result.error is None
    [count] = result.files
    return count, [data for _, data in sorted(put.entries, key=lambda e: int(e[0]))]


def rejection(data: bytes) -> RecordError:
    """The consumer's dead-letter verdict on a record."""
    with pytest.raises(RecordError) as caught:
        decode_trip(data)
    return caught.value


@pytest.mark.parametrize("fallback", [False, True], ids=["pyarrow", "csv module"])
def test_empty_lines_are_blank_rows_and_the_rows_after_keep_the_files_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, fallback: bool
) -> None:
    """An empty line (LF or CRLF) or one of only commas counts as a blank row, as a line of
    spaces does; every other row keeps its line's number after the header."""
    header, rows = sample(6)
    commas = b"," * header.count(b",")  # the header's width, every cell empty
    lines = [rows[0], b"", rows[1], b"\r", commas, b"   ", rows[2], rows[3]]
    if fallback:
        lines.insert(1, NOT_UTF8_SHORT)
    path = tmp_path / "gaps.csv"
    path.write_bytes(b"\n".join([header, *lines]) + b"\n")
    count, sent = replay(path, monkeypatch)
    blank = [n for n, line in enumerate(lines, 1) if not line.strip(b" \r,")]
    expected_ids = [f"gaps.csv:{n}" for n in range(1, len(lines) + 1) if n not in blank]
    assert [json.loads(d.decode("utf-8", "surrogateescape"))["id"] for d in sent] == expected_ids
    assert (count.read, count.blank, count.sent) == (len(lines), len(blank), len(expected_ids))


def test_a_row_with_too_many_columns_is_a_bad_csv_row_that_says_how_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cells more than the header: bad_csv_row, "has 21 of the header's 19 columns"."""
    header, rows = sample(2)
    path = tmp_path / "wide.csv"
    path.write_bytes(b"\n".join([header, rows[0] + b",1,2", rows[1]]) + b"\n")
    _, sent = replay(path, monkeypatch)
    width = len(header.split(b","))
    error = rejection(sent[0])
    assert error.reason == "bad_csv_row"
    assert error.message == (
        f"row 1 of wide.csv has {width + 2} of the header's {width} columns; its text is in csvRow"
    )


@pytest.mark.parametrize("way", ["one block", "16 KiB blocks", "csv module"])
def test_a_quote_that_never_closes_says_its_row_and_how_many_lines_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """Row 300 of 600 opens a quote: rows 1-299 are trips, row 300 one dead letter that names
    itself and the 300 lines it took after it, however the file is read."""
    if way == "16 KiB blocks":
        monkeypatch.setattr(files, "CSV_BLOCK_BYTES", 16_384)
    header, rows = sample(600)
    lines = [*rows]
    lines[299] = b'"' + lines[299]
    if way == "csv module":
        lines[10] = NOT_UTF8_SHORT
    path = tmp_path / "quote.csv"
    path.write_bytes(b"\r\n".join([header, *lines]) + b"\r\n")
    count, sent = replay(path, monkeypatch)
    assert count.read == len(sent) == 300
    assert count.open_quote == (300, 300)
    error = rejection(sent[-1])
    assert (error.reason, error.message) == (
        "bad_csv_row",
        "row 300 of quote.csv opens a quote that never closes: it took the 300 line(s) after"
        " it, to the end of the file; its text is in csvRow",
    )
    assert json.loads(sent[-1])["csvRow"] == lines[299].decode()  # its own line, not the rest
    assert all(json.loads(d).get("vendorId") for i, d in enumerate(sent[:-1]) if i != 10)


def test_field_errors_and_oversize_rows_name_the_row_they_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 2's negative distance and row 3's 1.1 MB cell: each dead letter says which row, and
    the size it gives is the record's, as it says."""
    header, rows = sample(3)
    cells = rows[1].split(b",")
    cells[4] = b"-3.3"  # trip_distance
    huge = rows[2].split(b",")
    huge[6] = b"N" * 1_100_000  # store_and_fwd_flag, far over the record limit
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\n".join([header, rows[0], b",".join(cells), b",".join(huge)]) + b"\n")
    _, sent = replay(path, monkeypatch)
    distance = rejection(sent[1])
    assert (distance.reason, distance.message) == (
        "bad_distance",
        "row 2 of odd.csv: googleDistance -3.3 is outside 0..500 miles",
    )
    envelope = json.loads(sent[2])["taxiStreamOversize"]
    large = rejection(sent[2])
    assert large.reason == "too_large"
    assert large.message.startswith(
        f"row 3 of odd.csv makes a record of {envelope['bytes']:,} bytes, over the 1 MiB"
    )
    assert envelope["bytes"] > 1_100_000  # the record: the row's cells and the JSON around them


def test_an_id_not_in_replays_form_keeps_the_plain_message() -> None:
    """A trip id without a row number after its last colon is not taken for a replayed row."""
    for trip_id in ("t-1", "a:b", "x:", ":5", "f.csv:05", 7):
        record = {"id": trip_id, "vendorId": 2, "pickupDate": "2024-11-01T00:00:00-04:00"}
        record |= {"googleDistance": -1, "tripDuration": 5}
        message = rejection(json.dumps(record).encode()).message
        assert message == "googleDistance -1 is outside 0..500 miles", trip_id


@pytest.mark.parametrize(
    ("record_id", "prefix"),
    [
        ("odd.csv:2", "row 2 of odd.csv: "),
        ("TRIPS.PARQUET:1200", "row 1,200 of TRIPS.PARQUET: "),
        ("urn:trip:12345", ""),
        ("vendor2:17", ""),
        ("odd.csv:02", ""),
        (12345, ""),
    ],
)
def test_only_an_id_of_replays_form_names_a_row(record_id: object, prefix: str) -> None:
    """A field error names a row only for an id `<csv or parquet file>:<row>`, not any `x:N`."""
    fields = {"id": record_id, "vendorId": 1, "pickupDate": "nope"}
    with pytest.raises(RecordError) as caught:
        parse_trip(fields)
    assert caught.value.message == prefix + "pickupDate is not ISO-8601: 'nope'"
