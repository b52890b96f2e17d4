"""The simulator's draws of where a trip goes and how long it takes: NYC places, miles, speeds.

Pure functions of their draws (a numpy Generator, or BlockDraws over several blocks'); the
simulator calls them in a fixed order per block, so the same seed gives the same trips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

NYC_BOUNDS: Final = (-74.2591, 40.4774, -73.7004, 40.9176)  # west, south, east, north: 5 boroughs
NEW_YORK_OFFSET_S: Final = -5 * 3600  # Eastern Standard Time; daylight saving is ignored

# Trips with 1..6 passengers in the first 10,000 rows of the TLC yellow-taxi file of November
# 2024 (yellow_tripdata_2024-11; the 63 rows with 0 passengers are left out).
_PASSENGER_COUNTS: Final = (7298, 1722, 473, 320, 78, 46)
STORE_AND_FWD_FRACTION: Final = 33 / 10_000  # "Y" flags in the same 10,000 rows

# Road speed (mph) by hour of day in New York: 8-12 mph from the morning rush to the evening,
# 15-20 mph at night. Shaped after the Kaggle NYC trip-duration sample (crow-flies speed times
# the road/crow-flies ratio of about 1.3 seen in the 2015 TLC sample).
_MPH_BY_HOUR: Final = np.array(
    [
        (14, 15, 16, 17, 19, 20, 16, 12, 10, 9.5, 9, 9),  # from midnight
        (8.5, 8.5, 8.5, 9, 9, 8.5, 9, 10, 11, 12, 13, 13.5),  # from noon
    ]
).ravel()

# Pickup hot spots: longitude, latitude, spread (degrees), share. Manhattan has about 80%.
_HOTSPOTS: Final = np.array(
    [
        (-73.982, 40.755, 0.012, 0.42),  # Midtown
        (-74.004, 40.722, 0.010, 0.20),  # Lower Manhattan
        (-73.960, 40.782, 0.012, 0.18),  # Upper East and West Sides
        (-73.960, 40.690, 0.020, 0.08),  # Brooklyn
        (-73.925, 40.752, 0.018, 0.05),  # Long Island City, Astoria
        (-73.874, 40.774, 0.003, 0.03),  # LaGuardia
        (-73.782, 40.644, 0.004, 0.04),  # JFK
    ]
)
_EARTH_RADIUS_MILES: Final = 3958.8
_MILES_PER_DEGREE_LAT: Final = 69.05
_MIN_ROAD_MILES: Final = 0.05
_MIN_TRIP_S: Final = 60

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
_T = TypeVar("_T", bound=np.generic)


class Draws(Protocol):
    """The draws the simulator makes: those of ``np.random.Generator`` it calls, by size."""

    def random(self, size: int) -> Floats:
        """Uniform on [0, 1)."""
        ...

    def standard_normal(self, size: int) -> Floats:
        """Normal, mean 0, deviation 1."""
        ...

    def lognormal(self, mean: float, sigma: float, size: int) -> Floats:
        """Lognormal of the normal's mean and deviation."""
        ...

    def uniform(self, low: float, high: float, size: int) -> Floats:
        """Uniform on [low, high)."""
        ...

    def integers(
        self, low: int, high: int | None = None, *, size: int, endpoint: bool = False
    ) -> Ints:
        """Whole numbers from low (0 when high is None) to high (included with endpoint)."""
        ...


class BlockDraws:
    """The draws of several blocks at once, their generators in order, each ``size`` trips.

    Each call of n = size * blocks draws ``size`` from every block's generator in turn and joins
    them, so every generator makes the very calls it makes when its block is drawn alone, and
    block b's trips are elements b * size .. (b + 1) * size - 1 of every array.
    """

    def __init__(self, generators: Sequence[np.random.Generator], size: int) -> None:
        self._generators, self._size = tuple(generators), size

    def _each(self, n: int, draw: Callable[[np.random.Generator, int], NDArray[_T]]) -> NDArray[_T]:
        if n != self._size * len(self._generators):
            raise ValueError(f"{n} draws for {len(self._generators)} blocks of {self._size}")
        out: NDArray[_T] = np.concatenate([draw(g, self._size) for g in self._generators])
        return out

    def random(self, size: int) -> Floats:
        """Uniform on [0, 1), block by block."""
        out: Floats = self._each(size, lambda g, k: g.random(k))
        return out

    def standard_normal(self, size: int) -> Floats:
        """Normal, mean 0, deviation 1, block by block."""
        out: Floats = self._each(size, lambda g, k: g.standard_normal(k))
        return out

    def lognormal(self, mean: float, sigma: float, size: int) -> Floats:
        """Lognormal, block by block."""
        out: Floats = self._each(size, lambda g, k: g.lognormal(mean, sigma, k))
        return out

    def uniform(self, low: float, high: float, size: int) -> Floats:
        """Uniform on [low, high), block by block."""
        out: Floats = self._each(size, lambda g, k: g.uniform(low, high, k))
        return out

    def integers(
        self, low: int, high: int | None = None, *, size: int, endpoint: bool = False
    ) -> Ints:
        """Whole numbers, block by block."""
        out: Ints = self._each(size, lambda g, k: g.integers(low, high, size=k, endpoint=endpoint))
        return out


def cdf(p: Floats) -> Floats:
    """The cumulative probabilities ``Generator.choice`` draws from, as it computes them."""
    total: Floats = p.cumsum()
    total /= total[-1]
    return total


def choice(rng: Draws, cdf: Floats, n: int) -> Ints:
    """``rng.choice(len(cdf), size=n, p=p)`` for the ``p`` of ``cdf``: the same draws and
    indices (numpy looks each uniform draw up in the cdf), without checking ``p`` each block."""
    index: Ints = cdf.searchsorted(rng.random(n), side="right")
    return index


PASSENGER_CDF: Final = cdf(np.divide(_PASSENGER_COUNTS, sum(_PASSENGER_COUNTS)))
_HOTSPOT_CDF: Final = cdf(_HOTSPOTS[:, 3])


def pickups(rng: Draws, n: int) -> tuple[Floats, Floats]:
    """Pickup points around the hot spots, inside NYC."""
    spot = choice(rng, _HOTSPOT_CDF, n)
    spread = _HOTSPOTS[spot, 2]
    lon = _HOTSPOTS[spot, 0] + rng.standard_normal(n) * spread
    lat = _HOTSPOTS[spot, 1] + rng.standard_normal(n) * spread
    return _inside_nyc(lon, lat)


def dropoffs(rng: Draws, plon: Floats, plat: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """Dropoff points, then crow-flies and road miles (3 decimals, crow-flies <= road)."""
    n = len(plon)
    road = np.clip(rng.lognormal(math.log(1.8), 0.9, n), 0.2, 25.0)  # TLC median 1.7 mi
    detour = np.clip(1 + 0.3 * rng.lognormal(0.0, 0.55, n), 1.0, 2.5)  # road / crow-flies
    heading = rng.uniform(0.0, 2 * math.pi, n)
    reach = road / detour / _MILES_PER_DEGREE_LAT  # degrees of latitude
    east = reach * np.sin(heading) / np.cos(np.radians(plat))
    dlon, dlat = _inside_nyc(plon + east, plat + reach * np.cos(heading))
    crow = _haversine_miles(plon, plat, dlon, dlat)
    road = np.maximum(crow * detour, _MIN_ROAD_MILES)
    return dlon, dlat, np.round(crow, 3), np.round(road, 3)


def _inside_nyc(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    west, south, east, north = NYC_BOUNDS
    return lon.clip(west, east).round(6), lat.clip(south, north).round(6)


def _haversine_miles(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    half_lon = np.radians(lon2 - lon1) / 2
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(half_lon) ** 2
    miles: Floats = 2 * _EARTH_RADIUS_MILES * np.arcsin(np.sqrt(a))
    return miles


def durations(rng: Draws, road: Floats, pickup_s: Ints) -> Ints:
    """Whole seconds to drive ``road`` miles at a speed typical of the pickup hour."""
    hour = (pickup_s + NEW_YORK_OFFSET_S) // 3600 % 24
    mph = np.clip(_MPH_BY_HOUR[hour] * rng.lognormal(0.0, 0.25, len(road)), 4.0, 40.0)
    return np.maximum(np.rint(road / mph * 3600), _MIN_TRIP_S).astype(np.int64)


def google_durations(rng: Draws, duration: Ints) -> Ints:
    """A route estimate within 15% of the metered time, never exactly equal to it."""
    google = np.rint(duration * rng.uniform(0.85, 1.15, len(duration))).astype(np.int64)
    google[google == duration] += 1
    return google
