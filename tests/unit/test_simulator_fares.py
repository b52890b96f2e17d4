"""Simulated fares: the TLC rate card of 2022-12-19 in cents, and tips like the TLC sample's."""

from __future__ import annotations

import csv
import math
import re
import statistics
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.sources import fares
from taxi_stream.sources.places import JFK_BOX, LAGUARDIA_BOX, MANHATTAN, MANHATTAN_SOUTH_OF_96TH
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
NEW_YORK = timezone(timedelta(hours=-5))  # the simulator's New York time: EST all year

Point = tuple[float, float]
TIMES_SQUARE: Point = (-73.9855, 40.7580)
HARLEM: Point = (-73.9465, 40.8116)  # 125th Street, north of 96th
PARK_SLOPE: Point = (-73.9800, 40.6710)  # Brooklyn
PROSPECT_HEIGHTS: Point = (-73.9680, 40.6775)  # Brooklyn
WILLIAMSBURG: Point = (-73.9570, 40.7140)  # Brooklyn, across from the Lower East Side
EXCHANGE_PLACE: Point = (-74.0330, 40.7160)  # Jersey City, across from Lower Manhattan
ASTORIA: Point = (-73.9200, 40.7640)  # Queens
JFK: Point = (-73.7781, 40.6413)
LAGUARDIA: Point = (-73.8740, 40.7769)
TUESDAY_NOON = datetime(2024, 11, 12, 12, 0)  # New York time


# The rate card by hand, one trip at a time


def metered(miles: str, seconds: int) -> int:
    """$3.00 and 70 cents a completed unit: 1/5 mile, or 60 s beyond the time at 17 mph."""
    distance = Fraction(miles)
    slow = max(Fraction(0), seconds - distance * 3600 / 17)
    return 300 + 70 * math.floor(distance * 5 + slow / 60)


def ring(outline: Any) -> list[Point]:
    """An outline's polygon as a list of (longitude, latitude) vertices."""
    return [(lon, lat) for lon, lat in outline.ring.tolist()]


ZONE, ISLAND = ring(MANHATTAN_SOUTH_OF_96TH), ring(MANHATTAN)


def inside(polygon: list[Point], point: Point) -> bool:
    """Whether a point lies inside a polygon: count the edges a ray to the east crosses."""
    x, y = point
    odd = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            odd = not odd
    return odd


def crosses(polygon: list[Point], p: Point, q: Point) -> bool:
    """Whether the segment pq properly crosses an edge of a polygon."""

    def side(a: Point, b: Point, c: Point) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    edges = zip(polygon, polygon[1:] + polygon[:1], strict=True)
    return any(
        side(p, q, a) * side(p, q, b) < 0 and side(a, b, p) * side(a, b, q) < 0 for a, b in edges
    )


def at(box: tuple[float, float, float, float], point: Point) -> bool:
    """Whether a point lies in a (west, south, east, north) box."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def by_hand(
    pickup: Point, dropoff: Point, miles: str, seconds: int, when: datetime, *, holidays: set[date]
) -> tuple[int, int]:
    """A trip's fare and surcharges (cents) by the rate card; ``when`` is New York time."""
    flat = (at(JFK_BOX, pickup) and inside(ISLAND, dropoff)) or (
        inside(ISLAND, pickup) and at(JFK_BOX, dropoff)
    )
    rush = when.weekday() < 5 and when.date() not in holidays and 16 <= when.hour < 20
    overnight = when.hour >= 20 or when.hour < 6
    extra = 50 + 100  # MTA state surcharge, improvement surcharge
    if flat:
        extra += 500 if rush else 0  # the flat fare's own rush-hour surcharge, no overnight one
    else:
        extra += (250 if rush else 0) + (100 if overnight else 0)
    if inside(ZONE, pickup) or inside(ZONE, dropoff) or crosses(ZONE, pickup, dropoff):
        extra += 250
    if at(LAGUARDIA_BOX, pickup) or at(LAGUARDIA_BOX, dropoff):
        extra += 500
    if at(JFK_BOX, pickup) or at(LAGUARDIA_BOX, pickup):
        extra += 175
    return (7000 if flat else metered(miles, seconds)), extra


def trips(*cases: tuple[Point, Point, str, int, datetime]) -> fares.Trips:
    """Hand-made trips: (pickup, dropoff, miles, seconds, New York pickup time) each."""
    local = [int((when - datetime(1970, 1, 1)).total_seconds()) for *_, when in cases]
    return fares.Trips(
        lon=np.array([[c[0][0] for c in cases], [c[1][0] for c in cases]]),
        lat=np.array([[c[0][1] for c in cases], [c[1][1] for c in cases]]),
        road_milli=np.array([round(Fraction(c[2]) * 1000) for c in cases], np.int64),
        duration_s=np.array([c[3] for c in cases], np.int64),
        pickup_local_s=np.array(local, np.int64),
    )


def cents(amount: float) -> int:
    """Dollars as written (a JSON number) in whole cents; fails on a fraction of a cent."""
    exact = Fraction(repr(amount)) * 100
    assert exact.denominator == 1, amount
    return int(exact)


# The meter


@pytest.mark.parametrize(
    ("miles", "seconds", "fare"),
    [
        ("1.000", 180, 650),  # 20 mph: 5 units of distance
        ("1.000", 600, 1070),  # 5 units of distance, 388 s beyond 17 mph: 6 of time
        ("2.500", 900, 1560),  # 12.5 + 6.2 units: 18
        ("0.000", 600, 1000),  # waiting 10 minutes: 10 units
        ("0.100", 30, 300),  # half a unit of distance, 9 s of time: no unit completed
        ("0.199", 42, 300),  # 0.995 of a unit
        ("0.200", 42, 370),  # one unit exactly, no time beyond 17 mph
    ],
)
def test_meter_charges_initial_charge_and_completed_units(
    miles: str, seconds: int, fare: int
) -> None:
    """A metered fare is $3.00 plus 70 cents per completed 1/5 mile or slow minute."""
    case = (PARK_SLOPE, PROSPECT_HEIGHTS, miles, seconds, TUESDAY_NOON)
    assert metered(miles, seconds) == fare
    assert fares.rate_card(trips(case))[0].tolist() == [fare]


@settings(max_examples=300, deadline=None)
@given(milli=st.integers(0, 40_000), seconds=st.integers(0, 86_400))
def test_meter_equals_the_hand_computation_for_any_trip(milli: int, seconds: int) -> None:
    """Any distance and duration is metered as the exact per-trip computation says."""
    expected = metered(f"{milli // 1000}.{milli % 1000:03d}", seconds)
    got = fares.meter_cents(np.array([milli], np.int64), np.array([seconds], np.int64))
    assert got.tolist() == [expected]


# Surcharges


@pytest.mark.parametrize(
    ("when", "surcharges"),
    [
        (datetime(2024, 11, 12, 15, 59), 150),  # Tuesday afternoon: MTA 0.50, improvement 1.00
        (datetime(2024, 11, 12, 16, 0), 400),  # rush hour: + 2.50
        (datetime(2024, 11, 12, 19, 59), 400),
        (datetime(2024, 11, 12, 20, 0), 250),  # overnight: + 1.00
        (datetime(2024, 11, 13, 5, 59), 250),
        (datetime(2024, 11, 13, 6, 0), 150),
        (datetime(2024, 11, 16, 17, 0), 150),  # Saturday: no rush hour
        (datetime(2024, 11, 17, 21, 0), 250),  # Sunday night
        (datetime(2024, 11, 11, 17, 0), 150),  # Veterans Day, a Monday
        (datetime(2024, 11, 28, 17, 0), 150),  # Thanksgiving
        (datetime(2024, 11, 29, 17, 0), 400),  # the Friday after
        (datetime(2025, 5, 26, 17, 0), 150),  # Memorial Day
        (datetime(2025, 5, 19, 17, 0), 400),  # the Monday before
    ],
)
def test_surcharges_follow_the_hour_and_the_weekday(when: datetime, surcharges: int) -> None:
    """Rush hour is 4-8 pm on weekdays but holidays, overnight 8 pm-6 am, every day."""
    case = (PARK_SLOPE, PROSPECT_HEIGHTS, "1.000", 300, when)
    holidays = {date(2024, 11, 11), date(2024, 11, 28), date(2025, 5, 26)}
    assert by_hand(*case, holidays=holidays)[1] == surcharges
    assert fares.rate_card(trips(case))[1].tolist() == [surcharges]


@pytest.mark.parametrize(
    ("pickup", "dropoff", "surcharges"),
    [
        (TIMES_SQUARE, TIMES_SQUARE, 400),  # in the congestion zone: + 2.50
        (PARK_SLOPE, TIMES_SQUARE, 400),  # ends in it
        (TIMES_SQUARE, HARLEM, 400),  # starts in it
        (HARLEM, HARLEM, 150),  # Manhattan north of 96th Street
        (WILLIAMSBURG, EXCHANGE_PLACE, 400),  # passes through Lower Manhattan
        (PARK_SLOPE, ASTORIA, 150),  # passes east of Manhattan
        (LAGUARDIA, ASTORIA, 825),  # LaGuardia + 5.00, airport access fee + 1.75
        (ASTORIA, LAGUARDIA, 650),  # to LaGuardia: no access fee
        (JFK, PARK_SLOPE, 325),  # JFK pickup, metered: access fee
    ],
)
def test_surcharges_follow_where_the_trip_goes(
    pickup: Point, dropoff: Point, surcharges: int
) -> None:
    """Congestion, LaGuardia and airport-access charges apply by the places a trip touches."""
    case = (pickup, dropoff, "3.000", 900, TUESDAY_NOON)
    assert by_hand(*case, holidays=set())[1] == surcharges
    assert fares.rate_card(trips(case))[1].tolist() == [surcharges]


@pytest.mark.parametrize(
    ("pickup", "dropoff", "when", "surcharges"),
    [
        (JFK, TIMES_SQUARE, TUESDAY_NOON, 575),  # + congestion 2.50, access fee 1.75
        (TIMES_SQUARE, JFK, datetime(2024, 11, 12, 17, 0), 900),  # + rush hour 5.00
        (JFK, TIMES_SQUARE, datetime(2024, 11, 12, 23, 0), 575),  # no overnight surcharge
        (JFK, HARLEM, TUESDAY_NOON, 325),  # Manhattan, but north of 96th Street
    ],
)
def test_jfk_manhattan_trips_pay_the_flat_fare(
    pickup: Point, dropoff: Point, when: datetime, surcharges: int
) -> None:
    """Between JFK and Manhattan the fare is $70 whatever the meter, plus what applies."""
    case = (pickup, dropoff, "17.500", 3600, when)
    assert by_hand(*case, holidays=set()) == (7000, surcharges)
    fare, extra = fares.rate_card(trips(case))
    assert (fare.tolist(), extra.tolist()) == ([7000], [surcharges])


# Tips


def test_trips_not_paid_by_card_and_card_trips_without_a_tip_tip_nothing() -> None:
    """Cash (and no-charge, disputed) trips and untipped card trips have a tip of 0."""
    before_tip = np.array([350, 1999, 7575, 12_000], np.int64)
    u = np.array([0.0, 0.3, 0.7, 0.999])
    for kind in (fares.TIP_KINDS.index("not card"), fares.TIP_KINDS.index("card, no tip")):
        tip = fares.tips(before_tip, np.full(4, kind), u)
        assert tip.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("kind", "before_tip", "tip"),
    [
        ("20%", 1999, 400),  # 399.8 cents
        ("25%", 1999, 500),  # 499.75
        ("30%", 1999, 600),  # 599.7
        ("25%", 1002, 251),  # 250.5: half a cent rounds up
        ("20%", 650, 130),
    ],
)
def test_screen_tips_are_the_suggested_percentages_to_the_cent(
    kind: str, before_tip: int, tip: int
) -> None:
    """A tip chosen on the taxi screen is 20, 25 or 30% of the amount, rounded to a cent."""
    got = fares.tips(np.array([before_tip]), np.array([fares.TIP_KINDS.index(kind)]), np.zeros(1))
    assert got.tolist() == [tip]


def test_custom_tips_are_whole_dollars_or_cents_and_never_nothing() -> None:
    """Custom whole-dollar tips are >= $1 in whole dollars; other custom tips >= 1 cent."""
    before_tip = np.repeat(np.array([300, 1000, 2500, 9000], np.int64), 250)
    u = np.tile(np.linspace(0.0, 1.0, 250, endpoint=False), 4)
    dollars = fares.tips(before_tip, np.full(1000, fares.TIP_KINDS.index("dollars")), u)
    cents_ = fares.tips(before_tip, np.full(1000, fares.TIP_KINDS.index("cents")), u)
    assert (dollars % 100 == 0).all()
    assert (dollars >= 100).all()
    assert (cents_ >= 1).all()
    assert (cents_ % 100 != 0).any()
    assert (cents_ < before_tip).all()


def tip_statistics(pairs: list[tuple[int, int]]) -> tuple[float, float, float, float]:
    """Share of trips tipped; median and lower quartile of tip / (total - tip) of those;
    and the share of those tips within a cent of 20% of the amount before the tip."""
    tipped = [(tip, total - tip) for tip, total in pairs if tip > 0 and total > tip]
    ratios = [tip / before for tip, before in tipped]
    twenty = sum(abs(tip - before / 5) <= 1 for tip, before in tipped)
    quartile = statistics.quantiles(ratios, n=4)[0]
    return len(tipped) / len(pairs), statistics.median(ratios), quartile, twenty / len(tipped)


def test_tips_are_spread_like_the_tlc_samples() -> None:
    """Tipped share, median and quartile tip ratio, 20% share: as in the TLC sample."""
    with SAMPLE.open(newline="") as sample:
        rows = list(csv.DictReader(sample))
    real = tip_statistics(
        [(cents(float(r["tip_amount"])), cents(float(r["total_amount"]))) for r in rows]
    )
    records = [
        msgspec.json.decode(d) for _, d in Simulator(SimulatorConfig(seed=5)).batch(50_000).entries
    ]
    simulated = tip_statistics([(cents(r["tipAmount"]), cents(r["totalAmount"])) for r in records])
    assert simulated[0] == pytest.approx(real[0], abs=0.015)
    assert simulated[1] == pytest.approx(real[1], abs=0.005)
    assert simulated[2] == pytest.approx(real[2], abs=0.02)
    assert simulated[3] == pytest.approx(real[3], abs=0.03)


# The records


SUNDAY_MIDNIGHT_MS = 1_731_214_800_000  # 2024-11-10T00:00:00-05:00


@pytest.fixture(scope="module")
def week() -> list[dict[str, Any]]:
    """20,000 records picked up 20 s apart: Sunday 2024-11-10 to Thursday, New York time."""
    config = SimulatorConfig(seed=9, start_ms=SUNDAY_MIDNIGHT_MS, trips_per_second=0.05)
    return [msgspec.json.decode(data) for _, data in Simulator(config).batch(20_000).entries]


def test_every_record_is_priced_by_the_rate_card(week: list[dict[str, Any]]) -> None:
    """Each record's fare and total - tip - fare are the rate card's, computed per trip."""
    first, last = (datetime.fromisoformat(week[i]["pickupDate"]) for i in (0, -1))
    assert (first.astimezone(NEW_YORK).date(), last.astimezone(NEW_YORK).date()) == (
        date(2024, 11, 10),
        date(2024, 11, 14),
    )
    for r in week:
        pickup = (r["pickupLongitude"], r["pickupLatitude"])
        dropoff = (r["dropoffLongitude"], r["dropoffLatitude"])
        when = datetime.fromisoformat(r["pickupDate"]).astimezone(NEW_YORK)
        fare, extra = by_hand(
            pickup,
            dropoff,
            repr(r["googleDistance"]),
            r["tripDuration"],
            when,
            holidays={date(2024, 11, 11)},
        )
        assert cents(r["fareAmount"]) == fare, r
        assert cents(r["totalAmount"]) == fare + extra + cents(r["tipAmount"]), r


def test_the_week_meets_every_kind_of_surcharge(week: list[dict[str, Any]]) -> None:
    """The priced week has trips in and out of rush hours, nights, the zone and at airports."""
    extras = {
        cents(r["totalAmount"]) - cents(r["fareAmount"]) - cents(r["tipAmount"]) for r in week
    }
    # base 150; + rush 250 or + night 100; + zone 250; JFK pickup + 175; LaGuardia + 500 + 175
    assert {150, 400, 250, 500, 650, 325, 825} <= extras


MONEY = re.compile(rb'"(fareAmount|tipAmount|totalAmount)":(-?[0-9]+(?:\.[0-9]+)?)[,}]')


def test_amounts_are_written_in_dollars_with_at_most_two_decimals() -> None:
    """Every record carries the three amounts as JSON numbers with one or two decimals."""
    for _, data in Simulator(SimulatorConfig(seed=2)).batch(10_000).entries:
        amounts = MONEY.findall(data)
        assert [key for key, _ in amounts] == [b"fareAmount", b"tipAmount", b"totalAmount"]
        assert all(re.fullmatch(rb"[0-9]+\.[0-9]{1,2}", text) for _, text in amounts), data


def test_cents_are_written_as_their_shortest_dollar_text() -> None:
    """Each amount 0..$10,000 is written as dollars.cents, trailing zero dropped: 12.3, 12.0."""
    all_cents = np.arange(1_000_001, dtype=np.int64)
    written = msgspec.json.encode(fares.dollars(all_cents))[1:-1].split(b",")
    expected = [f"{c // 100}.{c % 100:02d}" for c in range(1_000_001)]
    expected = [text[:-1] if text.endswith("0") else text for text in expected]
    assert [text.decode() for text in written] == expected
    assert msgspec.json.encode(fares.dollars(np.array([1230, 1200, 5]))) == b"[12.3,12.0,0.05]"
