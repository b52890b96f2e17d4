"""Money and place fields of a trip: US dollars on the wire to exact cents, TLC zone ids checked.

Rules (docs/records.md, "Money and zones"):

- ``fareAmount``, ``tipAmount``, ``totalAmount``: a JSON number or a string holding one, in US
  dollars; absent (or null, or an empty string) is 0 cents. Negative amounts (TLC voids and
  refunds) are kept and summed signed. The amount is rounded to the nearest cent, halves away
  from zero, as its decimal text reads (a JSON number: the shortest text of its double, so
  ``12.345`` is 1235 cents and ``-12.345`` is -1235). Malformed, not finite, or beyond
  ±MAX_AMOUNT_USD is a rejection (``bad_amount``).
- ``puLocationId``, ``doLocationId``: optional TLC zone ids, whole numbers 1..MAX_ZONE_ID (264
  and 265 are TLC's "unknown" zones, valid); anything else present is a rejection
  (``bad_zone``). They are checked, not totalled.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from taxi_stream.core.errors import Reason, RecordError, quoted
from taxi_stream.core.numbers import number

MAX_AMOUNT_USD: Final = 100_000  # beyond this an amount is a data error, not a taxi fare
MAX_ZONE_ID: Final = 265  # TLC zone lookup: 1..263 places, 264 and 265 "unknown"
AMOUNT_FIELDS: Final = ("fareAmount", "tipAmount", "totalAmount")
ZONE_FIELDS: Final = ("puLocationId", "doLocationId")
_NEAR_HALF: Final = 1e-6  # of a cent: float products closer than this to a half take Decimal


def amount_cents(fields: Mapping[str, Any], name: str) -> int:
    """The field ``name`` in exact cents: 0 when absent; RecordError(bad_amount) if malformed."""
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    try:
        dollars = number(value, name)
    except RecordError as exc:
        raise RecordError(Reason.BAD_AMOUNT, exc.message) from None
    return cents(dollars, name)


def cents(dollars: float | int, name: str) -> int:
    """Dollars (finite) as whole cents, halves away from zero; RecordError beyond the bound."""
    if not -MAX_AMOUNT_USD <= dollars <= MAX_AMOUNT_USD:
        raise RecordError(
            Reason.BAD_AMOUNT, f"{name} {dollars} is outside ±{MAX_AMOUNT_USD:,} US dollars"
        )
    if isinstance(dollars, int):
        return dollars * 100
    scaled = dollars * 100
    whole = round(scaled)
    if abs(abs(scaled - whole) - 0.5) > _NEAR_HALF:
        return whole  # not near a half cent: the float product rounds as the decimal does
    exact = Decimal(repr(dollars)).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(exact)


def check_zones(fields: Mapping[str, Any]) -> None:
    """RecordError(bad_zone) for a present zone id that is not a whole number 1..MAX_ZONE_ID."""
    for name in ZONE_FIELDS:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            zone = number(value, name)
        except RecordError as exc:
            raise RecordError(Reason.BAD_ZONE, exc.message) from None
        if not (float(zone).is_integer() and 1 <= zone <= MAX_ZONE_ID):
            raise RecordError(
                Reason.BAD_ZONE, f"{name} {quoted(value)} is not a TLC zone id 1..{MAX_ZONE_ID}"
            )
