"""The dashboard's JSON for a window and a dead letter: the keys `query --format json` prints.

A window row is built from the fields of ``WindowTotals`` and ``Totals`` as they are, so a
total added to them later (money in cents, late trips, a ``final`` flag) appears in the API
and on the page without a change here: known fields get the names `query` gives them, others
their camelCase name.
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
from collections.abc import Callable
from typing import Final

from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import Totals
from taxi_stream.views.cells import sequence_label, shard_label, size

Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
Row = dict[str, Json]

TOTAL_KEYS: Final = {  # Totals field -> JSON key, as `query --format json` names them
    "trip_count": "tripCount",
    "distance_milli": "totalDistanceMiles",  # shown in miles, exact to the thousandth
    "duration_s": "totalDurationSeconds",
    "passenger_count": "passengerCount",
    "fare_cents": "totalFare",
    "tip_cents": "totalTip",
    "amount_cents": "totalAmount",
    "late_trips": "lateTrips",
}
_WINDOW_DONE: Final = {  # WindowTotals fields the row spells itself
    "vendor_id",
    "window_start_ms",
    "window_end_ms",
    "totals",
    "contributions",
    "clock",
    "updated_ms",
}


def camel(name: str) -> str:
    """``late_trips`` as ``lateTrips``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def totals_row(totals: Totals) -> Row:
    """Every sum of a window under its JSON key, then the averages per trip."""
    row: Row = {}
    for field in dataclasses.fields(totals):
        value = getattr(totals, field.name)
        key = TOTAL_KEYS.get(field.name, camel(field.name))
        row[key] = value / 1000 if field.name == "distance_milli" else value
    miles, seconds = totals.avg_distance_miles, totals.avg_duration_s
    row["avgDistanceMiles"] = None if miles is None else round(miles, 3)
    row["avgDurationSeconds"] = None if seconds is None else round(seconds, 1)
    return row


def window_row(window: WindowTotals, final: Callable[[WindowTotals], bool] | None = None) -> Row:
    """One (vendor, window) as the API returns it; ``windowStartMs`` places it on a chart.

    ``final`` decides whether the window is final (as ``query`` decides it, on read).
    """
    row: Row = {
        "vendorId": window.vendor_id,
        "windowStart": iso_utc(window.window_start_ms),
        "windowEnd": iso_utc(window.window_end_ms),
        "windowStartMs": window.window_start_ms,
        **totals_row(window.totals),
        "contributions": window.contributions,
        "clock": str(window.clock),
        "updatedAt": iso_utc(window.updated_ms),
    }
    if final is not None:
        row["final"] = final(window)
    for field in dataclasses.fields(window):
        if field.name not in _WINDOW_DONE:
            value = getattr(window, field.name)
            if value is None or isinstance(value, str | int | float | bool):
                row[camel(field.name)] = value
    return row


def letter_row(letter: DeadLetter, preview_bytes: int | None = None) -> Row:
    """A dead letter with its bytes twice: as text (invalid UTF-8 replaced) and as base64.

    ``preview_bytes``: only the first that many bytes go into ``raw`` and ``rawBase64`` (a
    character cut at the end is left out of ``raw``), and as many characters of the message
    (which can quote a record's field); ``rawBytes`` is the whole length, ``rawTruncated`` and
    ``messageTruncated`` say what was cut. The page puts ``raw`` into the document as text
    only, never as markup.
    """
    o = letter.origin
    sub = "" if o.sub_sequence is None else f"#{o.sub_sequence}"
    cut = preview_bytes is not None and len(letter.raw) > preview_bytes
    shown = letter.raw[:preview_bytes] if cut else letter.raw
    long = preview_bytes is not None and len(letter.message) > preview_bytes
    return {
        "reason": letter.reason,
        "message": letter.message[:preview_bytes] if long else letter.message,
        "messageTruncated": long,
        "stream": o.stream,
        "shardId": o.shard_id,
        "shard": shard_label(o.shard_id),
        "sequenceNumber": o.sequence_number,
        "sequence": sequence_label(o.sequence_number) + sub,
        "subSequence": o.sub_sequence,
        "arrival": None if o.arrival_ms is None else iso_utc(o.arrival_ms),
        "raw": _text(shown, cut=cut),
        "rawBase64": base64.b64encode(shown).decode("ascii"),
        "rawBytes": len(letter.raw),
        "rawTruncated": cut,
        "size": size(len(letter.raw)),
    }


def _text(raw: bytes, *, cut: bool) -> str:
    """The bytes as UTF-8, invalid bytes replaced; when ``cut``, a character the cut split at
    the end is left out rather than shown as a replacement."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(raw, final=not cut)
