"""Whole-number Parquet columns: a double int64 cannot hold exactly keeps its own value."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_trip
from taxi_stream.sources.replay.outcomes import ReplayOptions
from taxi_stream.sources.replay.replayer import Replayer, open_files
from tests.support.replaying import Captured

BASE: dict[str, Any] = {
    "VendorID": 2.0,
    "passenger_count": 1.0,
    "trip_distance": 1.5,
    "PULocationID": 161.0,
    "DOLocationID": 237.0,
}
WIRE = {
    "VendorID": "vendorId",
    "passenger_count": "passengerCount",
    "PULocationID": "puLocationId",
    "DOLocationID": "doLocationId",
}
ODD = [1e20, -1e20, 2.0**63, -(2.0**63), 2.5, float("nan"), float("inf"), 1e300]


def verdict(data: bytes) -> tuple[str | None, str]:
    """The consumer's reason and message for one record (None, "" for a counted trip)."""
    try:
        decode_trip(data)
    except RecordError as exc:
        return exc.reason, exc.message
    return None, ""


def replayed(tmp_path: Path, column: str, value: float) -> bytes:
    """The one record replaying a Parquet row with this double in ``column`` sends."""
    cells = {**BASE, column: value}
    table = pa.table(
        {
            "VendorID": pa.array([cells["VendorID"]], pa.float64()),
            "tpep_pickup_datetime": pa.array(["2024-11-01 00:00:00"]).cast(pa.timestamp("us")),
            "tpep_dropoff_datetime": pa.array(["2024-11-01 00:10:00"]).cast(pa.timestamp("us")),
            **{k: pa.array([v], pa.float64()) for k, v in cells.items() if k != "VendorID"},
        }
    )
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    put = Captured()
    Replayer(open_files([path]), ReplayOptions(None), put).run()
    ((_, data),) = put.entries
    return data


@pytest.mark.parametrize("column", list(WIRE))
@pytest.mark.parametrize("value", ODD)
def test_a_double_int64_cannot_hold_gets_the_json_paths_verdict(
    tmp_path: Path, column: str, value: float
) -> None:
    """The replayed row is judged as a JSON record with that double is, never wrapped."""
    data = replayed(tmp_path, column, value)
    assert b"-9223372036854775808" not in data
    record = json.loads(data)
    if column == "VendorID" and not math.isfinite(value):  # no vendor id: as a null one
        assert WIRE[column] not in record
        by_null = dict(record, **{WIRE[column]: None})
        assert verdict(data) == verdict(json.dumps(by_null).encode())
        assert verdict(data)[0] == "missing_vendor"
        return
    sent = record[WIRE[column]]
    if isinstance(sent, float):
        assert sent == value
    else:
        assert isinstance(sent, str)  # NaN and infinity go as text, the consumer says why
    by_json = dict(record, **{WIRE[column]: value}) if math.isfinite(value) else record
    assert verdict(data) == verdict(json.dumps(by_json).encode())
    assert verdict(data)[0] is not None or column == "VendorID"


def test_a_passenger_count_of_1e20_names_its_value() -> None:
    """The dead letter shows 1e+20 as given, not its 21-digit integer."""
    record = {
        "id": "t",
        "vendorId": 1,
        "pickupDate": "2024-11-01T00:00:00Z",
        "dropoffDate": "2024-11-01T00:10:00Z",
        "googleDistance": 1.5,
        "passengerCount": 1e300,
    }
    reason, message = verdict(json.dumps(record).encode())
    assert (reason, message) == ("bad_passenger_count", "passengerCount 1e+300 is outside 0..9")
