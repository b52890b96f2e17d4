"""Epoch milliseconds and ISO-8601 UTC, both ways, exactly: integer arithmetic, no float rounding.

Two renderings: ``iso_utc`` (whole seconds without a fraction, ``2024-11-25T08:00:00Z``; the
window keys, which are whole seconds, so they sort in time as text) and ``iso_ms`` (always
milliseconds, ``2024-11-25T08:00:00.250Z``; fixed width, so any instants sort in time as text,
as Lambda writes its timestamps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def to_epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime."""
    return (moment - EPOCH) // _ONE_MS


def from_epoch_ms(ts_ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ts_ms)


def iso_utc(ts_ms: int) -> str:
    """ISO-8601 UTC with a Z: second precision when whole, else milliseconds."""
    spec = "milliseconds" if ts_ms % 1000 else "seconds"
    return from_epoch_ms(ts_ms).isoformat(timespec=spec).replace("+00:00", "Z")


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with a Z and milliseconds always present."""
    return from_epoch_ms(ts_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 timestamp; one without an offset is read as UTC.

    ValueError for text that is not ISO-8601.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_epoch_ms(moment)
