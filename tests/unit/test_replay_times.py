"""New York wall times read as zoneinfo reads them: first occurrence, gaps with the old offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from taxi_stream.sources.replay import times

NY = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1)


def zoneinfo_instant(wall_s: int, fold: int) -> int:
    """The epoch second of a naive New York wall time, by zoneinfo."""
    moment = (EPOCH + timedelta(seconds=wall_s)).replace(tzinfo=NY, fold=fold)
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


def wall(text: str) -> int:
    """Seconds since 1970 of a naive wall time, as if it were UTC."""
    return int((datetime.fromisoformat(text) - EPOCH).total_seconds())


def test_instants_agree_with_zoneinfo_over_two_centuries() -> None:
    """Random wall times 1875..2096, and every minute around two DST changes, read both ways."""
    rng = np.random.default_rng(9)
    edges = [wall("2016-03-13 02:00:00"), wall("2024-11-03 01:00:00")]
    samples = np.concatenate(
        [rng.integers(-3_000_000_000, 4_000_000_000, 3000)]
        + [np.arange(edge - 7200, edge + 7200, 60) for edge in edges]
    )
    first, second = times.instants(samples)
    assert first.tolist() == [zoneinfo_instant(w, 0) for w in samples.tolist()]
    assert second.tolist() == [zoneinfo_instant(w, 1) for w in samples.tolist()]


def test_the_repeated_autumn_hour_reads_as_daylight_time_first() -> None:
    """01:30 on 2024-11-03 happens twice: first 05:30Z (EDT), second 06:30Z (EST)."""
    first, second = times.instants(np.array([wall("2024-11-03 01:30:00")]))
    assert first[0] == int(datetime(2024, 11, 3, 5, 30, tzinfo=UTC).timestamp())
    assert second[0] - first[0] == 3600


def test_a_spring_gap_time_keeps_its_text_and_the_offset_before_the_gap() -> None:
    """02:30 on 2016-03-13 never happened: written 02:30-05:00, the instant 07:30Z."""
    walls = pa.array([datetime(2016, 3, 13, 2, 30), datetime(2024, 7, 1, 12)], pa.timestamp("s"))
    seconds = walls.cast(pa.int64()).to_numpy()
    first, _ = times.instants(seconds)
    texts = pa.compute.binary_join_element_wise(
        times.wall_text(walls), times.offset_texts(seconds, first), ""
    ).to_pylist()
    assert texts == ["2016-03-13T02:30:00-05:00", "2024-07-01T12:00:00-04:00"]
    assert first[0] == int(datetime(2016, 3, 13, 7, 30, tzinfo=UTC).timestamp())


def test_text_times_in_every_form_a_file_writes_them() -> None:
    """ISO with space or T, the NYC Open Data form, an offset; a day that never was stays text."""
    cells = pa.array(
        [
            "2015-01-15 19:05:39",
            " 2015-01-15T19:05:39 ",
            "01/15/2015 07:05:39 PM",
            "1/5/2015 7:05:39 AM",
            "2015-01-16T00:05:39+00:00",
            "2015-02-30 00:00:00",
            "yesterday",
            None,
        ]
    )
    found, left = times.wall_times(cells, "pickup")
    assert found.to_pylist() == [
        datetime(2015, 1, 15, 19, 5, 39),
        datetime(2015, 1, 15, 19, 5, 39),
        datetime(2015, 1, 15, 19, 5, 39),
        datetime(2015, 1, 5, 7, 5, 39),
        datetime(2015, 1, 15, 19, 5, 39),
        None,
        None,
        None,
    ]
    assert left.to_pylist() == [None] * 5 + ["2015-02-30 00:00:00", "yesterday", None]


def test_typed_timestamps_lose_only_their_fraction_of_a_second() -> None:
    """Parquet microsecond timestamps become whole seconds; dates are midnight."""
    micro = pa.array([datetime(2024, 11, 1, 0, 46, 24, 999_999)], pa.timestamp("us"))
    assert times.wall_times(micro, "pickup")[0].to_pylist() == [datetime(2024, 11, 1, 0, 46, 24)]
    days = pa.array([datetime(2024, 11, 1).date()], pa.date32())
    assert times.wall_times(days, "pickup")[0].to_pylist() == [datetime(2024, 11, 1)]
