"""Real Kaggle NYC trip rows, sent the way the original generator's CSV loader sent them."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_trip
from tests.conftest import reference_totals

KAGGLE = Path(__file__).parents[1] / "data" / "kaggle_trip_duration_train_first1k.csv"


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance, as the original generator computed gcDistance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 3958.8 * 2 * math.asin(math.sqrt(a))


def as_wire_strings(row: dict[str, str]) -> dict[str, str]:
    """A Kaggle row in the camelCase schema, every value a string, timestamps naive."""
    gc = haversine_miles(
        float(row["pickup_latitude"]),
        float(row["pickup_longitude"]),
        float(row["dropoff_latitude"]),
        float(row["dropoff_longitude"]),
    )
    return {
        "id": row["id"],
        "vendorId": row["vendor_id"],
        "pickupDate": row["pickup_datetime"],
        "dropoffDate": row["dropoff_datetime"],
        "passengerCount": row["passenger_count"],
        "pickupLongitude": " " + row["pickup_longitude"],
        "pickupLatitude": "\t" + row["pickup_latitude"],
        "dropoffLongitude": row["dropoff_longitude"],
        "dropoffLatitude": row["dropoff_latitude"],
        "storeAndFwdFlag": row["store_and_fwd_flag"],
        "gcDistance": f"{gc:.3f}",
        "tripDuration": row["trip_duration"],
    }


def test_kaggle_rows_as_strings_give_exact_totals() -> None:
    """1,000 real rows: every valid trip counts, the rest are rejected with a reason."""
    with KAGGLE.open(newline="") as f:
        records = [as_wire_strings(row) for row in csv.DictReader(f)]
    assert len(records) == 1000
    acc: dict[str, list[int]] = {}
    rejected: list[tuple[dict[str, Any], str]] = []
    for record in records:
        try:
            trip = decode_trip(json.dumps(record).encode())
        except RecordError as exc:
            rejected.append((record, exc.reason))
            continue
        cell = acc.setdefault(trip.vendor_id, [0] * 7)
        values = (1, trip.distance_milli, trip.duration_s, trip.passenger_count, trip.fare_cents,
                  trip.tip_cents, trip.amount_cents)  # fmt: skip
        for i, value in enumerate(values):
            cell[i] += value
    valid = [r for r in records if 0 <= float(r["tripDuration"]) <= 86_400]
    assert {v: tuple(c) for v, c in acc.items()} == reference_totals(valid)
    assert len(rejected) == len(records) - len(valid)
    assert all(reason == "bad_duration" for _, reason in rejected)
