"""Money and zone fields: dollars to exact cents, signed refunds, clear rejections, fast path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.trip import parse_trip
from taxi_stream.function import codec
from taxi_stream.function.codec import decode_values

BASE: dict[str, Any] = {
    "vendorId": 2,
    "pickupDate": "2024-11-25T08:00:00+00:00",
    "googleDistance": 1.5,
    "tripDuration": 600,
    "passengerCount": 1,
}


def money(data: dict[str, Any]) -> tuple[int, int, int]:
    """(fare, tip, total) cents of a record with BASE's other fields, by the core rules."""
    trip = parse_trip({**BASE, **data})
    return trip.fare_cents, trip.tip_cents, trip.amount_cents


def test_absent_money_is_zero_cents() -> None:
    """A record without money fields (or with null or empty ones) adds 0 cents."""
    assert money({}) == (0, 0, 0)
    assert money({"fareAmount": None, "tipAmount": "", "totalAmount": "  "}) == (0, 0, 0)


def test_dollars_as_numbers_or_text_become_exact_cents() -> None:
    """Numbers and numeric strings (blanks around them allowed) are read as dollars."""
    assert money({"fareAmount": 12.8, "tipAmount": " 3.16", "totalAmount": 21}) == (1280, 316, 2100)
    assert money({"fareAmount": "0.1", "tipAmount": 0.29, "totalAmount": "1e2"}) == (10, 29, 10000)


def test_negative_amounts_are_kept_signed() -> None:
    """A TLC void or refund is a negative amount: summed as it is, not rejected."""
    assert money({"fareAmount": -7.2, "tipAmount": "-0.01", "totalAmount": -9.7}) == (
        -720,
        -1,
        -970,
    )


@pytest.mark.parametrize(
    ("dollars", "cents"),
    [(12.345, 1235), (-12.345, -1235), ("2.675", 268), (2.675, 268), (0.125, 13), (1.004, 100)],
)
def test_more_than_two_decimals_round_to_the_cent_halves_away_from_zero(
    dollars: Any, cents: int
) -> None:
    """Half a cent rounds away from zero, as the decimal text reads (not its binary double)."""
    assert money({"fareAmount": dollars})[0] == cents


def test_the_bound_is_100000_dollars_either_way() -> None:
    """±100,000 US dollars is accepted; a cent beyond it is absurd and rejected."""
    assert money({"totalAmount": -100_000, "fareAmount": "100000.00"}) == (
        10_000_000,
        0,
        -10_000_000,
    )
    for value in (100_000.01, "-100000.01", 1e300):
        with pytest.raises(RecordError, match="outside ±100,000 US dollars") as caught:
            money({"tipAmount": value})
        assert caught.value.reason == Reason.BAD_AMOUNT


@pytest.mark.parametrize("value", ["12,50", "$5", "NaN", "inf", "1e400", True, [1], {"usd": 1}])
def test_malformed_or_non_finite_money_is_a_bad_amount(value: Any) -> None:
    """Money that is present but not a finite number is rejected with reason bad_amount."""
    with pytest.raises(RecordError) as caught:
        money({"fareAmount": value})
    assert caught.value.reason == Reason.BAD_AMOUNT
    assert "fareAmount" in caught.value.message


@pytest.mark.parametrize("zone", [1, 132, 264, 265, "265", " 7 ", 7.0, None, ""])
def test_tlc_zone_ids_including_the_unknown_264_and_265_are_valid(zone: Any) -> None:
    """puLocationId/doLocationId 1..265 (whole numbers, as text too) or absent are accepted."""
    parse_trip({**BASE, "puLocationId": zone, "doLocationId": zone})


@pytest.mark.parametrize("zone", [0, 266, -1, 7.5, "seven", "7,0", False])
def test_a_malformed_zone_id_is_a_bad_zone(zone: Any) -> None:
    """A present zone id that is not a whole number 1..265 is rejected with reason bad_zone."""
    with pytest.raises(RecordError) as caught:
        parse_trip({**BASE, "doLocationId": zone})
    assert caught.value.reason == Reason.BAD_ZONE
    assert "doLocationId" in caught.value.message


def test_clean_records_with_money_and_zones_stay_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A clean record with the five new fields is decoded by the typed path alone."""

    def no_fallback(*_args: Any) -> Any:
        raise AssertionError("the record fell to the core rules")

    monkeypatch.setattr(codec, "parse_trip", no_fallback)
    record = {**BASE, "fareAmount": 19.8, "tipAmount": 4.0, "totalAmount": 28.55,
              "puLocationId": 161, "doLocationId": 264}  # fmt: skip
    values = decode_values(json.dumps(record).encode())
    assert values[5:] == (1980, 400, 2855)


def test_the_fast_path_reads_refunds_and_half_cents_like_the_core() -> None:
    """Negative and three-decimal amounts give the same cents on both paths."""
    record = {**BASE, "fareAmount": -12.345, "tipAmount": 0.125, "totalAmount": -0.005}
    assert decode_values(json.dumps(record).encode())[5:] == (-1235, 13, -1)
    assert money(record) == (-1235, 13, -1)


def test_a_record_bad_before_the_money_keeps_its_reason() -> None:
    """Money and zones are checked last: a record with no vendor and a bad fare is still
    missing_vendor, as it was before money was read."""
    record = {**BASE, "vendorId": None, "fareAmount": "twelve", "puLocationId": 999}
    with pytest.raises(RecordError) as caught:
        parse_trip(record)
    assert caught.value.reason == Reason.MISSING_VENDOR
