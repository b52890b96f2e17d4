"""Timestamp columns by the core's rules, memoised: instants in ``Stamps``, dropoffs checked once.

The batch path (``function/columns.py``) reads a chunk's ``pickupDate`` column into instants and
checks its ``dropoffDate`` column with the very rules ``codec._fast`` applies to one record:
``codec.remember`` (the core's timestamp rule and pickup range) for an instant, and
``core.trip.parse_timestamp`` (``datetime.fromisoformat`` of the stripped text) for a dropoff
that is only checked. Both rules give the same verdict for the same text every time, so a text
already read need not be read again:

- ``Stamps`` maps a text to its instant in the handler's zone; a text in it passed the pickup
  rule, so it is also a valid dropoff.
- ``Checked`` holds the dropoff texts ``fromisoformat`` took (whatever the zone: the check does
  not read it). A text it rejected is never kept, so it is rejected again wherever it comes.

Each memo is its owner's (one per handler) and bounded: at ``STAMPS_MAX`` texts it starts anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from itertools import compress, repeat
from operator import is_
from typing import Any

from taxi_stream.core.trip import parse_timestamp
from taxi_stream.function.codec import STAMPS_MAX, Stamps, remember

Checked = set[str]
"""Dropoff texts known to be ISO-8601 (``parse_timestamp`` takes them): a cache its owner keeps."""


def instants(texts: Sequence[str], name: str, naive_tz: tzinfo, stamps: Stamps) -> list[Any]:
    """Each text's instant by the core's rule (memoised in ``stamps``); None where it rejects."""
    found: list[Any] = list(map(stamps.get, texts))
    if None not in found:
        return found
    fresh: dict[str, int] = {}
    for text in set(compress(texts, map(is_, found, repeat(None)))):
        try:
            fresh[text] = remember(stamps, text, name, naive_tz)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001, S112 -- decode_values gives this record its verdict
            continue
    return [ms if ms is not None else fresh.get(text) for ms, text in zip(found, texts)]  # noqa: B905


def dropoff_instants(
    texts: Sequence[Any],
    pickup: list[int],
    duration: Sequence[int],
    naive_tz: tzinfo,
    stamps: Stamps,
) -> list[Any]:
    """The dropoff instants: ``dropoffDate`` where it is given, else pickup + duration."""
    given = iter(instants([text for text in texts if text], "dropoffDate", naive_tz, stamps))
    return [
        next(given) if text else start + seconds * 1000
        for text, start, seconds in zip(texts, pickup, duration)  # noqa: B905 -- equal lengths
    ]


def unparsed(texts: Sequence[Any], stamps: Stamps, checked: Checked) -> list[int]:
    """Positions of a ``dropoffDate`` given but not ISO-8601; the new texts that are go in
    ``checked`` (a text in ``stamps`` or ``checked`` is not parsed again)."""
    new = set(texts).difference(stamps).difference(checked)  # each pass over the chunk's texts
    new.discard(None)
    new.discard("")
    if not new:
        return []
    try:  # one C-level pass over the new texts: parse_timestamp's own call
        list(map(datetime.fromisoformat, map(str.strip, new)))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 -- some text is rejected: find which, one by one
        rejected = {text for text in new if not _parses(text)}
        _keep(checked, new - rejected)
        return [k for k, text in enumerate(texts) if text in rejected]
    _keep(checked, new)
    return []


def _keep(checked: Checked, texts: set[str]) -> None:
    if len(checked) >= STAMPS_MAX:
        checked.clear()
    checked |= texts


def _parses(text: str) -> bool:
    try:
        parse_timestamp(text, "dropoffDate")
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 -- decode_values gives this record its verdict
        return False
    return True
