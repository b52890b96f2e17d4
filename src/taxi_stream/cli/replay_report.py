"""What ``replay`` says at its end: rows read and records sent per file, the balance, the exit."""

from __future__ import annotations

import shlex

from taxi_stream.app.accounting import Gained
from taxi_stream.cli.options import err
from taxi_stream.cli.replay_flags import resume_command
from taxi_stream.core.words import count as counted
from taxi_stream.sources.replay.outcomes import ReplayResult
from taxi_stream.sources.replay.progress import duration_text


def report(result: ReplayResult, elapsed_s: float, *, processed: Gained | None = None) -> None:
    """Rows read and records sent per file, what was not sent, where to resume; the exit code.

    ``processed``: the trips in windows and dead letters the store gained, when the replay was
    processed here; the line then balances them against the rows read, and the records another
    producer put into the stream meanwhile (processed here too).
    """
    read = sent = 0
    for count in result.files:
        parts = [f"read {count.read:,} rows", f"sent {count.sent:,} records"]
        if count.first_row > 1:
            parts.insert(0, f"from row {count.first_row:,}")
        if count.skipped:
            parts.append(f"skipped {count.skipped:,} before --start-at")
        if count.blank:
            parts.append(f"skipped {counted(count.blank, 'blank row')}")
        if count.failed:
            parts.append(f"failed {count.failed:,}")
        say(f"{count.name} ({count.layout}): {', '.join(parts)}")
        if count.open_quote is not None:
            row, taken = count.open_quote
            say(
                f"  warning: row {row:,} of {count.name} opens a quote that never closes: it took"
                f" {counted(taken, 'line')} after it, to the end of the file, as one dead letter"
            )
        read, sent = read + count.read, sent + count.sent
    rate = read / elapsed_s if elapsed_s > 0 else 0.0
    promise = (
        "; once processed, every record sent is a trip in a window or a dead letter"
        if processed is None
        else ""
    )
    say(
        f"replayed {len(result.files)} file(s): read {read:,} rows, sent {sent:,} records"
        f" in {duration_text(elapsed_s)} ({rate:,.0f} rows/s){promise}"
    )
    balanced = processed is None or _say_balance(result, read, sent, processed)
    for trip_id, why in result.failures:
        say(f"  not sent: {trip_id}: {why}")
    _warn_past_the_end(result)
    if result.error is not None:
        say(f"Error: {result.error}")
    if result.next_row is not None:
        name, row = result.next_row
        why = "stopped by --limit" if result.limited else "interrupted"
        why = "stopped by the read error" if result.error is not None else why
        say(f"{why} before {name} row {row:,}; to go on: --resume {name}:{row}")
        _say_command(f"{name}:{row}")
    if result.stopped:
        raise SystemExit(130)
    if result.error is not None or any(count.failed for count in result.files) or not balanced:
        raise SystemExit(1)


def _say_balance(result: ReplayResult, read: int, sent: int, processed: Gained) -> bool:
    """``rows read R = C trips in windows + D dead letters`` (+ rows not sent); True if so.

    Records another producer put into the stream meanwhile are named on the left; a store that
    gained more than the stream took (records left before the replay, or a stream that does not
    count them, as Kinesis) is said to be so, not shown as a negative count in flight.
    """
    trips, dead = processed.trips, processed.dead_letters
    others = 0 if processed.stream_took is None else max(processed.stream_took - sent, 0)
    line = f"rows read {read:,}"
    if others:
        line += f" + {counted(others, 'record')} of another producer"
    line += f" = {trips:,} trips in windows + {counted(dead, 'dead letter')}"
    skipped = sum(c.skipped for c in result.files)
    blank = sum(c.blank for c in result.files)
    failed = sum(c.failed for c in result.files)
    if skipped:
        line += f" + {skipped:,} skipped"
    if blank:
        line += f" + {counted(blank, 'blank row')}"
    if failed:
        line += f" + {failed:,} not sent"
    in_flight = sent + others - trips - dead
    if in_flight == 0:
        say(f"{line} (balanced)")
        return True
    if in_flight < 0:
        say(f"{line}: {counted(-in_flight, 'record')} more than were sent")
        say(
            "NOT balanced: the store gained records this replay did not send (left in the stream"
            " before it, or another producer's), so its own cannot be told apart"
        )
        return False
    say(f"{line} + {in_flight:,} in flight")
    say(f"NOT balanced: {counted(in_flight, 'record')} sent in no window and no dead letter")
    return False


def _warn_past_the_end(result: ReplayResult) -> None:
    """--resume at a row past the file's end sends nothing from it: say so."""
    if not result.files or result.next_row is not None:
        return
    first = result.files[0]
    if first.first_row > 1 and first.read == 0:
        say(
            f"warning: {first.name} has no row {first.first_row:,} or later:"
            " --resume left nothing to send from it"
        )


def say(text: str) -> None:
    """One line on stderr as it is: file names and paths may hold ``[...]``, which is no markup."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def say_resume(point: tuple[str, int] | None, *, twice: bool = False) -> None:
    """The --resume that goes on from ``point``: ``twice``, after a quit mid-put (its first
    batch may be sent again); else after a cut-short drain (count the stream's rest first)."""
    if point is None:
        return
    name, row = point
    resume = f"--resume {shlex.quote(f'{name}:{row}')}"
    if twice:
        say(f"to go on from {name} row {row:,}: {resume}; the batch in flight, if it was sent,"
            " is sent again")  # fmt: skip
    else:
        say(f"to go on from {name} row {row:,}: count the stream's rest with the process command"
            f" above, then replay with {resume} (so its balance holds)")  # fmt: skip
    _say_command(f"{name}:{row}")


def _say_command(point: str) -> None:
    """The whole command line that goes on from ``point``, to paste as it is."""
    command = resume_command(point)
    if command is not None:
        say(f"  that is: {command}")
