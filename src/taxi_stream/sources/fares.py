"""Fares and tips of simulated trips: the TLC yellow-taxi rate card of 2022-12-19, in cents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
from numpy.typing import NDArray

from taxi_stream.sources.places import (
    JFK_BOX,
    LAGUARDIA_BOX,
    MANHATTAN,
    MANHATTAN_SOUTH_OF_96TH,
    in_box,
)
from taxi_stream.sources.simdraw import Draws

# The rate card in force since 2022-12-19 (docs/records.md, "Simulated fares"), in cents.
INITIAL_CENTS: Final = 300
UNIT_CENTS: Final = 70  # per 1/5 mile at 12 mph or more, per 60 seconds below
MTA_TAX_CENTS: Final = 50
IMPROVEMENT_CENTS: Final = 100
OVERNIGHT_CENTS: Final = 100  # pickups from 8 pm to 6 am
RUSH_HOUR_CENTS: Final = 250  # pickups from 4 pm to 8 pm on weekdays that are not holidays
CONGESTION_CENTS: Final = 250  # trips that start, end or pass through Manhattan below 96th St
LAGUARDIA_CENTS: Final = 500  # trips to or from LaGuardia
JFK_FLAT_CENTS: Final = 7000  # trips between JFK and Manhattan, instead of the meter
JFK_RUSH_HOUR_CENTS: Final = 500  # flat-fare trips in the rush hour, instead of RUSH_HOUR_CENTS
AIRPORT_FEE_CENTS: Final = 175  # pickups at LaGuardia and JFK (Port Authority access fee)

# The meter, two speeds: a trip covers its distance at FREE_FLOW_MPH, metered by distance,
# and spends the rest of its time slow or stopped, metered by time; the meter charges completed
# units. Fitted to the 9,289 standard-rate trips (RatecodeID 1) of at least 0.1 mile whose fare
# is $3.00 plus whole units, in the first 10,000 rows of yellow_tripdata_2024-11: at 17 mph the
# model gives their mean number of units (20.1) within 0.01 of a unit, 33% of fares exactly and
# 68% within one unit; at 12 mph it falls 2.5 units ($1.75) short on average.
FREE_FLOW_MPH: Final = 17

# How the same 10,000 rows paid: 8,590 by credit card (payment_type 1), 1,040 cash, 68 no charge,
# 302 disputed; only card tips are on record. The 8,590 card tips, as a share of the amount
# before the tip (fare, surcharges, tolls and airport fee: what the taxi screen's suggestions
# are computed on), within a cent: none 874, 20% 3,871, 25% 398, 30% 155, a custom amount in
# whole dollars 1,960, any other amount 1,332. So a trip pays by TIP_KINDS, in these numbers:
TIP_KINDS: Final = ("not card", "card, no tip", "20%", "25%", "30%", "dollars", "cents")
_TRIPS_BY_KIND: Final = (1410, 874, 3871, 398, 155, 1960, 1332)
_KIND_CDF: Final = np.cumsum(_TRIPS_BY_KIND[:-1]) / sum(_TRIPS_BY_KIND)
_PERCENT_BY_KIND: Final = np.array([0, 0, 20, 25, 30, 0, 0])
DOLLARS: Final = 5  # the kinds of custom tips
CENTS: Final = 6
# The deciles of tip / amount of the two custom kinds, the 1st and 99th percentiles at the ends.
_DECILES: Final = np.linspace(0.0, 1.0, 11)
_DOLLAR_TIP_RATIOS: Final = (0.028, 0.05, 0.064, 0.078, 0.088, 0.101, 0.121, 0.136, 0.157, 0.198)
_CENT_TIP_RATIOS: Final = (0.001, 0.073, 0.1, 0.12, 0.15, 0.185, 0.198, 0.199, 0.199, 0.239)
_TOP_RATIOS: Final = (0.557, 0.299)  # the 99th percentiles of whole-dollar and other tips

_Floats = NDArray[np.float64]
_Ints = NDArray[np.int64]
_Bools = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Trips:
    """What the rate card looks at, one array element per trip."""

    lon: _Floats  # (2, n): pickup longitudes, then dropoff longitudes
    lat: _Floats  # (2, n): the same for latitudes
    road_milli: _Ints  # road distance, thousandths of a mile
    duration_s: _Ints
    pickup_local_s: _Ints  # the pickup in New York local time, seconds from 1970-01-01 00:00


@dataclass(frozen=True, slots=True)
class Charges:
    """What each trip costs, in cents: total = fare + surcharges + tip."""

    fare: _Ints  # the meter, or the JFK flat fare
    surcharges: _Ints  # every surcharge and fee on top of the fare
    tip: _Ints

    @property
    def total(self) -> _Ints:
        total: _Ints = self.fare + self.surcharges + self.tip
        return total


def charges(trips: Trips, rng: Draws) -> Charges:
    """The fare and surcharges by the rate card; a share of trips paid by card, and their tips."""
    fare, surcharges = rate_card(trips)
    kind = np.searchsorted(_KIND_CDF, rng.random(len(fare)), side="right")
    return Charges(fare, surcharges, tips(fare + surcharges, kind, rng.random(len(fare))))


def dollars(cents: _Ints) -> list[float]:
    """Cents as dollars, each the double nearest to cents / 100 (written with <= 2 decimals)."""
    out: list[float] = dollar_values(cents).tolist()
    return out


def dollar_values(cents: _Ints) -> _Floats:
    """``dollars`` as an array: the double nearest to cents / 100 for each."""
    out: _Floats = np.divide(cents, 100)
    return out


def rate_card(trips: Trips) -> tuple[_Ints, _Ints]:
    """Fares and surcharges (cents) of trips by the rate card."""
    t = trips
    jfk, laguardia = in_box(JFK_BOX, t.lon, t.lat), in_box(LAGUARDIA_BOX, t.lon, t.lat)
    flat = _jfk_flat(t, jfk)
    fare = np.where(flat, JFK_FLAT_CENTS, meter_cents(t.road_milli, t.duration_s))
    hour = t.pickup_local_s // 3600 % 24
    rush = _workday(t.pickup_local_s // 86_400) & _RUSH_HOUR[hour]
    by_time = rush * RUSH_HOUR_CENTS + _OVERNIGHT[hour] * OVERNIGHT_CENTS
    surcharges = (
        MTA_TAX_CENTS
        + IMPROVEMENT_CENTS
        + np.where(flat, rush * JFK_RUSH_HOUR_CENTS, by_time)
        + _congestion_zone(t) * CONGESTION_CENTS
        + (laguardia[0] | laguardia[1]) * LAGUARDIA_CENTS
        + (jfk[0] | laguardia[0]) * AIRPORT_FEE_CENTS
    )
    return fare.astype(np.int64), surcharges.astype(np.int64)


_RUSH_HOUR: Final = np.isin(np.arange(24), range(16, 20))  # by pickup hour, New York time
_OVERNIGHT: Final = np.isin(np.arange(24), (*range(20, 24), *range(6)))


def meter_cents(road_milli: _Ints, duration_s: _Ints) -> _Ints:
    """The metered fare of the two-speed model: initial charge plus completed units.

    A unit is 1/5 mile (road_milli / 200) or 60 s of the time beyond what the distance takes at
    FREE_FLOW_MPH (road_milli * 3.6 / FREE_FLOW_MPH s); all in integers, scaled by 600 * mph.
    """
    mph = FREE_FLOW_MPH
    slow = np.maximum(10 * mph * duration_s - 36 * road_milli, 0)
    units = (3 * mph * road_milli + slow) // (600 * mph)
    fare: _Ints = INITIAL_CENTS + UNIT_CENTS * units
    return fare


def tips(before_tip: _Ints, kind: _Ints, u: _Floats) -> _Ints:
    """Tips (cents) by kind (an index into TIP_KINDS) on the amounts before the tip.

    The screen's 20/25/30% are rounded to the cent, half a cent up; a custom tip takes the
    ratio at quantile ``u`` (0..1) of its kind, to whole dollars or to the cent, at least one.
    """
    screen = (before_tip * _PERCENT_BY_KIND[kind] + 50) // 100
    dollar_ratio = np.interp(u, _DECILES, (*_DOLLAR_TIP_RATIOS, _TOP_RATIOS[0]))
    cent_ratio = np.interp(u, _DECILES, (*_CENT_TIP_RATIOS, _TOP_RATIOS[1]))
    dollars = np.maximum(np.rint(before_tip * dollar_ratio / 100), 1) * 100
    cents = np.maximum(np.rint(before_tip * cent_ratio), 1)
    tip = np.where(kind == DOLLARS, dollars, np.where(kind == CENTS, cents, screen))
    out: _Ints = tip.astype(np.int64)
    return out


def _jfk_flat(trips: Trips, jfk: _Bools) -> _Bools:
    """Which trips run between JFK and Manhattan (either way): the flat fare."""
    t, flat = trips, np.zeros(jfk.shape[1], bool)
    for at_jfk, other_end in ((jfk[0], 1), (jfk[1], 0)):
        if at_jfk.any():
            lon, lat = t.lon[other_end, at_jfk], t.lat[other_end, at_jfk]
            flat[at_jfk] |= MANHATTAN.contains(lon, lat)
    return flat


def _congestion_zone(trips: Trips) -> _Bools:
    """Which trips start, end or pass (as the crow flies) through Manhattan south of 96th St."""
    t, zone = trips, MANHATTAN_SOUTH_OF_96TH
    inside = zone.contains(t.lon, t.lat)
    touched: _Bools = inside[0] | inside[1]
    (west, south), (east, north) = zone.ring.min(axis=0), zone.ring.max(axis=0)
    near = ~touched & (t.lon.max(axis=0) >= west) & (t.lon.min(axis=0) <= east)
    near &= (t.lat.max(axis=0) >= south) & (t.lat.min(axis=0) <= north)
    if near.any():
        touched[near] = zone.crossed(t.lon[0, near], t.lat[0, near], t.lon[1, near], t.lat[1, near])
    return touched


def _workday(local_days: _Ints) -> _Bools:
    """Which days (from 1970-01-01, New York time) are weekdays other than holidays."""
    first = int(local_days.min())
    span = int(local_days.max()) - first + 1
    if span <= len(local_days):  # the usual case: a few days, looked up in a table
        table = np.array([_is_workday(first + day) for day in range(span)], bool)
        return table[local_days - first]
    days, which = np.unique(local_days, return_inverse=True)
    return np.array([_is_workday(int(day)) for day in days], bool)[which]


@lru_cache(maxsize=4096)
def _is_workday(day: int) -> bool:
    """Whether day (from 1970-01-01) is a weekday other than a holiday."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return date.weekday() < 5 and date not in _holidays(date.year)


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[dt.date]:
    """The eleven US federal holidays of a year, on their own dates (none moved to a Friday)."""

    def nth(month: int, weekday: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    last_monday_of_may = nth(5, 0, 5) if nth(5, 0, 5).month == 5 else nth(5, 0, 4)
    fixed = ((1, 1), (6, 19), (7, 4), (11, 11), (12, 25))
    by_weekday = (nth(1, 0, 3), nth(2, 0, 3), nth(9, 0, 1), nth(10, 0, 2), nth(11, 3, 4))
    return frozenset({*(dt.date(year, m, d) for m, d in fixed), *by_weekday, last_monday_of_may})
