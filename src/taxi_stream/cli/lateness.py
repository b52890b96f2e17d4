"""The hint a processed replay prints when more of its trips came late than a bound should let."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.core.errors import Reason
from taxi_stream.core.watermarks import MAX_BOUND_S

if TYPE_CHECKING:
    from taxi_stream.sources.replay.disorder import Disorder

LATE_SHARE: Final = 0.10  # above this share of late trips, the bound is too tight for the file
TLC_BOUND_S: Final = 3600  # TLC months come in blocks of about an hour, shuffled within
NEW_DIR: Final = (
    "into a new --data-dir (a replay into this one adds its trips to these totals again, behind"
    " the watermark this one set)"
)


def late_hint(late: int, trips: int, bound_s: int, disorder: Disorder | None = None) -> str | None:
    """One line when more than LATE_SHARE of ``trips`` came ``late`` under ``bound_s`` seconds
    of out-of-orderness; else None.

    With the ``disorder`` the replay saw, it suggests the bound that keeps 99 % of the trips on
    time, says the file is not ordered by time when no bound up to the maximum does, or that
    the file's order fits (the trips came late behind a watermark set before). Without it, an
    hour, or twice the bound given.
    """
    if trips <= 0 or late <= LATE_SHARE * trips:
        return None
    said = f"{late:,} of {trips:,} trips came late ({late / trips:.0%})"
    if disorder is not None and disorder.timed:
        return f"{said}: {_from_disorder(disorder, bound_s)}"
    suggested = TLC_BOUND_S if bound_s < TLC_BOUND_S else min(2 * bound_s, MAX_BOUND_S)
    advice = (
        f"try --max-out-of-orderness {suggested} {NEW_DIR}"
        if suggested > bound_s
        else "the bound is at its maximum already"
    )
    too_tight = f"the file is more out of order than --max-out-of-orderness {bound_s} allows"
    return f"{said}: {too_tight}; {advice}"


def _from_disorder(disorder: Disorder, bound_s: int) -> str:
    """What the file's own order (of the run's event time) says of the bound it needs."""
    needed, event = disorder.needed_s, disorder.event_time
    if needed is None:
        return (
            f"the file is not ordered by time (a {event} fell {_span(disorder.largest_s)} behind"
            f" the latest one before it; no --max-out-of-orderness up to the maximum,"
            f" {MAX_BOUND_S}, keeps 99% of its trips on time): sort it by {event} time, or"
            " replay it with --clock arrival"
        )
    if needed > bound_s:
        return (
            f"the file is more out of order than --max-out-of-orderness {bound_s} allows: 99% of"
            f" its trips are within {_span(needed)} of the latest {event} before them; try"
            f" --max-out-of-orderness {needed} {NEW_DIR}"
        )
    return (
        f"the file's own order fits --max-out-of-orderness {bound_s} (99% of its trips are"
        f" within {_span(needed)} of the latest {event} before them), so they came late behind a"
        " watermark set before this replay (an earlier one into this data dir): replay into a"
        " new --data-dir"
    )


def _span(seconds: int) -> str:
    """``45 s``, ``1 h 03 min``, ``28 days``."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 86_400:
        hours, minutes = divmod(-(-seconds // 60), 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"{seconds // 86_400} days"


def processed_hint(
    processor: Processor, options: ProcessOptions, disorder: Disorder | None = None
) -> str | None:
    """The late-trips hint over what our handler did in ``processor`` (event clock only);
    ``disorder``: the replay's, used when it measured the event time the run used."""
    if processor.tally is None or options.clock != "event":
        return None
    counts = processor.tally.counts()
    dead_late = counts.dead_letters.get(Reason.LATE, 0)  # --late dead-letter
    trips, late = counts.trips + dead_late, counts.late_trips + dead_late
    if disorder is not None and disorder.event_time != options.event.event_time:
        disorder = None
    return late_hint(late, trips, options.event.max_out_of_orderness_s, disorder)
