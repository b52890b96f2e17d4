"""The cells every terminal view shares: short shard ids and positions, short numbers with units."""

from __future__ import annotations

import re

import pytest

from taxi_stream.views.cells import Line, Parts, duration, sequence_label, shard_label, size
from tests.support.kinesis_like import FIRST_SEQUENCE
from tests.support.screen import screen_lines


@pytest.mark.parametrize(
    ("shard_id", "label"),
    [
        ("shardId-000000000003", "shard-0003"),
        ("shardId-000000000000", "shard-0000"),
        ("shardId-000000000117", "shard-0117"),  # a child after many reshards
        ("shardId-000000012345", "shard-12345"),
        ("my-shard", "my-shard"),
        ("shardId-abc", "shardId-abc"),
    ],
)
def test_kinesis_shard_ids_read_as_shard_and_four_digits(shard_id: str, label: str) -> None:
    """`shardId-000000000003` reads `shard-0003`; an id of another shape is shown as it is."""
    assert shard_label(shard_id) == label


def test_a_56_digit_position_shows_its_last_seven_digits() -> None:
    """A Kinesis sequence number is "…" and its last 7 digits; short ones stay whole."""
    sequence = str(FIRST_SEQUENCE)
    assert len(sequence) == 56
    assert sequence_label(sequence) == "…" + sequence[-7:]
    assert sequence_label("12345678") == "12345678"
    assert sequence_label(None) == "start"


def test_durations_and_sizes_are_at_most_7_characters_with_their_unit() -> None:
    """Up to a year (Kinesis's longest retention), up to 99 MB: number, space, unit; <= 7 chars."""
    shape = re.compile(r"^\d[\d,]*(\.\d)? (ms|s|min|h|B|kB|MB)$")
    for ms in [0, 999, 1_000, 59_949, 59_950, 599_999, 600_000, 7_169_999, 7_170_000]:
        text = duration(ms)
        assert shape.match(text), text
        assert len(text) <= 7, text
    year_ms = 365 * 24 * 3_600_000
    for ms in [*(round(1.37**k) for k in range(77)), year_ms]:
        assert ms <= year_ms
        assert shape.match(duration(ms)), duration(ms)
        assert len(duration(ms)) <= 7, (ms, duration(ms))
    for n in (round(1.37**k) for k in range(0, 58)):
        assert shape.match(size(n)), size(n)
        assert len(size(n)) <= 7, (n, size(n))
    assert (duration(1_500), duration(90_000), duration(5_400_000)) == (
        "1.5 s",
        "1.5 min",
        "90 min",
    )
    assert (size(812), size(12_345), size(1_048_576)) == ("812 B", "12.3 kB", "1.0 MB")


def test_a_status_line_breaks_between_parts_never_inside_one() -> None:
    """Parts that do not fit on one 80-column line move whole to the next."""
    parts = [f"part {i:,} records" for i in range(1_000, 1_012)]
    lines = screen_lines(Parts.of(parts))
    assert len(lines) > 1
    assert all(len(line) <= 80 for line in lines)
    assert " | ".join(line.strip() for line in lines).split(" | ") == parts


def test_a_free_text_line_is_cut_with_an_ellipsis_on_one_line() -> None:
    """A long message with newlines shows as one 80-column line ending in an ellipsis."""
    message = "Traceback:\n  " + "word " * 40
    assert screen_lines(Line(message)) == [("Traceback: " + "word " * 40)[:79] + "…"]
