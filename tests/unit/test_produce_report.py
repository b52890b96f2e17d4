"""produce's report of failed lines: grouped by reason, with what it leaves out counted."""

from __future__ import annotations

from taxi_stream.cli.produce import failure_lines

UNREACHABLE = "EndpointConnectionError (after 8 attempts)"


def test_one_reason_for_every_line_is_one_line_with_their_range() -> None:
    """5,000 lines failed alike: one line naming lines 1..5,000 and the reason."""
    failures = [(n, UNREACHABLE) for n in range(1, 5_001)]
    assert failure_lines(failures, "line", "lines") == [f"  lines 1..5,000: {UNREACHABLE}"]


def test_scattered_lines_show_their_first_runs_and_count_the_rest() -> None:
    """Every other line of 1..20 failed: the first 5 numbers shown, the other 5 counted."""
    failures = [(n, "throttled") for n in range(1, 21, 2)]
    assert failure_lines(failures, "line", "lines") == [
        "  lines 1, 3, 5, 7, 9: throttled (and 5 more lines with this reason)"
    ]


def test_a_single_failure_reads_in_the_singular() -> None:
    """One failed entry of its own reason is ``entry 7``, not ``entries 7``."""
    assert failure_lines([(7, "boom")], "entry", "entries") == ["  entry 7: boom"]


def test_reasons_past_the_twentieth_are_counted_not_dropped() -> None:
    """25 reasons, two lines each: 20 listed, then the 10 lines of the other 5 reasons counted."""
    failures = [(2 * r + i, f"reason {r}") for r in range(1, 26) for i in (0, 1)]
    lines = failure_lines(failures, "line", "lines")
    assert lines[0] == "  lines 2..3: reason 1"
    assert len(lines) == 21
    assert lines[-1] == "  and 10 more lines, failed for 5 other reasons"
