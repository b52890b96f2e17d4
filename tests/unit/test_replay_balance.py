"""The balance line replay prints: its rows, another producer's records, or a surplus named."""

from __future__ import annotations

import pytest

from taxi_stream.app.accounting import Gained
from taxi_stream.cli.replay_report import report
from taxi_stream.sources.replay.outcomes import FileCount, ReplayResult


def replayed(rows: int) -> ReplayResult:
    """A finished replay of one file whose ``rows`` rows were all sent."""
    return ReplayResult(files=[FileCount("m.csv", "yellow", read=rows, sent=rows)])


def balance(capsys: pytest.CaptureFixture[str], rows: int, gained: Gained) -> tuple[str, int]:
    """The lines from ``rows read`` on, and the exit status (0: report returned)."""
    try:
        report(replayed(rows), 1.0, processed=gained)
        code = 0
    except SystemExit as exc:
        code = int(str(exc.code))
    err = capsys.readouterr().err
    return err[err.index("rows read") :], code


def test_records_another_producer_put_in_the_stream_are_on_the_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The stream took 5 records besides the replay's 10 and the store gained 15: balanced."""
    lines, code = balance(capsys, 10, Gained(14, 1, stream_took=15))
    assert lines == (
        "rows read 10 + 5 records of another producer = 14 trips in windows + 1 dead letter"
        " (balanced)\n"
    )
    assert code == 0


@pytest.mark.parametrize("took", [None, 10])
def test_a_store_that_gained_more_than_the_stream_took_is_named_not_negative(
    capsys: pytest.CaptureFixture[str], took: int | None
) -> None:
    """Kinesis (no count), or records left in the stream before: a surplus, exit 1."""
    lines, code = balance(capsys, 10, Gained(15, 0, stream_took=took))
    first, second = lines.splitlines()
    assert (
        first
        == "rows read 10 = 15 trips in windows + 0 dead letters: 5 records more than were sent"
    )
    assert second.startswith("NOT balanced: the store gained records this replay did not send")
    assert "-5" not in lines
    assert code == 1


def test_records_of_the_replay_in_no_window_are_in_flight(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Fewer gained than sent: in flight, as before."""
    lines, code = balance(capsys, 10, Gained(7, 0, stream_took=10))
    assert (
        lines.splitlines()[0] == "rows read 10 = 7 trips in windows + 0 dead letters + 3 in flight"
    )
    assert code == 1
