"""Whether a stored window is final: the stream's watermark against its end, decided on read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from taxi_stream.core.records import WindowTotals
from taxi_stream.core.watermarks import Watermark, is_final, stream_watermark
from taxi_stream.core.windows import WindowClock


@dataclass(frozen=True, slots=True)
class Finality:
    """The stream's watermark as read once, and the lateness windows are judged with.

    Called with a window it says whether the window is final: an event-clock window whose end
    plus the allowed lateness the watermark has reached. Arrival-clock windows keep no
    watermark and are never final here.
    """

    watermark_ms: int | None
    allowed_lateness_ms: int

    @classmethod
    def of(
        cls, marks: Iterable[Watermark], allowed_lateness_s: int, idle_timeout_s: int
    ) -> Finality:
        """From a store's watermarks (``TotalsQuery.watermarks()``), read once: the stream's is
        the least over the shards that are not idle."""
        mark = stream_watermark(marks, idle_timeout_s * 1000)
        return cls(mark, allowed_lateness_s * 1000)

    def __call__(self, window: WindowTotals) -> bool:
        if window.clock is not WindowClock.EVENT:
            return False
        return is_final(window.window_end_ms, self.watermark_ms, self.allowed_lateness_ms)
