"""Each file row becomes one wire record; a row that cannot map is sent, for the consumer."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from taxi_stream.core.errors import RecordError, SourceError
from taxi_stream.function.codec import decode_trip
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files

GOOD_CELLS = {
    "VendorID": "2",
    "tpep_pickup_datetime": "2025-01-01 00:10:00",
    "tpep_dropoff_datetime": "2025-01-01 00:25:30",
    "passenger_count": "1.0",
    "trip_distance": "3.30",
    "RatecodeID": "1",
    "store_and_fwd_flag": "N",
    "PULocationID": "161",
    "DOLocationID": "237",
    "payment_type": "1",
    "fare_amount": "12.80",
    "extra": "1",
    "mta_tax": "0.5",
    "tip_amount": "-0.5",
    "tolls_amount": "0",
    "improvement_surcharge": "1",
    "total_amount": "17.80",
    "congestion_surcharge": "2.5",
    "Airport_fee": "0",
    "cbd_congestion_fee": "0.75",
}


def tlc_row(**cells: str) -> str:
    """A 2025 TLC CSV line: the good row with some cells changed."""
    return ",".join({**GOOD_CELLS, **cells}.values())


GOOD = tlc_row()
TLC_HEADER = ",".join(GOOD_CELLS)


@dataclass
class Captured:
    """A put that keeps every entry, as the stream would."""

    entries: list[tuple[str, bytes]] = field(default_factory=list)
    sent: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    def __call__(self, batch: list[tuple[str, bytes]]) -> Captured:
        self.entries += batch
        self.sent = len(batch)
        return self


def replay(*paths: Path, **options: Any) -> list[dict[str, Any]]:
    """The records replaying these files sends, decoded."""
    put = Captured()
    Replayer(open_files(list(paths)), ReplayOptions(speedup=None, **options), put).run()
    return [json.loads(data) for _, data in put.entries]


def csv_file(tmp_path: Path, *lines: str, name: str = "trips.csv") -> Path:
    """A TLC 2025 CSV file with these data lines."""
    path = tmp_path / name
    path.write_text("\n".join([TLC_HEADER, *lines]) + "\n")
    return path


def reason(record: dict[str, Any]) -> str | None:
    """The consumer's verdict: None for a trip it counts, else the reason it dead-letters."""
    try:
        decode_trip(json.dumps(record).encode())
    except RecordError as exc:
        return exc.reason
    return None


def test_a_2025_row_maps_field_by_field(tmp_path: Path) -> None:
    """Times with their offset, duration from the two times, money as written, zones."""
    (record,) = replay(csv_file(tmp_path, GOOD))
    assert record == {
        "id": "trips.csv:1",
        "vendorId": 2,
        "pickupDate": "2025-01-01T00:10:00-05:00",
        "dropoffDate": "2025-01-01T00:25:30-05:00",
        "passengerCount": 1,
        "storeAndFwdFlag": "N",
        "tripDuration": 930,
        "googleDistance": 3.3,
        "fareAmount": 12.8,
        "tipAmount": -0.5,
        "totalAmount": 17.8,
        "puLocationId": 161,
        "doLocationId": 237,
    }
    assert reason(record) is None


def test_money_is_sent_as_the_file_writes_it(tmp_path: Path) -> None:
    """12.80 stays 12.80 on the wire, character for character (no float round trip)."""
    put = Captured()
    Replayer(open_files([csv_file(tmp_path, GOOD)]), ReplayOptions(None), put).run()
    data = put.entries[0][1].decode()
    assert '"fareAmount":12.80,' in data
    assert '"googleDistance":3.30,' in data


@pytest.mark.parametrize(
    ("cells", "why"),
    [
        ({"VendorID": ""}, "missing_vendor"),
        ({"tpep_pickup_datetime": ""}, "missing_field"),
        ({"tpep_dropoff_datetime": ""}, "missing_field"),
        ({"tpep_dropoff_datetime": "2025-01-01 00:05:00"}, "bad_duration"),
        ({"tpep_dropoff_datetime": "2025-01-03 00:05:00"}, "bad_duration"),
        ({"trip_distance": "-3.3"}, "bad_distance"),
        ({"trip_distance": "98765.4"}, "bad_distance"),
        ({"trip_distance": ""}, "missing_field"),
        ({"trip_distance": "three"}, "bad_number"),
        ({"passenger_count": "1.5"}, "bad_passenger_count"),
        ({"tpep_pickup_datetime": "2025-02-30 00:10:00"}, "bad_timestamp"),
        ({"store_and_fwd_flag": "X"}, "bad_store_and_fwd_flag"),
    ],
)  # fmt: skip
def test_a_row_that_cannot_map_is_sent_for_the_consumer_to_reject(
    tmp_path: Path, cells: dict[str, str], why: str
) -> None:
    """No row is dropped: it is sent, without the field it lacks, and rejected for its reason."""
    records = replay(csv_file(tmp_path, GOOD, tlc_row(**cells), GOOD))
    assert [r["id"] for r in records] == ["trips.csv:1", "trips.csv:2", "trips.csv:3"]
    assert [reason(r) for r in records] == [None, why, None]


def test_far_off_pickups_are_sent_as_they_are(tmp_path: Path) -> None:
    """TLC files hold 2008 and 2088 trips: each is still one record with its own time."""
    rows = [
        tlc_row(tpep_pickup_datetime=f"{day} 00:10:00", tpep_dropoff_datetime=f"{day} 00:20:00")
        for day in ("2008-12-31", "2088-01-01")
    ]
    records = replay(csv_file(tmp_path, *rows))
    assert [r["pickupDate"] for r in records] == [
        "2008-12-31T00:10:00-05:00",
        "2088-01-01T00:10:00-05:00",
    ]


def test_the_repeated_autumn_hour_keeps_dropoff_after_pickup(tmp_path: Path) -> None:
    """Pickup 01:50 (EDT, first), dropoff 01:10 can only be the second 01:10 (EST): 20 minutes."""
    day = "2024-11-03"
    both_first = tlc_row(
        tpep_pickup_datetime=f"{day} 01:10:00", tpep_dropoff_datetime=f"{day} 01:50:00"
    )
    flipped = tlc_row(
        tpep_pickup_datetime=f"{day} 01:50:00", tpep_dropoff_datetime=f"{day} 01:10:00"
    )
    plain, second = replay(csv_file(tmp_path, both_first, flipped))
    assert (plain["pickupDate"], plain["dropoffDate"], plain["tripDuration"]) == (
        f"{day}T01:10:00-04:00",
        f"{day}T01:50:00-04:00",
        2400,
    )
    assert (second["pickupDate"], second["dropoffDate"], second["tripDuration"]) == (
        f"{day}T01:50:00-04:00",
        f"{day}T01:10:00-05:00",
        1200,
    )


def test_2009_vendor_names_become_the_later_codes(tmp_path: Path) -> None:
    """CMT is 1 and VTS is 2, as in the later TLC dictionary; DDS stays a name."""
    header = (
        "vendor_name,Trip_Pickup_DateTime,Trip_Dropoff_DateTime,Passenger_Count,Trip_Distance,"
        "Start_Lon,Start_Lat,Rate_Code,store_and_forward,End_Lon,End_Lat,Payment_Type,Fare_Amt,"
        "surcharge,mta_tax,Tip_Amt,Tolls_Amt,Total_Amt"
    )
    row = (
        "{},2009-01-04 02:52:00,2009-01-04 03:02:00,1,2.63,-73.991957,40.721567,,,-73.993803,"
        "40.695922,CASH,8.9,0.5,,0,0,9.4"
    )
    path = tmp_path / "yellow_tripdata_2009-01.csv"
    path.write_text("\n".join([header, *(row.format(v) for v in ("CMT", "VTS", "DDS"))]))
    records = replay(path)
    assert [r["vendorId"] for r in records] == [1, 2, "DDS"]
    assert records[0]["pickupLongitude"] == -73.991957
    assert "storeAndFwdFlag" not in records[0]
    assert [reason(r) for r in records] == [None, None, None]


def test_a_csv_row_with_the_wrong_number_of_fields_is_sent_as_its_raw_text(tmp_path: Path) -> None:
    """It keeps its row number (the rows after it, an empty line's too, keep theirs) and is
    dead-lettered as a CSV row that does not fit its header."""
    records = replay(csv_file(tmp_path, GOOD, GOOD + ",extra", "", GOOD))
    assert [r["id"] for r in records] == ["trips.csv:1", "trips.csv:2", "trips.csv:4"]
    width = len(GOOD_CELLS)
    assert records[1] == {
        "id": "trips.csv:2",
        "csvRow": GOOD + ",extra",
        "csvColumns": width + 1,
        "headerColumns": width,
    }
    assert [reason(r) for r in records] == [None, "bad_csv_row", None]


def test_a_short_csv_row_says_how_many_columns_it_had_of_how_many(tmp_path: Path) -> None:
    """A row of 2 fields under a header of 20 is dead-lettered saying 2 of the header's 20."""
    records = replay(csv_file(tmp_path, GOOD, "2,2025-01-01 00:10:00", GOOD))
    with pytest.raises(RecordError) as caught:
        decode_trip(json.dumps(records[1]).encode())
    assert caught.value.reason == "bad_csv_row"
    assert caught.value.message == (
        f"row 2 of trips.csv has 2 of the header's {len(GOOD_CELLS)} columns; its text is in csvRow"
    )


@pytest.mark.parametrize("fallback", [False, True], ids=["pyarrow", "csv module"])
def test_whitespace_only_csv_rows_are_skipped_as_blank_and_counted(
    tmp_path: Path, fallback: bool
) -> None:
    """Rows of spaces, tabs, \\v or \\f are blank rows, as blank lines for produce --from: not
    sent, counted, and the rows after them keep their numbers (pyarrow or the csv module)."""
    odd = [b"   ", b" \t ", b"\x0b\x0c"]
    lines = [GOOD.encode(), *odd, GOOD.encode()]
    if fallback:  # a short row that is no UTF-8 hands the file to the csv module
        lines.insert(1, b"2,\xff")
    path = tmp_path / "trips.csv"
    path.write_bytes(b"\r\n".join([TLC_HEADER.encode(), *lines]) + b"\r\n")
    put = Captured()
    result = Replayer(open_files([path]), ReplayOptions(speedup=None), put).run()
    ids = [json.loads(data.decode("utf-8", "surrogateescape"))["id"] for _, data in put.entries]
    last = len(lines)
    assert ids == ["trips.csv:1", *(["trips.csv:2"] if fallback else []), f"trips.csv:{last}"]
    (count,) = result.files
    assert (count.read, count.sent, count.blank) == (last, last - 3, 3)


def test_parquet_numbers_are_written_in_their_shortest_form(tmp_path: Path) -> None:
    """Typed columns: whole passenger counts as integers, doubles without float noise."""
    path = tmp_path / "yellow.parquet"
    csv_path = csv_file(tmp_path, GOOD)
    table = pacsv.read_csv(csv_path)
    pq.write_table(table, path)
    (record,) = replay(path)
    assert {k: record[k] for k in ("passengerCount", "fareAmount", "totalAmount", "id")} == {
        "passengerCount": 1,
        "fareAmount": 12.8,
        "totalAmount": 17.8,
        "id": "yellow.parquet:1",
    }
    assert record["pickupDate"] == "2025-01-01T00:10:00-05:00"


def test_dictionary_encoded_parquet_columns_read_as_their_values(tmp_path: Path) -> None:
    """A Parquet file written from pandas categories: flags, vendors and zones as plain values."""
    table = pacsv.read_csv(csv_file(tmp_path, GOOD, GOOD))
    encoded = [  # string categories, as pandas writes them
        pc.dictionary_encode(column.cast(pa.string())) if name in ENCODED else column
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    path = tmp_path / "categories.parquet"
    pq.write_table(pa.table(encoded, names=table.column_names), path)
    records = replay(path)
    assert [(r["vendorId"], r["storeAndFwdFlag"], r["puLocationId"]) for r in records] == [
        (2, "N", 161),
        (2, "N", 161),
    ]
    assert [reason(r) for r in records] == [None, None]


ENCODED = {"VendorID", "store_and_fwd_flag", "PULocationID"}


def test_kaggle_distance_is_the_great_circle_of_the_coordinates() -> None:
    """gcDistance = haversine in miles (radius 3958.8); tripDuration is the file's own."""
    kaggle = Path(__file__).parents[1] / "data" / "kaggle_trip_duration_train_first1k.csv"
    records = replay(kaggle)
    assert len(records) == 1000
    first = records[0]
    p1, p2 = math.radians(40.76793670654297), math.radians(40.765602111816406)
    dl = math.radians(-73.96463012695312 - -73.98215484619139)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    assert first["gcDistance"] == pytest.approx(3958.8 * 2 * math.asin(math.sqrt(a)), rel=1e-12)
    assert (first["id"], first["tripDuration"], first["vendorId"]) == (
        "kaggle_trip_duration_train_first1k.csv:1",
        455,
        2,
    )
    assert "googleDistance" not in first


def test_files_that_cannot_be_replayed_are_one_line_errors(tmp_path: Path) -> None:
    """An empty file, a file without a header, two files of one name: refused before sending."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="is empty"):
        open_files([empty])
    blank = tmp_path / "blank.csv"
    blank.write_text("\n1,2\n")
    with pytest.raises(SourceError, match="no header line"):
        open_files([blank])
    (tmp_path / "a").mkdir()
    twin = csv_file(tmp_path / "a", GOOD)
    with pytest.raises(SourceError, match=r"two files named trips\.csv"):
        open_files([csv_file(tmp_path, GOOD), twin])
