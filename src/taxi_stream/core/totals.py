"""Exact, mergeable window totals: integers only, so merge is associative and commutative."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the trips of one (vendor, window): counts, thousandths of a mile, seconds, and
    money in cents (signed: refunds lower them).

    ``late_trips`` counts the trips among ``trip_count`` that came after their window closed
    (event clock: behind their shard's watermark).
    """

    trip_count: int = 0
    distance_milli: int = 0
    duration_s: int = 0
    passenger_count: int = 0
    fare_cents: int = 0
    tip_cents: int = 0
    amount_cents: int = 0
    late_trips: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.trip_count + other.trip_count,
            self.distance_milli + other.distance_milli,
            self.duration_s + other.duration_s,
            self.passenger_count + other.passenger_count,
            self.fare_cents + other.fare_cents,
            self.tip_cents + other.tip_cents,
            self.amount_cents + other.amount_cents,
            self.late_trips + other.late_trips,
        )

    def as_list(self) -> list[int]:
        """The sums as a list, in field order: [trips, distance_milli, duration_s, passengers,
        fare_cents, tip_cents, amount_cents, late_trips]."""
        return [
            self.trip_count,
            self.distance_milli,
            self.duration_s,
            self.passenger_count,
            self.fare_cents,
            self.tip_cents,
            self.amount_cents,
            self.late_trips,
        ]

    @property
    def distance_miles(self) -> float:
        """Total distance in miles (for display; the stored value is the exact integer)."""
        return self.distance_milli / 1000

    @property
    def avg_distance_miles(self) -> float | None:
        """Mean trip distance in miles, or None for an empty window."""
        return self.distance_milli / 1000 / self.trip_count if self.trip_count else None

    @property
    def avg_duration_s(self) -> float | None:
        """Mean trip duration in seconds, or None for an empty window."""
        return self.duration_s / self.trip_count if self.trip_count else None

    @property
    def avg_passengers(self) -> float | None:
        """Mean passengers per trip, or None for an empty window."""
        return self.passenger_count / self.trip_count if self.trip_count else None


ZERO: Final = Totals()

WindowKey = tuple[str, int]
"""(vendor id, window start in epoch ms)."""


def merge(parts: Iterable[Mapping[WindowKey, Totals]]) -> dict[WindowKey, Totals]:
    """Merge keyed totals; the result does not depend on the order or grouping of the parts."""
    out: dict[WindowKey, Totals] = {}
    for part in parts:
        for key, totals in part.items():
            out[key] = out.get(key, ZERO) + totals
    return out
