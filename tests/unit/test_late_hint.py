"""The late-trips hint: said above a tenth of the trips, with a bound that is larger."""

from __future__ import annotations

from taxi_stream.cli.lateness import late_hint
from taxi_stream.core.watermarks import MAX_BOUND_S
from taxi_stream.sources.replay.disorder import Disorder


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


def test_with_the_files_disorder_it_suggests_the_bound_the_file_needs() -> None:
    """When 99 % of the trips lag the latest pickup by at most 3,780 s, 3780 is suggested."""
    hint = late_hint(9_743, 10_000, 60, Disorder(timed=10_000, needed_s=3_780, largest_s=25_341))
    assert hint == (
        "9,743 of 10,000 trips came late (97%): the file is more out of order than"
        " --max-out-of-orderness 60 allows: 99% of its trips are within 1 h 03 min of the latest"
        " pickup before them; try --max-out-of-orderness 3780 into a new --data-dir (a replay"
        " into this one adds its trips to these totals again, behind the watermark this one set)"
    )


def test_a_file_no_bound_fits_is_called_unordered() -> None:
    """No bound up to a week keeps 99 % on time: say the file is unordered, suggest no bound."""
    hint = late_hint(900, 1_000, 3_600, Disorder(timed=1_000, needed_s=None, largest_s=28 * 86_400))
    assert hint == (
        "900 of 1,000 trips came late (90%): the file is not ordered by time (a pickup fell 28"
        " days behind the latest one before it; no --max-out-of-orderness up to the maximum,"
        f" {MAX_BOUND_S}, keeps 99% of its trips on time): sort it by pickup time, or replay it"
        " with --clock arrival"
    )


def test_a_file_whose_order_fits_the_bound_blames_an_earlier_watermark() -> None:
    """Late trips although the file fits the bound came behind a watermark set before: say so."""
    hint = late_hint(800, 1_000, 3_780, Disorder(timed=1_000, needed_s=3_780, largest_s=9_000))
    assert hint is not None
    assert "the file's own order fits --max-out-of-orderness 3780" in hint
    assert hint.endswith("replay into a new --data-dir")
    assert "try --max-out-of-orderness" not in hint


def test_a_disorder_without_timed_trips_falls_back_to_the_bound_given() -> None:
    """A replay that timed no trip says nothing of the file's order: the hour is suggested."""
    hint = late_hint(500, 1_000, 60, Disorder(timed=0, needed_s=0, largest_s=0))
    assert "try --max-out-of-orderness 3600 into a new --data-dir" in (hint or "")
