"""Which replayed records the consumer turns into trips, and the event time each trip has.

The replay (``sources/replay``) may not read the handler's code; this use case hands it in.

The late-trips hint weighs only what can enter a window: a record the consumer dead-letters (a
malformed row, no vendor, a negative distance, a passenger count of 12, ...) moves no watermark,
so it must not count in the file's disorder either. The verdict is the handler's own: every
record is decoded by its typed decoder (``function.codec.decode_clean``). A record that decoder
takes, with an int vendor, a distance and a duration, and times the replay wrote itself from the
row (so it knows their instants without reading the text again), is a trip with the pickup, or
the dropoff (pickup plus the duration where the record has none), the replay computed; exactly
the conditions under which ``codec`` decides a record without its core rules. Every other
record is decided by ``codec.decode_values``, the handler's record-by-record path, with the UTC
naive zone a processed replay uses. A table test pins the two paths to one verdict and one time.
"""

from __future__ import annotations

from datetime import UTC
from typing import Final

import numpy as np
import numpy.typing as npt

from taxi_stream.core.errors import RecordError
from taxi_stream.core.limits import MAX_RECORD_BYTES
from taxi_stream.core.watermarks import FIRST_EVENT_MS
from taxi_stream.core.windows import LAST_INSTANT_MS
from taxi_stream.function.codec import CleanTrip, Stamps, decode_clean, decode_values
from taxi_stream.sources.replay.records import NO_TIME, Records

CHUNK: Final = 256  # records decoded by one map; a chunk with a refusal: one by one
STAMPS_KEPT: Final = 4_096  # timestamp texts of the records decided by the core rules


class TripTimes:
    """Event times of the records the handler decodes into trips; one per replay (its memo)."""

    def __init__(self, *, dropoff: bool) -> None:
        self.dropoff = dropoff
        self._stamps: Stamps = {}

    def of(self, records: Records) -> npt.NDArray[np.int64]:
        """Each record's event time (epoch ms), ``NO_TIME`` for one the handler dead-letters."""
        out: list[int] = []
        pickups, dropoffs = records.event_ms.tolist(), records.dropoff_ms.tolist()
        data = records.data
        for start in range(0, len(data), CHUNK):
            chunk = data[start : start + CHUNK]
            wires = _typed_chunk(chunk)
            for i, wire in enumerate(wires, start):
                known = None if wire is None else self._known(wire, pickups[i], dropoffs[i])
                out.append(self._decoded(data[i]) if known is None else known)
        return np.array(out, dtype=np.int64)

    def _known(self, wire: CleanTrip, pickup_ms: int, dropoff_ms: int) -> int | None:
        """The event time of a typed record the fast rules decide; None: the core rules decide."""
        if wire.vendorId.__class__ is not int or not _written(pickup_ms):
            return None
        duration = wire.tripDuration if wire.tripDuration is not None else wire.googleDuration
        distance = wire.googleDistance if wire.googleDistance is not None else wire.gcDistance
        if duration is None or distance is None:
            return None
        if not wire.dropoffDate:  # none (or empty): codec takes pickup plus the duration
            return pickup_ms + duration * 1000 if self.dropoff else pickup_ms
        if not _written(dropoff_ms):
            return None  # a dropoff the replay could not read, sent as its text
        return dropoff_ms if self.dropoff else pickup_ms

    def _decoded(self, data: bytes) -> int:
        if len(self._stamps) >= STAMPS_KEPT:
            self._stamps.clear()
        try:
            return decode_values(data, UTC, self._stamps, self.dropoff)[1]
        except RecordError:
            return NO_TIME


def _written(ms: int) -> bool:
    """Whether the replay wrote this time itself, within the instants the handler reads."""
    return ms != NO_TIME and FIRST_EVENT_MS <= ms < LAST_INSTANT_MS


def _typed_chunk(chunk: list[bytes]) -> list[CleanTrip | None]:
    """Each record as ``_typed`` reads it: by one map over the chunk when all of it decodes."""
    if all(map(bytes.isascii, chunk)) and max(map(len, chunk)) <= MAX_RECORD_BYTES:
        try:
            return list(map(decode_clean, chunk))
        except Exception:  # noqa: BLE001, S110 -- which record it was is found one by one
            pass
    return list(map(_typed, chunk))


def _typed(data: bytes) -> CleanTrip | None:
    """The record as the handler's typed decoder reads it; None where that decoder refuses it."""
    if not data.isascii() or len(data) > MAX_RECORD_BYTES:
        return None
    try:
        return decode_clean(data)
    except Exception:  # noqa: BLE001 -- any refusal leaves the verdict to decode_values
        return None
