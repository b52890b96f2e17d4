"""Window math: one pure function, checked at boundaries, negatives and sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.windows import check_window_seconds, window_start_ms


@pytest.mark.parametrize(
    ("ts_ms", "size_s", "start"),
    [
        (0, 60, 0),
        (59_999, 60, 0),
        (60_000, 60, 60_000),
        (-1, 60, -60_000),
        (-60_000, 60, -60_000),
        (-60_001, 60, -120_000),
        (1_732_521_659_999, 60, 1_732_521_600_000),
        (1_732_521_660_000, 60, 1_732_521_660_000),
        (12_345, 1, 12_000),
        (899_999, 900, 0),
    ],
)
def test_window_start_at_boundaries(ts_ms: int, size_s: int, start: int) -> None:
    """Windows are [start, start + size), aligned to the epoch, negatives included."""
    assert window_start_ms(ts_ms, size_s) == start


@given(st.integers(-(10**13), 10**13), st.integers(1, 900))
def test_window_contains_its_timestamp(ts_ms: int, size_s: int) -> None:
    """Every timestamp lies in exactly the window the function names."""
    start = window_start_ms(ts_ms, size_s)
    assert start <= ts_ms < start + size_s * 1000
    assert start % (size_s * 1000) == 0


@pytest.mark.parametrize("bad", [0, 901, -5, 1.5, True, "60"])
def test_window_size_outside_lambda_limits_is_refused(bad: object) -> None:
    """TumblingWindowInSeconds is 1..900 whole seconds."""
    with pytest.raises(ConfigError):
        check_window_seconds(bad)  # type: ignore[arg-type]
