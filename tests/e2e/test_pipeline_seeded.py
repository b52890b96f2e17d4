"""A seeded 100,000-trip run through the CLI pieces, checked against DuckDB and plain Python.

The expected values never come from taxi_stream: DuckDB reads the same JSON lines and applies
the rules of DESIGN section 3 in SQL (distance = googleDistance else gcDistance, in thousandths
of a mile; duration = tripDuration else googleDuration else dropoff - pickup; passengers; money
in cents), and a plain-Python reading of the same lines names the records that must be dead
letters and why.
"""

from __future__ import annotations

import base64
import json
import math
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)

TRIPS = 100_000
SEED = 20_241_101
MALFORMED = 0.01

# One row per vendor: trips, thousandths of a mile, seconds, passengers, and the cents of fare,
# tip and total amount (round(dollars * 100), 0 when absent), over valid trips only.
DUCKDB_TOTALS = """
WITH lines AS (
    SELECT j FROM read_json(
        $path, format = 'newline_delimited', records = false,
        columns = {'j': 'JSON'}, ignore_errors = true)
),
raw AS (
    SELECT
        json_type(j) AS kind,
        json_type(j, '$.vendorId') AS vendor_type,
        trim(j ->> '$.vendorId') AS vendor,
        j ->> '$.pickupDate' AS pickup_text,
        try_cast(j ->> '$.pickupDate' AS TIMESTAMPTZ) AS pickup,
        j ->> '$.dropoffDate' AS dropoff_text,
        try_cast(j ->> '$.dropoffDate' AS TIMESTAMPTZ) AS dropoff,
        [j ->> '$.pickupLongitude', j ->> '$.dropoffLongitude'] AS longitudes,
        [j ->> '$.pickupLatitude', j ->> '$.dropoffLatitude'] AS latitudes,
        upper(trim(j ->> '$.storeAndFwdFlag')) AS flag,
        coalesce(j ->> '$.googleDistance', j ->> '$.gcDistance') AS distance_text,
        coalesce(j ->> '$.tripDuration', j ->> '$.googleDuration') AS duration_text,
        j ->> '$.passengerCount' AS passengers_text,
        [j ->> '$.fareAmount', j ->> '$.tipAmount', j ->> '$.totalAmount'] AS money_text
    FROM lines
),
typed AS (
    SELECT *,
        try_cast(trim(distance_text) AS DOUBLE) AS miles,
        coalesce(try_cast(trim(duration_text) AS DOUBLE),
                 CASE WHEN duration_text IS NULL THEN epoch(dropoff) - epoch(pickup) END)
            AS seconds,
        try_cast(trim(passengers_text) AS DOUBLE) AS passengers,
        list_transform(money_text, lambda x: try_cast(trim(x) AS DOUBLE)) AS money
    FROM raw
),
valid AS (
    SELECT * FROM typed
    WHERE kind = 'OBJECT'
      AND vendor_type IN ('UBIGINT', 'BIGINT', 'VARCHAR') AND vendor <> ''
      AND pickup IS NOT NULL
      AND (dropoff_text IS NULL OR dropoff IS NOT NULL)
      AND list_bool_and(list_transform(longitudes,
            lambda x: x IS NULL OR abs(try_cast(trim(x) AS DOUBLE)) <= 180))
      AND list_bool_and(list_transform(latitudes,
            lambda x: x IS NULL OR abs(try_cast(trim(x) AS DOUBLE)) <= 90))
      AND (flag IS NULL OR flag IN ('Y', 'N', '1', '0'))
      AND miles BETWEEN 0 AND 500
      AND seconds BETWEEN 0 AND 86400
      AND (passengers_text IS NULL
           OR (passengers BETWEEN 0 AND 9 AND passengers = floor(passengers)))
      AND list_bool_and(list_transform(list_zip(money_text, money),
            lambda m: m[1] IS NULL OR abs(m[2]) <= 100000))
)
SELECT vendor,
       count(*) AS trips,
       sum(CAST(round(miles * 1000) AS BIGINT)) AS distance_milli,
       sum(CAST(round(seconds) AS BIGINT)) AS duration_s,
       sum(CAST(coalesce(passengers, 0) AS BIGINT)) AS passengers,
       sum(CAST(coalesce(round(money[1] * 100), 0) AS BIGINT)) AS fare_cents,
       sum(CAST(coalesce(round(money[2] * 100), 0) AS BIGINT)) AS tip_cents,
       sum(CAST(coalesce(round(money[3] * 100), 0) AS BIGINT)) AS amount_cents
FROM valid GROUP BY vendor ORDER BY vendor
"""


def duckdb_totals(path: Path) -> dict[str, tuple[int, ...]]:
    """Per-vendor (trips, distance_milli, duration_s, passengers, fare, tip and total amount in
    cents) of the valid trips in a file."""
    with duckdb.connect() as db:
        rows = db.execute(DUCKDB_TOTALS, {"path": str(path)}).fetchall()
    return {vendor: tuple(map(int, sums)) for vendor, *sums in rows}


def _number(value: Any) -> float | None:
    """A JSON number or a string holding one; None when it is neither (or not finite)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _first_present(record: dict[str, Any], *names: str) -> Any:
    return next((record[n] for n in names if record.get(n) not in (None, "")), None)


def _check_fields(record: dict[str, Any]) -> str | None:
    """The reason code a valid-JSON object is rejected with, or None for a valid trip."""
    vendor = record.get("vendorId")
    if vendor is None or (isinstance(vendor, str) and not vendor.strip()):
        return "missing_vendor"
    if isinstance(vendor, bool) or not isinstance(vendor, int | str):
        return "bad_vendor"
    for name in ("pickupDate", "dropoffDate"):
        value = record.get(name)
        if value is None and name == "dropoffDate":
            continue
        try:
            datetime.fromisoformat(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return "bad_timestamp"
    for name, limit in (("Longitude", 180), ("Latitude", 90)):
        for value in (record.get("pickup" + name), record.get("dropoff" + name)):
            degrees = _number(value)
            if value is not None and (degrees is None or abs(degrees) > limit):
                return "bad_coordinate"
    flag = record.get("storeAndFwdFlag")
    if flag is not None and str(flag).strip().upper() not in {"Y", "N", "1", "0"}:
        return "bad_store_and_fwd_flag"
    return _check_measures(record)


def _check_measures(record: dict[str, Any]) -> str | None:
    """The reason a record's distance, duration or passenger count is rejected, or None."""
    checks = (
        (_first_present(record, "googleDistance", "gcDistance"), 500, "bad_distance"),
        (_first_present(record, "tripDuration", "googleDuration"), 86_400, "bad_duration"),
    )
    for value, limit, out_of_range in checks:
        amount = _number(value)
        if amount is None:
            return "bad_number"
        if not 0 <= amount <= limit:
            return out_of_range
    passengers = record.get("passengerCount")
    count = 0.0 if passengers is None else _number(passengers)
    if count is None:
        return "bad_number"
    return None if 0 <= count <= 9 and count.is_integer() else "bad_passenger_count"


def rejection(line: bytes) -> str | None:
    """Why a wire line is not a valid trip (a DESIGN section 3 reason code), or None."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    try:
        record = json.loads(text)
    except ValueError:
        return "not_json"
    if not isinstance(record, dict):
        return "not_object"
    return _check_fields(record)


def _milli(miles: float) -> int:
    return round(miles * 1000)


@pytest.mark.slow
def test_seeded_100k_trips_match_duckdb_and_every_bad_record_is_a_dead_letter(
    cli: Cli, tmp_path: Path
) -> None:
    """100,000 seeded trips with 1% malformed: totals equal DuckDB's, bad ones are dead letters."""
    trips, data = tmp_path / "trips.jsonl", ["--data-dir", str(tmp_path / "data")]
    cli("generate", "--trips", TRIPS, "--seed", SEED, "--malformed", MALFORMED, "--out", trips)
    produced = cli("produce", *data, "--from", trips)
    cli("process", *data, "--until-idle")
    windows = json.loads(cli("query", *data, "--format", "json").stdout)
    letters = json.loads(cli("query", *data, "--dead-letters", "--format", "json").stdout)

    lines = trips.read_bytes().splitlines()
    assert len(lines) == TRIPS
    sent = re.search(r"sent ([\d,]+) records, failed 0", produced.stderr)
    assert sent, produced.stderr
    assert int(sent[1].replace(",", "")) == TRIPS

    rejected = Counter((why, line) for line in lines if (why := rejection(line)))
    assert 0.005 * TRIPS < rejected.total() < 0.02 * TRIPS, "the generator's 1% went missing"
    exported = Counter((d["reason"], base64.b64decode(d["rawBase64"])) for d in letters)
    assert exported == rejected  # the exact bytes of every bad line, with its reason
    assert len({(d["shardId"], d["sequenceNumber"], d["subSequence"]) for d in letters}) == len(
        letters
    ), "a record was dead-lettered twice"

    stored: dict[str, list[int]] = {}
    for w in windows:
        cell = stored.setdefault(w["vendorId"], [0] * 7)
        for i, value in enumerate(
            (
                w["tripCount"],
                _milli(w["totalDistanceMiles"]),
                w["totalDurationSeconds"],
                w["passengerCount"],
                w["totalFare"],
                w["totalTip"],
                w["totalAmount"],
            )
        ):
            cell[i] += value
    expected = duckdb_totals(trips)
    assert {vendor: tuple(cell) for vendor, cell in stored.items()} == expected
    assert all(cell[4] > 0 and cell[6] > cell[4] for cell in expected.values())  # money, summed
    counted = sum(n for n, *_ in expected.values())
    assert counted + rejected.total() == TRIPS, "DuckDB and plain Python disagree on validity"
    assert sum(w["tripCount"] for w in windows) + len(letters) == TRIPS
