"""The late-trips hint: said above a tenth of the trips, with a bound that is larger."""

from __future__ import annotations

from taxi_stream.cli.lateness import late_hint
from taxi_stream.core.watermarks import MAX_BOUND_S


def test_a_tenth_late_or_less_says_nothing() -> None:
    """1,000 late of 10,000 is the limit, not past it; no trips at all say nothing either."""
    assert late_hint(1_000, 10_000, 60) is None
    assert late_hint(0, 0, 60) is None


def test_past_a_tenth_it_counts_them_and_suggests_an_hour() -> None:
    """1,001 of 10,000 under 60 s: counted, 10%, and --max-out-of-orderness 3600 in a new data
    dir (a second replay into the same one would count its trips twice)."""
    assert late_hint(1_001, 10_000, 60) == (
        "1,001 of 10,000 trips came late (10%): the file is more out of order than"
        " --max-out-of-orderness 60 allows; try --max-out-of-orderness 3600 into a new"
        " --data-dir (a replay into this one adds its trips to these totals again, behind the"
        " watermark this one set)"
    )


def test_an_hour_or_more_already_suggests_twice_as_much_up_to_the_maximum() -> None:
    """From an hour on the suggestion doubles the bound; at the maximum it says so instead."""
    assert "try --max-out-of-orderness 7200 into a new --data-dir" in (
        late_hint(500, 1_000, 3600) or ""
    )
    assert (late_hint(500, 1_000, MAX_BOUND_S) or "").endswith("at its maximum already")
