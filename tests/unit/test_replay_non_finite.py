"""NaN, infinity and null in a Parquet double column: the verdict of the equivalent JSON record."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_stream.core.errors import RecordError
from taxi_stream.core.trip import parse_trip
from taxi_stream.function.codec import decode_trip
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

ROW: dict[str, float] = {
    "VendorID": 2.0,
    "passenger_count": 1.0,
    "trip_distance": 1.5,
    "fare_amount": 10.0,
    "tip_amount": 2.0,
    "total_amount": 12.0,
}
WIRE = {
    "VendorID": "vendorId",
    "passenger_count": "passengerCount",
    "trip_distance": "googleDistance",
    "fare_amount": "fareAmount",
    "tip_amount": "tipAmount",
    "total_amount": "totalAmount",
}
ODD = [math.nan, math.inf, -math.inf, None]


def replayed_verdict(tmp_path: Path, column: str, value: float | None) -> tuple[str, str] | None:
    """(reason, message) the consumer gives the record replaying this row sends; None: a trip."""
    cells: dict[str, Any] = {**ROW, column: value}
    table = pa.table(
        {
            "tpep_pickup_datetime": pa.array(["2024-11-01 00:00:00"]).cast(pa.timestamp("us")),
            "tpep_dropoff_datetime": pa.array(["2024-11-01 00:10:00"]).cast(pa.timestamp("us")),
            **{name: pa.array([cell], pa.float64()) for name, cell in cells.items()},
        }
    )
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(None), put).run()
    ((_, data),) = put.entries
    try:
        decode_trip(data)
    except RecordError as exc:
        return exc.reason, exc.message
    return None


def json_verdict(column: str, value: float | None) -> tuple[str, str] | None:
    """(reason, message) of core/trip.py's parse of the JSON record this row stands for.

    A vendor of NaN or infinity is no vendor id: that record's vendorId is null. Any other
    double goes as Python's JSON writes it (NaN, Infinity), read back as the float it was.
    """
    record: dict[str, Any] = {
        "id": "odd.parquet:1",
        "vendorId": 2,
        "pickupDate": "2024-11-01T00:00:00-04:00",
        "dropoffDate": "2024-11-01T00:10:00-04:00",
        "tripDuration": 600,
        **{WIRE[name]: cell for name, cell in ROW.items() if name != "VendorID"},
    }
    record[WIRE[column]] = None if column == "VendorID" else value
    try:
        parse_trip(json.loads(json.dumps(record)))
    except RecordError as exc:
        return exc.reason, exc.message
    return None


@pytest.mark.parametrize("column", list(WIRE))
@pytest.mark.parametrize("value", ODD, ids=["nan", "inf", "-inf", "null"])
def test_a_non_finite_or_null_double_gets_the_json_records_verdict(
    tmp_path: Path, column: str, value: float | None
) -> None:
    """The replayed row is dead-lettered (or counted) for the reason its JSON record is."""
    got, expected = replayed_verdict(tmp_path, column, value), json_verdict(column, value)
    assert (got is None) == (expected is None)
    if got is not None and expected is not None:
        assert got[0] == expected[0]
    if column == "VendorID":  # no vendor: the very letter a null vendorId gets, row named
        assert got == expected == ("missing_vendor", "row 1 of odd.parquet: vendorId is missing")


def test_the_usual_row_is_a_trip_both_ways(tmp_path: Path) -> None:
    """The row the table starts from is a trip, replayed and as JSON: the table can tell."""
    assert replayed_verdict(tmp_path, "VendorID", 2.0) is None
    assert json_verdict("passenger_count", 1.0) is None


def csv_vendor_verdict(tmp_path: Path, cell: str) -> tuple[str, str] | None:
    """(reason, message) the consumer gives a replayed CSV row whose VendorID cell is ``cell``."""
    path = tmp_path / "odd.csv"
    header = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"
    path.write_text(f'{header}\n"{cell}",2024-11-01 00:00:00,2024-11-01 00:10:00,1,1.5\n')
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(None), put).run()
    ((_, data),) = put.entries
    try:
        decode_trip(data)
    except RecordError as exc:
        return exc.reason, exc.message
    return None


@pytest.mark.parametrize("cell", ["nan", "NaN", " nan ", "-inf", "+Infinity", "INF"])
def test_a_csv_vendor_cell_of_nan_or_infinity_is_no_vendor_as_in_parquet(
    tmp_path: Path, cell: str
) -> None:
    """NaN or infinity written as text in a CSV VendorID: missing_vendor, as the Parquet double
    is (and a JSON record with a null vendorId), not a vendor called 'nan'."""
    assert csv_vendor_verdict(tmp_path, cell) == (
        "missing_vendor",
        "row 1 of odd.csv: vendorId is missing",
    )
    parquet = replayed_verdict(tmp_path, "VendorID", float(cell))
    assert parquet == ("missing_vendor", "row 1 of odd.parquet: vendorId is missing")


@pytest.mark.parametrize("cell", ["nano", "DDS", "inferno", "2"])
def test_a_csv_vendor_name_that_only_looks_like_nan_stays_a_vendor(
    tmp_path: Path, cell: str
) -> None:
    """Names that merely start like nan or inf are vendor ids: the row is a trip."""
    assert csv_vendor_verdict(tmp_path, cell) is None
