"""A not_utf8 dead letter names the replayed row its id gives, read from the bytes before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_values
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

HEADER = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"
GOOD = "2,2024-11-01 00:00:00,2024-11-01 00:10:00,1,1.5"


def letter(data: bytes) -> tuple[str, str]:
    """The consumer's (reason, message) for these bytes."""
    with pytest.raises(RecordError) as caught:
        decode_values(data)
    return caught.value.reason, caught.value.message


def test_a_replayed_cell_that_is_no_utf8_names_its_row(tmp_path: Path) -> None:
    """Row 2 of u8.csv holds a \\xff: its letter says row 2 of u8.csv and the byte."""
    path = tmp_path / "u8.csv"
    bad = GOOD.replace(",1,1.5", ",1\xff,1.5").encode("latin-1")
    path.write_bytes(b"\n".join([HEADER.encode(), GOOD.encode(), bad]) + b"\n")
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    data = put.entries[1][1]
    at = data.index(b"\xff")
    assert letter(data) == ("not_utf8", f"row 2 of u8.csv: not UTF-8 at byte {at}")


def test_a_malformed_csv_row_that_is_no_utf8_names_its_row(tmp_path: Path) -> None:
    """A row of the wrong width with a \\xff (read on by the csv module) is named too."""
    path = tmp_path / "w.csv"
    path.write_bytes(b"\n".join([HEADER.encode(), GOOD.encode(), b"2,\xff"]) + b"\n")
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    reason, message = letter(put.entries[1][1])
    assert reason == "not_utf8"
    assert message.startswith("row 2 of w.csv: not UTF-8 at byte ")


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b'{"id":"t.parquet:7","vendorId":"\xff"}', "row 7 of t.parquet: "),
        (b' { "id" : "t.csv:12" , "x":"\xfe"}', "row 12 of t.csv: "),
        (b'{"id":"caf\\u00e9.csv:3","x":"\xff"}', "row 3 of caf\u00e9.csv: "),
        (b'{"id":"t.csv:7\xff"}', ""),  # the id itself is cut by the bad byte
        (b'{"id":"\xfft.csv:7"}', ""),
        (b'{"vendorId":1,"id":"t.csv:7","x":"\xff"}', ""),  # the id is not first
        (b'{"id":"urn:trip:12345","x":"\xff"}', ""),  # no file name replay gives
        (b'{"id":7,"x":"\xff"}', ""),
        (b'{"id":"t.csv:7\\"","x":"\xff"}', ""),  # escaped quote: t.csv:7" is no row
        (b'{"id":"t.csv:0","x":"\xff"}', ""),
        (b"\xff", ""),
        (b'{"id":"t.csv:7', ""),  # no bad byte at all: not JSON, not this letter
    ],
)
def test_only_an_id_of_replays_form_before_the_bad_byte_names_a_row(
    data: bytes, named: str
) -> None:
    """The prefix appears exactly when the record opens with replay's id, whole and UTF-8."""
    reason, message = letter(data)
    if data.endswith(b"7"):
        assert reason == "not_json"
        return
    at = next(i for i in range(len(data) + 1) if not _decodes(data[: i + 1]))
    assert (reason, message) == ("not_utf8", f"{named}not UTF-8 at byte {at}")


def _decodes(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return True


def test_a_record_that_is_utf8_keeps_its_other_letters() -> None:
    """A record that decodes is judged as ever: this one is not JSON, with no row to name."""
    assert letter(json.dumps({"id": "t.csv:1"}).encode()[:-1])[0] == "not_json"
