"""How far a replay's trips fell behind the latest event time before them: the bound it needs.

A trip whose event time (its pickup, or with ``--event-time dropoff`` its dropoff) is at most
B behind the latest event time sent before it (in file order) is never late under
``--max-out-of-orderness B``: its shard's watermark (that shard's latest event time minus B; a
shard sees a subsequence of the file) is then at or before its event time, so before its
window's end. The meter keeps how far each trip fell behind, in whole minutes (rounded up), so
the smallest bound that keeps ``ON_TIME_SHARE`` of them on time can be read at the end.

It weighs what can enter a window, as the consumer's event clock does: only records the
handler decodes into trips (``app.replay.TripTimes`` gives their event times; a dead letter has
none), and of those only the ones its range rule keeps: from 2009 on, and at most a day past
the record's arrival. That rule is the handler's, and it is judged against the arrival (the
wall clock when the record is put), not against the file's own times: a row a week ahead of
the rest of the file but not of the wall clock is a trip that drags its shard's watermark, so
it must count here too. The meter therefore takes the wall clock of each block as it is sent
(a paced replay runs for days), which is what a record's arrival is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from taxi_stream.core.watermarks import FIRST_EVENT_MS, MAX_AHEAD_MS, MAX_BOUND_S
from taxi_stream.core.windows import LAST_INSTANT_MS
from taxi_stream.sources.replay.records import NO_TIME

ON_TIME_SHARE: Final = 0.99  # the suggested bound leaves at most 1 % of the timed trips behind
MINUTE_MS: Final = 60_000
MAX_MINUTES: Final = MAX_BOUND_S // 60  # the largest bound, in minutes; one bin more: beyond it


@dataclass(frozen=True, slots=True)
class Disorder:
    """What a replay saw of its file's order, event times (``event_time``) in file order.

    ``needed_s``: the smallest bound, in whole minutes, that keeps ON_TIME_SHARE of the
    ``timed`` trips on time (None: none up to the largest bound does); ``largest_s``: the most
    an event time fell behind the latest one before it.
    """

    timed: int
    needed_s: int | None
    largest_s: int
    event_time: str = "pickup"


class DisorderMeter:
    """Takes the event times (epoch ms, ``NO_TIME`` for none) of the records sent, by block."""

    def __init__(self, event_time: str = "pickup") -> None:
        self._event_time = event_time
        self._latest: int | None = None
        self._minutes = np.zeros(MAX_MINUTES + 2, dtype=np.int64)
        self._largest_ms = 0

    def note(self, events: npt.NDArray[np.int64], arrival_ms: int) -> None:
        """Count how far each of these event times fell behind the latest one before it; the
        records were put at ``arrival_ms`` (epoch ms, the wall clock)."""
        timed = events[(events != NO_TIME) & (events >= FIRST_EVENT_MS)]
        timed = timed[(timed <= arrival_ms + MAX_AHEAD_MS) & (timed < LAST_INSTANT_MS)]
        if not len(timed):
            return
        latest = np.maximum.accumulate(timed)
        if self._latest is not None:
            latest = np.maximum(latest, self._latest)
        behind = latest - timed
        self._latest = int(latest[-1])
        self._largest_ms = max(self._largest_ms, int(behind.max()))
        minutes = np.minimum(-(-behind // MINUTE_MS), MAX_MINUTES + 1)  # rounded up
        self._minutes += np.bincount(minutes, minlength=len(self._minutes))

    def summary(self) -> Disorder:
        """The disorder seen so far."""
        timed = int(self._minutes.sum())
        allowed = int(timed * (1 - ON_TIME_SHARE))  # rows that may stay behind the bound
        behind_more = timed - np.cumsum(self._minutes)  # [m]: rows more than m minutes behind
        minute = int(np.argmax(behind_more <= allowed))  # the last bin always holds
        needed = None if minute > MAX_MINUTES else minute * 60
        return Disorder(timed, needed, -(-self._largest_ms // 1000), self._event_time)
