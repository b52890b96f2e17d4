"""CSV line ends: CR, LF and CRLF end a line for the header as for the rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxi_stream.core.errors import SourceError
from taxi_stream.sources.replay import files
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

HEADER = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,trip_distance"
LINES = [
    "2,2024-11-01 00:00:00,2024-11-01 00:10:00,1.5",
    "1,2024-11-01 00:01:00,2024-11-01 00:11:00,2.5",
]
PIECES = [b"a", b",", b'"', b"\r", b"\n", b"\xff", b"\x00", b"\xef\xbb\xbf", b" "]


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_every_line_end_reads_the_same_rows(tmp_path: Path, end: str) -> None:
    """A file with CR-only, LF or CRLF line ends sends the same two records."""
    path = tmp_path / "trips.csv"
    path.write_bytes(end.join([HEADER, *LINES, ""]).encode())
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(None), put).run()
    records = [json.loads(data) for _, data in put.entries]
    assert [r["id"] for r in records] == ["trips.csv:1", "trips.csv:2"]
    assert [r["googleDistance"] for r in records] == [1.5, 2.5]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200) | st.lists(st.sampled_from(PIECES)).map(b"".join))
def test_any_header_bytes_give_names_or_a_one_line_error(tmp_path: Path, data: bytes) -> None:
    """The header reader returns names or raises a one-line SourceError, for any bytes."""
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    outcome: list[str] | str
    try:
        outcome = files._csv_header(path)
    except SourceError as exc:
        outcome = str(exc)
    if isinstance(outcome, str):
        assert "\n" not in outcome
    else:
        assert all(isinstance(name, str) for name in outcome)


def test_a_gzip_csv_is_named_as_gzip(tmp_path: Path) -> None:
    """A .csv.gz file gets a one-line error saying it is gzip and to gunzip it."""
    path = tmp_path / "trips.csv.gz"
    path.write_bytes(gzip.compress(f"{HEADER}\n{LINES[0]}\n".encode()))
    with pytest.raises(SourceError, match=r"is gzip-compressed: gunzip it first\Z"):
        files._csv_header(path)


def test_a_semicolon_separated_csv_is_told_its_delimiter(tmp_path: Path) -> None:
    """A header split by ';' and holding no ',' gets a hint at the delimiter."""
    path = tmp_path / "semi.csv"
    path.write_text(HEADER.replace(",", ";") + "\n" + LINES[0].replace(",", ";") + "\n")
    with pytest.raises(SourceError, match=r"separated by ';'.*convert the delimiter to ','"):
        open_files([path])
