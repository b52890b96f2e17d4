"""The replay's trip times give each record the handler's own verdict and event time."""

from __future__ import annotations

import random
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest

from taxi_stream.app.replay import TripTimes
from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_values
from taxi_stream.sources.replay.files import TripFile
from taxi_stream.sources.replay.layouts import detect
from taxi_stream.sources.replay.records import NO_TIME, Records, to_records, within_limit

HEADER = (
    "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,"
    "PULocationID,DOLocationID,fare_amount,tip_amount,total_amount"
)
CELLS: dict[str, list[str]] = {  # per column: quirky cells, the first two the usual kind
    "VendorID": ["2", "1", "", "x", "7", "2.0", "-1", "99999999999999999999", "v" * 200, "\x01"],
    "pickup": [
        "2024-11-01 00:10:00",
        "2024-11-01 00:50:59",
        "2024-11-03 01:30:00",  # New York's clocks go back: the hour comes twice
        "2024-03-10 02:30:00",  # ... and forward: no such wall time
        "2024-11-01T00:10:00+00:00",
        "11/01/2024 01:00:00 PM",
        "2024-11-01 00:10:00.5",
        "2008-12-31 23:59:59",
        "2100-01-01 00:00:00",
        "9999-12-31 23:00:00",
        "garbage",
        "",
    ],
    "dropoff": [
        "2024-11-01 00:25:30",
        "2024-11-02 00:25:30",  # a trip of a day
        "2024-11-01 00:00:00",  # before its pickup
        "2024-11-03 01:10:00",
        "nope",
        "",
    ],
    "passenger_count": ["1", "1.0", "", "9", "12", "-1", "1.5", "x"],
    "trip_distance": ["3.30", "0", "", "-0.5", "1e6", "abc", "inf"],
    "PULocationID": ["161", "", "0", "999", "x"],
    "DOLocationID": ["237", "", "265"],
    "fare_amount": ["12.80", "", "-5.005", "1e12", "nan"],
    "tip_amount": ["0", "", "0.015"],
    "total_amount": ["17.80", "", "x"],
}


def quirky_file(tmp_path: Path, seed: int, rows: int = 300) -> Path:
    """A TLC CSV whose rows are mostly good, each cell quirky now and then."""
    rng = random.Random(seed)
    lines = [HEADER]
    for _ in range(rows):
        cells = [
            rng.choice(values[:2]) if rng.random() < 0.85 else rng.choice(values)
            for values in (CELLS[name] for name in CELLS)
        ]
        lines.append(",".join(cells))
    path = tmp_path / f"quirky-{seed}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def replayed(path: Path) -> list[Records]:
    """The records the replay builds of a file, block by block."""
    trip_file = TripFile(path)
    columns = detect(trip_file.header, str(path))
    return [
        within_limit(to_records(b.batch, b.rows, columns.layout, trip_file.name), trip_file.name)
        for b in trip_file.blocks(columns)
    ]


def handler_times(records: Records, *, dropoff: bool) -> list[int]:
    """Record by record, as the handler decodes: the event time, NO_TIME for a dead letter."""
    out = []
    for data in records.data:
        try:
            out.append(decode_values(data, UTC, None, dropoff)[1])
        except RecordError:
            out.append(NO_TIME)
    return out


@pytest.mark.parametrize("dropoff", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_quirky_rows_get_the_handlers_verdict_and_time(
    tmp_path: Path, seed: int, *, dropoff: bool
) -> None:
    """Missing, malformed and out-of-range cells, DST edges, offsets: the handler's answer."""
    times = TripTimes(dropoff=dropoff)
    for records in replayed(quirky_file(tmp_path, seed)):
        expected = handler_times(records, dropoff=dropoff)
        assert times.of(records).tolist() == expected
        assert NO_TIME in expected  # the file holds dead letters ...
        assert len(set(expected) - {NO_TIME}) >= 2  # ... and trips at several times


KAGGLE_HEADER = (
    "id,vendor_id,pickup_datetime,dropoff_datetime,passenger_count,pickup_longitude,"
    "pickup_latitude,dropoff_longitude,dropoff_latitude,store_and_fwd_flag,trip_duration"
)
KAGGLE = "id1,2,2016-03-14 17:24:55,{dropoff},1,-73.98,40.76,-73.96,40.76,N,{duration}"
EDGES = [  # (layout, row): rows near the edges of what the fast rules may decide
    ("tlc", "2,9999-12-30 18:00:00,9999-12-30 18:10:00,1,1,,,,,"),  # the last writable hour
    ("tlc", "2,9999-12-30 20:00:00,9999-12-30 20:10:00,1,1,,,,,"),  # past it in UTC
    ("tlc", "2,0001-01-01 00:00:00,0001-01-01 00:10:00,1,1,,,,,"),
    ("tlc", "2,2008-12-31 23:59:59,2009-01-01 00:09:59,1,1,,,,,"),
    ("tlc", f"{'v' * 200},2024-11-01 00:00:00,2024-11-01 00:10:00,1,1,,,,,"),
    ("kaggle", KAGGLE.format(dropoff="2016-03-14 17:32:30", duration="455")),
    ("kaggle", KAGGLE.format(dropoff="", duration="455")),  # dropoff: pickup + duration
    ("kaggle", KAGGLE.format(dropoff="later", duration="455")),  # a dropoff that is no time
    ("kaggle", KAGGLE.format(dropoff="2016-03-15 17:32:30", duration="")),
    ("kaggle", KAGGLE.format(dropoff="2016-03-14 17:32:30", duration="-5")),
]


@pytest.mark.parametrize("dropoff", [False, True])
@pytest.mark.parametrize(("layout", "row"), EDGES)
def test_rows_at_the_edges_get_the_handlers_verdict_and_time(
    tmp_path: Path, layout: str, row: str, *, dropoff: bool
) -> None:
    """Years 1 and 9999, before 2009, a long vendor, Kaggle dropoffs missing or unreadable."""
    path = tmp_path / "edge.csv"
    path.write_text(f"{HEADER if layout == 'tlc' else KAGGLE_HEADER}\n{row}\n")
    [records] = replayed(path)
    assert TripTimes(dropoff=dropoff).of(records).tolist() == handler_times(
        records, dropoff=dropoff
    )


def test_the_kaggle_sample_gets_the_handlers_times() -> None:
    """Kaggle rows (great-circle distance, their own duration) by either clock."""
    sample = Path(__file__).parents[1] / "data" / "kaggle_trip_duration_train_first1k.csv"
    for dropoff in (False, True):
        times = TripTimes(dropoff=dropoff)
        for records in replayed(sample):
            assert times.of(records).tolist() == handler_times(records, dropoff=dropoff)


def test_the_dropoff_clock_takes_the_dropoff_and_dead_letters_have_none(tmp_path: Path) -> None:
    """A 15-minute trip's dropoff is 15 minutes after its pickup; a negative distance: none."""
    path = tmp_path / "t.csv"
    good = "2,2024-11-01 00:10:00,2024-11-01 00:25:00,1,3.3,161,237,12.8,0,17.8"
    bad = "2,2024-11-01 00:10:00,2024-11-01 00:25:00,1,-3.3,161,237,12.8,0,17.8"
    path.write_text("\n".join([HEADER, good, bad]) + "\n")
    [records] = replayed(path)
    pickup = 1_730_434_200_000  # 2024-11-01T04:10:00Z, 00:10 in New York (EDT)
    assert TripTimes(dropoff=False).of(records).tolist() == [pickup, NO_TIME]
    assert TripTimes(dropoff=True).of(records).tolist() == [pickup + 15 * 60_000, NO_TIME]
    assert np.array_equal(records.event_ms, [pickup, pickup])  # what pacing uses stays the pickup
