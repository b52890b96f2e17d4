"""Real TLC and Kaggle files: replay -> process --clock event -> query equals DuckDB over the file.

DuckDB reads each file itself and applies the documented mapping (docs/records.md) and the
consumer's rules (DESIGN section 3) in SQL, written without taxi_stream: the window is the minute
of the pickup read as New York time, distance in thousandths of a mile (TLC ``trip_distance``;
Kaggle: the haversine of the coordinates, radius 3958.8 mi), duration in seconds (TLC: dropoff -
pickup; Kaggle: ``trip_duration``), passengers, and the fare, tip and total amount in cents
(``round(amount * 100)``, 0 where the file has none). Every row read is a trip in a window or a
dead letter, exactly.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)
DATA = Path(__file__).parents[1] / "data"
Totals = dict[tuple[str, int], tuple[int, ...]]
TLC_ZONES = "[PULocationID, DOLocationID]"  # 2017 on; before, no zones: NULL::BIGINT[]

TLC_ROWS = """
SELECT
    VendorID AS vendor,
    timezone('America/New_York', tpep_pickup_datetime::TIMESTAMP) AS pickup,
    epoch(timezone('America/New_York', tpep_dropoff_datetime::TIMESTAMP))
        - epoch(timezone('America/New_York', tpep_pickup_datetime::TIMESTAMP)) AS seconds,
    trip_distance AS miles,
    passenger_count::DOUBLE AS passengers,
    store_and_fwd_flag AS flag,
    {coordinates} AS coordinates,
    fare_amount::DOUBLE AS fare,
    tip_amount::DOUBLE AS tip,
    total_amount::DOUBLE AS total,
    {zones} AS zones,
    tpep_pickup_datetime::TIMESTAMP AS wall_pickup,
    tpep_dropoff_datetime::TIMESTAMP AS wall_dropoff
FROM {source}
"""

KAGGLE_ROWS = """
WITH radians AS (
    SELECT *,
        pickup_latitude * (pi() / 180) AS p1,
        dropoff_latitude * (pi() / 180) AS p2,
        (dropoff_longitude - pickup_longitude) * (pi() / 180) AS dl
    FROM {source}
), halves AS (
    SELECT *, sin((p2 - p1) / 2) AS sdp, sin(dl / 2) AS sdl FROM radians
)
SELECT
    vendor_id AS vendor,
    timezone('America/New_York', pickup_datetime) AS pickup,
    trip_duration AS seconds,
    asin(sqrt(sdp * sdp + cos(p1) * cos(p2) * (sdl * sdl))) * 2 * 3958.8 AS miles,
    passenger_count::DOUBLE AS passengers,
    store_and_fwd_flag AS flag,
    [pickup_longitude, pickup_latitude, dropoff_longitude, dropoff_latitude] AS coordinates,
    NULL::DOUBLE AS fare,
    NULL::DOUBLE AS tip,
    NULL::DOUBLE AS total,
    NULL::BIGINT[] AS zones,
    pickup_datetime AS wall_pickup,
    dropoff_datetime AS wall_dropoff
FROM halves
"""

# A row is a trip when the consumer's rules all hold; otherwise it is a dead letter.
VALID = """
vendor IS NOT NULL AND pickup IS NOT NULL AND miles IS NOT NULL AND seconds IS NOT NULL
AND miles BETWEEN 0 AND 500 AND seconds BETWEEN 0 AND 86400
AND (passengers IS NULL OR (passengers = floor(passengers) AND passengers BETWEEN 0 AND 9))
AND (flag IS NULL OR flag IN ('Y', 'N'))
AND (coordinates IS NULL OR (abs(coordinates[1]) <= 180 AND abs(coordinates[2]) <= 90
                             AND abs(coordinates[3]) <= 180 AND abs(coordinates[4]) <= 90))
AND (fare IS NULL OR abs(fare) <= 100000) AND (tip IS NULL OR abs(tip) <= 100000)
AND (total IS NULL OR abs(total) <= 100000)
AND (zones IS NULL OR ((zones[1] IS NULL OR zones[1] BETWEEN 1 AND 265)
                       AND (zones[2] IS NULL OR zones[2] BETWEEN 1 AND 265)))
"""


def duckdb_reference(rows_sql: str) -> tuple[Totals, int, int]:
    """Per (vendor, minute window start ms): trips, milli-miles, seconds, passengers, cents of
    fare, tip and total; and the number of rows that must be dead letters, and of rows."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE r AS {rows_sql}")
    # DuckDB reads the repeated autumn hour as its second occurrence, the replay as its first:
    # the samples have no row there, so both readings agree (checked, not assumed).
    ambiguous = con.execute(
        "SELECT count(*) FROM r WHERE "
        + " OR ".join(
            f"(month({c}) IN (10, 11) AND dayofweek({c}) = 0 AND hour({c}) = 1)"
            for c in ("wall_pickup", "wall_dropoff")
        )
    ).fetchone()
    assert ambiguous == (0,)
    totals = con.execute(f"""
        SELECT vendor::VARCHAR, epoch_ms(pickup) // 60000 * 60000, count(*),
               sum(round(miles * 1000))::BIGINT, sum(seconds)::BIGINT,
               sum(coalesce(passengers, 0))::BIGINT,
               sum(coalesce(round(fare * 100), 0))::BIGINT,
               sum(coalesce(round(tip * 100), 0))::BIGINT,
               sum(coalesce(round(total * 100), 0))::BIGINT
        FROM r WHERE {VALID} GROUP BY ALL
    """).fetchall()
    dead, rows = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT coalesce({VALID}, false)), count(*) FROM r"
    ).fetchone() or (0, 0)
    return (
        {(v, int(w)): tuple(map(int, sums)) for v, w, *sums in totals},
        dead,
        rows,
    )


def parquet_from_csv(csv_path: Path, out: Path) -> Path:
    """The 2024 CSV sample as a TLC-typed Parquet file, in several row groups."""
    table = pacsv.read_csv(csv_path)
    types = {
        "VendorID": pa.int32(),
        "tpep_pickup_datetime": pa.timestamp("us"),
        "tpep_dropoff_datetime": pa.timestamp("us"),
        "passenger_count": pa.int64(),
        "PULocationID": pa.int32(),
        "DOLocationID": pa.int32(),
    }
    schema = pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in table.schema])
    pq.write_table(table.cast(schema), out, row_group_size=2_500)
    return out


def replayed_totals(cli: Cli, data: Path, path: Path) -> tuple[Totals, int, str]:
    """Replay one file, process it in event time, and read back the windows and dead letters."""
    replay = cli("replay", path, "--data-dir", data, "--as-fast-as-possible", "--quiet")
    cli("process", "--data-dir", data, "--clock", "event", "--window-seconds", "60",
        "--until-idle", "--quiet")  # fmt: skip
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    totals = {
        (w["vendorId"], _ms(w["windowStart"])): (
            w["tripCount"],
            round(w["totalDistanceMiles"] * 1000),
            w["totalDurationSeconds"],
            w["passengerCount"],
            w["totalFare"],
            w["totalTip"],
            w["totalAmount"],
        )
        for w in windows
    }
    return totals, len(letters), replay.stderr


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


SAMPLES = {
    "yellow 2015 CSV, coordinates, CRLF": ("yellow_tripdata_2015-01_first2k.csv", TLC_ROWS, True),
    "yellow 2024 CSV": ("yellow_tripdata_2024-11_first10k.csv", TLC_ROWS, False),
    "yellow 2024 CSV with bad rows": ("", TLC_ROWS, False),
    "Kaggle CSV": ("kaggle_trip_duration_train_first1k.csv", KAGGLE_ROWS, True),
}

BAD_ROWS = [  # no vendor, no pickup, negative and absurd distance, dropoff first, 12 passengers,
    # zone 266, a fare of $250,000
    ",2024-11-01 00:10:00,2024-11-01 00:20:00,1.0,1.5,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "2,,2024-11-01 00:20:00,1.0,1.5,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "2,2024-11-01 00:10:00,2024-11-01 00:20:00,1.0,-1.5,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "1,2024-11-01 00:10:00,2024-11-01 00:20:00,1.0,700,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "1,2024-11-01 00:10:00,2024-11-01 00:05:00,1.0,1.5,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "1,2024-11-01 00:10:00,2024-11-01 00:20:00,12.0,1.5,1.0,N,1,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "2,2024-11-01 00:10:00,2024-11-01 00:20:00,1.0,1.5,1.0,N,266,2,1,9,0,0.5,0,0,1,10.5,0,0",
    "2,2024-11-01 00:10:00,2024-11-01 00:20:00,1.0,1.5,1.0,N,1,2,1,250000,0,0.5,0,0,1,10.5,0,0",
]
REFUND_ROW = (  # a void as TLC files hold them: negative amounts, zone 264 ("unknown"), counted
    "2,2024-11-01 00:11:00,2024-11-01 00:19:00,1.0,1.2,1.0,N,264,265,4,-9.3,-1,-0.5,-0.01,0,"
    "-1,-14.31,-2.5,0"
)


def with_bad_rows(out: Path) -> Path:
    """The 2024 sample with rows the consumer must dead-letter, spread through the file."""
    lines = (DATA / "yellow_tripdata_2024-11_first10k.csv").read_text().splitlines()
    for i, row in enumerate(BAD_ROWS):
        lines.insert(1 + 1_200 * (i + 1), row)
    lines.insert(2, REFUND_ROW)
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("sample", list(SAMPLES), ids=list(SAMPLES))
def test_a_replayed_sample_has_the_windows_duckdb_computes(
    cli: Cli, tmp_path: Path, sample: str
) -> None:
    """Per vendor and event-time minute: trips, distance, duration, passengers, fares, tips and
    total amounts; no row lost."""
    name, rows_sql, has_coordinates = SAMPLES[sample]
    path = DATA / name if name else with_bad_rows(tmp_path / "yellow_with_bad_rows.csv")
    coordinates = (
        "[pickup_longitude, pickup_latitude, dropoff_longitude, dropoff_latitude]"
        if has_coordinates
        else "NULL::DOUBLE[]"
    )
    source = f"read_csv('{path}')"
    zones = TLC_ZONES if "2024" in sample else "NULL::BIGINT[]"
    expected, dead, rows = duckdb_reference(
        rows_sql.format(source=source, coordinates=coordinates, zones=zones)
    )
    got, letters, report = replayed_totals(cli, tmp_path / "data", path)
    assert got == expected
    assert letters == dead
    assert sum(t[0] for t in got.values()) + letters == rows
    assert dead == (len(BAD_ROWS) if not name else 0)
    if rows_sql is TLC_ROWS:  # the files have money: the sums are not vacuous
        assert all(sum(t[k] for t in got.values()) > 0 for k in (4, 5, 6))
    assert f"read {rows:,} rows, sent {rows:,} records" in report


def test_a_parquet_file_replays_like_its_csv(cli: Cli, tmp_path: Path) -> None:
    """The 2024 sample written as TLC-typed Parquet (row groups of 2,500) gives DuckDB's windows."""
    path = parquet_from_csv(DATA / "yellow_tripdata_2024-11_first10k.csv", tmp_path / "y.parquet")
    expected, dead, rows = duckdb_reference(
        TLC_ROWS.format(
            source=f"read_parquet('{path}')", coordinates="NULL::DOUBLE[]", zones=TLC_ZONES
        )
    )
    got, letters, report = replayed_totals(cli, tmp_path / "data", path)
    assert rows == 10_000
    assert got == expected
    assert letters == dead
    assert sum(t[0] for t in got.values()) + letters == rows
    assert re.search(r"y\.parquet \(yellow\): read 10,000 rows, sent 10,000 records", report)
