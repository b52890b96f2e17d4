"""The hint a processed replay prints when more of its trips came late than a bound should let."""

from __future__ import annotations

from typing import Final

from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.core.errors import Reason
from taxi_stream.core.watermarks import MAX_BOUND_S

LATE_SHARE: Final = 0.10  # above this share of late trips, the bound is too tight for the file
TLC_BOUND_S: Final = 3600  # TLC months come in blocks of about an hour, shuffled within


def late_hint(late: int, trips: int, bound_s: int) -> str | None:
    """One line when more than LATE_SHARE of ``trips`` came ``late`` under ``bound_s`` seconds
    of out-of-orderness, suggesting a bound (an hour, or twice the one given) and a new data
    dir to try it in; else None."""
    if trips <= 0 or late <= LATE_SHARE * trips:
        return None
    suggested = TLC_BOUND_S if bound_s < TLC_BOUND_S else min(2 * bound_s, MAX_BOUND_S)
    advice = (
        f"try --max-out-of-orderness {suggested} into a new --data-dir (a replay into this one"
        " adds its trips to these totals again, behind the watermark this one set)"
        if suggested > bound_s
        else "the bound is at its maximum already"
    )
    return (
        f"{late:,} of {trips:,} trips came late ({late / trips:.0%}): the file is more out of"
        f" order than --max-out-of-orderness {bound_s} allows; {advice}"
    )


def processed_hint(processor: Processor, options: ProcessOptions) -> str | None:
    """The late-trips hint over what our handler did in ``processor`` (event clock only)."""
    if processor.tally is None or options.clock != "event":
        return None
    counts = processor.tally.counts()
    dead_late = counts.dead_letters.get(Reason.LATE, 0)  # --late dead-letter
    trips, late = counts.trips + dead_late, counts.late_trips + dead_late
    return late_hint(late, trips, options.event.max_out_of_orderness_s)
