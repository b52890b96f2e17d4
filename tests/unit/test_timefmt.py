"""Epoch milliseconds and ISO-8601 UTC: exact both ways, and which renderings sort as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxi_stream.core.timefmt import from_epoch_ms, iso_ms, iso_utc, parse_iso_ms, to_epoch_ms
from taxi_stream.core.windows import FIRST_INSTANT_MS, LAST_INSTANT_MS

MORNING_MS = 1_732_521_600_000  # 2024-11-25T08:00:00Z
instants = st.integers(FIRST_INSTANT_MS, LAST_INSTANT_MS - 1)


@given(st.integers(-(10**12), 10**13))
def test_iso_round_trip(ts_ms: int) -> None:
    """Rendering and parsing ISO-8601 UTC is exact to the millisecond."""
    assert parse_iso_ms(iso_utc(ts_ms)) == ts_ms
    assert parse_iso_ms(iso_ms(ts_ms)) == ts_ms


def test_iso_is_utc_with_z() -> None:
    """iso_utc leaves a whole second without a fraction; iso_ms always writes milliseconds."""
    assert iso_utc(MORNING_MS) == "2024-11-25T08:00:00Z"
    assert iso_utc(MORNING_MS + 250) == "2024-11-25T08:00:00.250Z"
    assert iso_ms(MORNING_MS) == "2024-11-25T08:00:00.000Z"
    assert iso_ms(MORNING_MS + 7) == "2024-11-25T08:00:00.007Z"
    assert iso_utc(-1) == "1969-12-31T23:59:59.999Z"


@given(st.lists(instants.map(lambda ms: ms - ms % 1000), min_size=2))
def test_window_keys_sort_in_time_as_text(starts_ms: list[int]) -> None:
    """Window starts are whole seconds: their iso_utc keys sort as text as they do in time."""
    keys = [iso_utc(ms) for ms in starts_ms]
    assert sorted(keys) == [iso_utc(ms) for ms in sorted(starts_ms)]


@given(st.lists(instants, min_size=2))
def test_millisecond_timestamps_sort_in_time_as_text(instants_ms: list[int]) -> None:
    """iso_ms text (dead-letter arrival keys, Lambda's timestamps) sorts as it does in time."""
    texts = [iso_ms(ms) for ms in instants_ms]
    assert sorted(texts) == [iso_ms(ms) for ms in sorted(instants_ms)]


def test_short_keys_of_sub_second_instants_do_not_sort_in_time() -> None:
    """iso_utc of 08:00:00.250 sorts before 08:00:00 as text: only whole seconds sort in time."""
    assert iso_utc(MORNING_MS + 250) < iso_utc(MORNING_MS)
    assert iso_ms(MORNING_MS) < iso_ms(MORNING_MS + 250)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2024-11-25T08:00:00Z", MORNING_MS),
        ("2024-11-25T03:00:00-05:00", MORNING_MS),
        ("2024-11-25T08:00:00", MORNING_MS),  # no offset: UTC
        ("2024-11-25T08:00:00.250+00:00", MORNING_MS + 250),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_parse_reads_offsets_and_takes_naive_text_as_utc(text: str, ms: int) -> None:
    """An offset is honoured; text without one is UTC."""
    assert parse_iso_ms(text) == ms


def test_parse_refuses_what_is_not_iso() -> None:
    """Text that is not ISO-8601 is a ValueError (the callers turn it into their own error)."""
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_iso_ms("25/11/2024 08:00")


def test_datetimes_convert_exactly_either_way() -> None:
    """Epoch ms <-> aware datetimes by integer arithmetic, any offset, before 1970 too."""
    moment = datetime(2024, 11, 25, 3, 0, 0, 250_999, tzinfo=timezone(timedelta(hours=-5)))
    assert to_epoch_ms(moment) == MORNING_MS + 250  # microseconds round down, never up
    assert from_epoch_ms(MORNING_MS) == datetime(2024, 11, 25, 8, tzinfo=UTC)
    assert from_epoch_ms(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    assert to_epoch_ms(from_epoch_ms(-86_400_001)) == -86_400_001
