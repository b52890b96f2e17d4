"""A seeded, vectorised simulator of NYC taxi trips as clean wire records, with optional faults."""

from __future__ import annotations

import io
import logging
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import starmap
from typing import Any, Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from taxi_stream.core.errors import ConfigError, RecordError
from taxi_stream.core.trip import vendor_key
from taxi_stream.sources.fares import Trips, charges, dollar_values
from taxi_stream.sources.simdraw import (
    NEW_YORK_OFFSET_S,
    NYC_BOUNDS,
    PASSENGER_CDF,
    STORE_AND_FWD_FRACTION,
    BlockDraws,
    Draws,
    dropoffs,
    durations,
    google_durations,
    pickups,
)
from taxi_stream.sources.simdraw import cdf as _cdf
from taxi_stream.sources.simdraw import choice as _choice
from taxi_stream.sources.simfaults import inject_faults

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_START_MS",
    "NOMINAL_TRIPS_PER_SECOND",
    "NYC_BOUNDS",
    "SimBatch",
    "Simulator",
    "SimulatorConfig",
]

DEFAULT_START_MS: Final = 1_730_419_200_000  # 2024-11-01T00:00:00Z, the month of the TLC sample
NOMINAL_TRIPS_PER_SECOND: Final = 100.0  # how fast simulated time runs when the stream is unpaced
BLOCK_SIZE: Final = 2048  # trips drawn per generator; output never depends on how it is pulled
RENDER_BLOCKS: Final = 4  # blocks computed and encoded together: numpy's cost a call spread wider

_Ints = NDArray[np.int64]


log = logging.getLogger(__name__)
LAG_S: Final = 1.0  # a paced stream this far behind its --duration stops with what it sent


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """What to simulate. The same config gives the same records, byte for byte.

    ``start_ms`` is the first pickup (epoch ms); pickups advance at ``trips_per_second`` (or at
    NOMINAL_TRIPS_PER_SECOND when unpaced). Faults: a fraction of trips picked up up to
    ``max_out_of_order_s`` seconds early (out of order), a fraction ``late_by_s`` seconds early
    (late), and a fraction of records the consumer must reject (malformed).
    """

    seed: int = 0
    vendors: tuple[str, ...] = ("1", "2")
    vendor_weights: tuple[float, ...] | None = None  # None: every vendor equally often
    start_ms: int = DEFAULT_START_MS
    trips_per_second: float | None = None  # None: as fast as possible
    malformed_fraction: float = 0.0
    out_of_order_fraction: float = 0.0
    max_out_of_order_s: int = 30
    late_fraction: float = 0.0
    late_by_s: int = 600

    def __post_init__(self) -> None:
        _whole(self.seed, "seed", 0)
        _whole(self.start_ms, "start_ms", 0)
        _whole(self.max_out_of_order_s, "max_out_of_order_s", 1)
        _whole(self.late_by_s, "late_by_s", 1)
        object.__setattr__(self, "vendors", _vendors(self.vendors))
        object.__setattr__(self, "vendor_weights", _weights(self.vendor_weights, self.vendors))
        rate = self.trips_per_second
        if rate is not None and (not _non_negative(rate) or rate == 0):
            raise ConfigError(f"trips_per_second must be > 0 or None: {self.trips_per_second!r}")
        for name in ("malformed_fraction", "out_of_order_fraction", "late_fraction"):
            _fraction(getattr(self, name), name)
        if self.out_of_order_fraction + self.late_fraction > 1:
            raise ConfigError("out_of_order_fraction + late_fraction must not exceed 1")
        if self.late_fraction and self.late_by_s <= self.max_out_of_order_s:
            raise ConfigError("late_by_s must exceed max_out_of_order_s (else late is not late)")


@dataclass(frozen=True, slots=True)
class SimBatch:
    """Consecutive simulated records, as two columns, and which of them are faulty."""

    keys: list[str]  # the partition key of each record: its trip id
    payloads: list[bytes]  # the JSON records
    malformed: dict[int, str]  # index in the records -> the Reason code a consumer must give
    late: list[int]  # indices of clean trips picked up late_by_s seconds early

    @property
    def entries(self) -> list[tuple[str, bytes]]:
        """The records as (partition key, JSON record) pairs, a new list each time."""
        return list(zip(self.keys, self.payloads, strict=True))


class Simulator:
    """The stream of simulated trips, pulled in batches of any size.

    Trips are drawn in blocks of BLOCK_SIZE, block b from PCG64 seeded by (seed, b), its
    payments and tips from a stream of their own seeded by (seed, b, 1), so the bytes never
    depend on how the stream is pulled. RENDER_BLOCKS blocks are computed together (BlockDraws
    draws each from its own generators), which gives the bytes of each block computed alone.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._id = f"s{self.config.seed}-"  # ids are unique: the seed, then a 10-digit counter
        self._vendor_ids = np.array([_vendor_json(v) for v in self.config.vendors], object)
        weights = np.asarray(self.config.vendor_weights or [1.0] * len(self.config.vendors))
        self._vendor_cdf = _cdf(weights / weights.sum())
        self._next_block = 0
        self._block = _Block([], [], [], [], [])
        self._offset = 0

    def batch(self, n: int) -> SimBatch:
        """The next ``n`` records of the stream."""
        _whole(n, "batch size", 0)
        out = SimBatch([], [], {}, [])
        while len(out.keys) < n:
            if self._offset == len(self._block.keys):
                self._block, self._offset = self._render(self._next_block), 0
                self._next_block += RENDER_BLOCKS
            stop = min(self._offset + n - len(out.keys), len(self._block.keys))
            self._block.copy_into(out, self._offset, stop)
            self._offset = stop
        return out

    def batches(
        self,
        batch_size: int,
        *,
        count: int | None = None,
        duration_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[SimBatch]:
        """Batches of at most ``batch_size``, paced to ``trips_per_second``, until a bound.

        Paced, a batch holds the trips already due (trip k is due k/rate s after the start) and
        ``duration_s`` bounds the trips due before it ends; unpaced, batches are full and
        ``duration_s`` stops the stream once that much clock time has passed.
        """
        _whole(batch_size, "batch_size", 1)
        rate = self.config.trips_per_second
        limit = _limit(count, duration_s, rate)
        started, sent = clock(), 0
        while limit is None or sent < limit:
            elapsed = clock() - started
            if rate is None and duration_s is not None and elapsed >= duration_s:
                return
            if rate is not None and duration_s is not None and elapsed >= duration_s + LAG_S:
                log.warning(
                    "could not keep %s trips/s: sent %d of %d trips", f"{rate:,g}", sent, limit
                )
                return
            n = batch_size if limit is None else min(batch_size, limit - sent)
            if rate is not None:
                due = math.floor(elapsed * rate) + 1 - sent
                if due <= 0:
                    sleep((sent - elapsed * rate) / rate)  # until trip `sent` is due
                    continue
                n = min(n, due)
            yield self.batch(n)
            sent += n

    def _render(self, block: int) -> _Block:
        """Blocks block..block+RENDER_BLOCKS-1: each drawn from its own generators, as alone."""
        first, n = block * BLOCK_SIZE, RENDER_BLOCKS * BLOCK_SIZE
        blocks = range(block, block + RENDER_BLOCKS)
        rng = BlockDraws([_generator(self.config.seed, (b,)) for b in blocks], BLOCK_SIZE)
        money_rng = BlockDraws([_generator(self.config.seed, (b, 1)) for b in blocks], BLOCK_SIZE)
        columns, late = self._columns(rng, money_rng, first, n)
        ids = _ids(self._id, first, n)
        records: list[bytes] = []
        for start in range(0, n, BLOCK_SIZE):  # the records a block at a time: they stay in cache
            part = slice(start, start + BLOCK_SIZE)
            fields = [column[part].tolist() for column in columns]
            trips = starmap(_WireTrip, zip(ids[part], *fields, strict=True))
            records += _lines(_encode_lines(list(trips)))
        at, reasons = inject_faults(rng, self.config.malformed_fraction, records)
        late[at] = False
        return _Block(ids, records, at, reasons, np.flatnonzero(late).tolist())

    def _columns(
        self, rng: Draws, money_rng: Draws, first: int, n: int
    ) -> tuple[list[NDArray[Any]], NDArray[np.bool_]]:
        """The record fields after the id, for trips first..first+n-1; and which are late."""
        vendor = _choice(rng, self._vendor_cdf, n)
        passengers = _choice(rng, PASSENGER_CDF, n) + 1
        plon, plat = pickups(rng, n)
        dlon, dlat, crow, road = dropoffs(rng, plon, plat)
        pickup_s, late = _pickup_seconds(self.config, rng, first, n)
        duration = durations(rng, road, pickup_s)
        google = google_durations(rng, duration)
        flags = np.where(rng.random(n) < STORE_AND_FWD_FRACTION, "Y", "N")
        numbers = (passengers, plon, plat, dlon, dlat, flags, crow, duration, road, google)
        times = [_iso(pickup_s, shared=True), _iso(pickup_s + duration)]
        milli = np.rint(road * 1000).astype(np.int64)
        ends = np.stack([plon, dlon]), np.stack([plat, dlat])
        trips = Trips(*ends, milli, duration, pickup_s + NEW_YORK_OFFSET_S)
        money = charges(trips, money_rng)
        amounts = [dollar_values(cents) for cents in (money.fare, money.tip, money.total)]
        return [self._vendor_ids[vendor], *times, *numbers, *amounts], late


@dataclass(frozen=True, slots=True)
class _Block:
    keys: list[str]
    payloads: list[bytes]
    malformed_at: list[int]  # ascending
    reasons: list[str]
    late: list[int]  # ascending

    def copy_into(self, out: SimBatch, start: int, stop: int) -> None:
        """Append records start..stop-1 to ``out``, with their faults."""
        base = len(out.keys) - start
        out.keys.extend(self.keys[start:stop])
        out.payloads.extend(self.payloads[start:stop])
        lo, hi = bisect_left(self.malformed_at, start), bisect_left(self.malformed_at, stop)
        for i, reason in zip(self.malformed_at[lo:hi], self.reasons[lo:hi], strict=True):
            out.malformed[base + i] = reason
        late = self.late[bisect_left(self.late, start) : bisect_left(self.late, stop)]
        out.late.extend(base + i for i in late)


def _generator(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    """PCG64 seeded by (seed, key): a block's trips, or with key (block, 1) its payments."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class _WireTrip(msgspec.Struct, gc=False):
    """The clean wire record (DESIGN section 3), field for field in the order written."""

    id: str
    vendorId: int | str
    pickupDate: str
    dropoffDate: str
    passengerCount: int
    pickupLongitude: float
    pickupLatitude: float
    dropoffLongitude: float
    dropoffLatitude: float
    storeAndFwdFlag: str
    gcDistance: float
    tripDuration: int
    googleDistance: float
    googleDuration: int
    fareAmount: float  # dollars, from whole cents (fares.dollars): at most two decimals
    tipAmount: float
    totalAmount: float


_encode_lines: Final = msgspec.json.Encoder().encode_lines  # one call for a block of records


def _lines(encoded: bytes) -> list[bytes]:
    """The records of ``encode_lines``'s output, without their newlines.

    ``readlines`` finds each newline with memchr, several times faster than ``split``, which
    looks at every byte; a record (a JSON object, no raw newline in it) ends with ``}``, so
    ``rstrip`` takes off only the newline.
    """
    return list(map(bytes.rstrip, io.BytesIO(encoded).readlines()))


def _ids(prefix: str, first: int, n: int) -> list[str]:
    """``prefix`` + each counter first..first+n-1 in 10 digits: its last 4 from a table."""
    ids: list[str] = []
    while len(ids) < n:
        high, low = divmod(first + len(ids), 10_000)
        head = f"{prefix}{high:06d}"
        ids += [head + digits for digits in _FOUR_DIGITS[low : low + n - len(ids)]]
    return ids


_FOUR_DIGITS: Final = tuple(f"{k:04d}" for k in range(10_000))


def _pickup_seconds(
    config: SimulatorConfig, rng: Draws, first: int, n: int
) -> tuple[_Ints, NDArray[np.bool_]]:
    """Pickups (epoch s) advancing at the rate, some moved early; and which were made late."""
    rate = config.trips_per_second or NOMINAL_TRIPS_PER_SECOND
    index = np.arange(first, first + n, dtype=np.int64)
    due_ms = config.start_ms + np.floor(index * (1000.0 / rate)).astype(np.int64)
    u = rng.random(n)
    early = rng.integers(1, config.max_out_of_order_s, size=n, endpoint=True)
    out_of_order = u < config.out_of_order_fraction
    late = ~out_of_order & (u < config.out_of_order_fraction + config.late_fraction)
    shift = np.where(out_of_order, early, 0) + np.where(late, config.late_by_s, 0)
    return due_ms // 1000 - shift, late


def _iso(seconds: _Ints, *, shared: bool = False) -> NDArray[np.object_]:
    """ISO-8601 text of epoch seconds with a UTC offset: date, then table look-ups for the time.

    ``shared``: many trips share each second (pickups do), so each distinct one is written once.
    """
    if shared:
        distinct, which = np.unique(seconds, return_inverse=True)
        texts: NDArray[np.object_] = _iso_text(distinct)[which]
        return texts
    return _iso_text(seconds)


def _iso_text(seconds: _Ints) -> NDArray[np.object_]:
    """The texts of epoch seconds: each distinct minute's date and time written once, then
    its seconds appended (a block's trips end in a few score minutes)."""
    minutes, secs = np.divmod(seconds, 60)
    distinct, which = np.unique(minutes, return_inverse=True)
    days, minute_of_day = np.divmod(distinct, 1440)
    unique_days, day_of = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(unique_days.astype("datetime64[D]")).astype(object)[day_of]
    heads = dates + _HOUR_MINUTES[minute_of_day]
    text: NDArray[np.object_] = heads[which] + _SECONDS_UTC[secs]
    return text


_HOUR_MINUTES: Final = np.array(
    [f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60)], object
)
_SECONDS_UTC: Final = np.array([f"{s:02d}+00:00" for s in range(60)], object)


def _vendor_json(vendor: str) -> int | str:
    """A vendor id as written: a number when it reads back as the same id, else a string."""
    if vendor.isascii() and vendor.isdigit() and len(vendor) < 19 and str(int(vendor)) == vendor:
        return int(vendor)
    return vendor


def _limit(count: int | None, duration_s: float | None, rate: float | None) -> int | None:
    """How many trips a bounded stream sends at most (None: no bound by number)."""
    if count is not None:
        _whole(count, "count", 0)
    if duration_s is not None and not _non_negative(duration_s):
        raise ConfigError(f"duration_s must be >= 0 or None, got {duration_s!r}")
    by_time = None if duration_s is None or rate is None else math.ceil(round(duration_s * rate, 6))
    bounds = [b for b in (count, by_time) if b is not None]
    return min(bounds) if bounds else None


def _whole(value: object, name: str, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}")


def _non_negative(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 0


def _fraction(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {value!r}")


def _vendors(vendors: Sequence[str]) -> tuple[str, ...]:
    if isinstance(vendors, str) or not vendors:
        raise ConfigError(f"vendors must be a non-empty sequence of vendor ids, got {vendors!r}")
    for vendor in vendors:
        try:
            valid = isinstance(vendor, str) and vendor_key(vendor) == vendor
        except RecordError:
            valid = False
        if not valid:
            raise ConfigError(f"vendor id {vendor!r} is not a short printable id without blanks")
    if len(set(vendors)) != len(vendors):
        raise ConfigError(f"vendor ids must be unique, got {vendors!r}")
    return tuple(vendors)


def _weights(weights: Sequence[float] | None, vendors: Sequence[str]) -> tuple[float, ...] | None:
    if weights is None:
        return None
    valid = len(weights) == len(vendors) and all(_non_negative(w) for w in weights)
    if not valid or not any(weights):
        raise ConfigError(
            f"vendor_weights must be {len(vendors)} finite numbers >= 0, not all 0: {weights!r}"
        )
    return tuple(float(w) for w in weights)
