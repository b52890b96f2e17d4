"""How far a replay's trips fell behind the latest pickup before them: the bound the file needs.

A trip whose pickup is at most B behind the latest pickup sent before it (in file order) is
never late under ``--max-out-of-orderness B``: its shard's watermark (that shard's latest
event time minus B; a shard sees a subsequence of the file) is then at or before its pickup,
so before its window's end. The meter keeps how far each timed row fell behind, in whole
minutes (rounded up), so the smallest bound that keeps ``ON_TIME_SHARE`` of them on time can
be read at the end. Rows the consumer dead-letters on the event clock move no watermark and are
left out: no pickup, one before 2009, one over a day past the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from taxi_stream.core.watermarks import FIRST_EVENT_MS, MAX_AHEAD_MS, MAX_BOUND_S
from taxi_stream.sources.replay.records import NO_TIME

ON_TIME_SHARE: Final = 0.99  # the suggested bound leaves at most 1 % of the timed trips behind
MINUTE_MS: Final = 60_000
MAX_MINUTES: Final = MAX_BOUND_S // 60  # the largest bound, in minutes; one bin more: beyond it


@dataclass(frozen=True, slots=True)
class Disorder:
    """What a replay saw of its file's order, pickups in file order.

    ``needed_s``: the smallest bound, in whole minutes, that keeps ON_TIME_SHARE of the
    ``timed`` rows on time (None: none up to the largest bound does); ``largest_s``: the most a
    pickup fell behind the latest one before it.
    """

    timed: int
    needed_s: int | None
    largest_s: int


class DisorderMeter:
    """Takes the pickups (epoch ms, ``NO_TIME`` for none) of the rows sent, block by block."""

    def __init__(self, now_ms: int) -> None:
        self._ahead_ms = now_ms + MAX_AHEAD_MS
        self._latest: int | None = None
        self._minutes = np.zeros(MAX_MINUTES + 2, dtype=np.int64)
        self._largest_ms = 0

    def note(self, pickups: npt.NDArray[np.int64]) -> None:
        """Count how far each of these pickups fell behind the latest one before it."""
        timed = pickups[(pickups != NO_TIME) & (pickups >= FIRST_EVENT_MS)]
        timed = timed[timed <= self._ahead_ms]
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
        return Disorder(timed, needed, -(-self._largest_ms // 1000))
