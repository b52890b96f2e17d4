"""Kinesis and Lambda limits, each defined once, and the partition-key rule both streams apply.

Kinesis Data Streams (API reference: PutRecords, PutRecordsRequestEntry):

- a record is at most 1 MiB, its data plus its partition key (the key's UTF-8 bytes);
- a PutRecords call carries at most 500 records and 5 MiB (data plus partition keys);
- a partition key is 1..256 characters. The reference states the bounds ("Length Constraints:
  Minimum length of 1. Maximum length of 256.") but not what a character is. Both streams
  count UTF-16 code units, as kinesalite does (and as Java's ``String.length()`` counts): a
  character outside the Basic Multilingual Plane, such as an emoji, counts two. That is the
  stricter reading: 256 units are never more than 256 code points, so a key accepted here is
  accepted whichever way Kinesis counts. A key UTF-8 cannot encode (a lone surrogate) is refused
  too: Kinesis hashes, and stores, the key's UTF-8 bytes.

Lambda, for a Kinesis event source with tumbling windows:

- BatchSize is 1..10,000 records; a synchronous invocation's payload is at most 6 MB
  (6,291,456 bytes); the window state is at most 1 MB (1,048,576 bytes) per shard;
- TumblingWindowInSeconds is 1..900.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

MAX_RECORD_BYTES: Final = 1_048_576  # a Kinesis record: data + partition key
MAX_BATCH_RECORDS: Final = 500  # records in one PutRecords call
MAX_BATCH_BYTES: Final = 5_242_880  # one PutRecords call: 5 MiB of data + partition keys
MAX_KEY_UNITS: Final = 256  # a partition key's length, in UTF-16 code units
MAX_PAYLOAD_BYTES: Final = 6_291_456  # Lambda's synchronous invocation payload (6 MB)
MAX_STATE_BYTES: Final = 1_048_576  # "Your state can be a maximum of 1 MB per shard"
MAX_BATCH_SIZE: Final = 10_000  # the BatchSize maximum for a Kinesis event source
MIN_WINDOW_S: Final = 1  # TumblingWindowInSeconds minimum
MAX_WINDOW_S: Final = 900  # TumblingWindowInSeconds maximum


def key_units(key: str) -> int:
    """A partition key's length as the limit counts it: UTF-16 code units (an emoji is two)."""
    if key.isascii():
        return len(key)
    return len(key.encode("utf-16-le", "surrogatepass")) // 2


def key_bytes(key: str) -> int:
    """The bytes a partition key adds to a record (UTF-8; a lone surrogate as its 3 bytes)."""
    return len(key.encode("utf-8", "surrogatepass"))


def record_bytes(key: str, data: bytes) -> int:
    """A record's size as the 1 MiB record limit and the 5 MiB call limit count it."""
    return len(data) + key_bytes(key)


def entry_problem(key: str, data: bytes) -> str | None:
    """Why a stream refuses the entry (partition key, data), reason code first; None: it fits."""
    if key.isascii():  # the common case: one byte and one unit per character
        units = key_size = len(key)
    else:
        try:
            key_size = len(key.encode())
        except UnicodeEncodeError:
            return "bad_partition_key: not encodable as UTF-8 (a lone surrogate)"
        units = key_units(key)
    if not 1 <= units <= MAX_KEY_UNITS:
        return f"bad_partition_key: must be 1..{MAX_KEY_UNITS} characters, got {units}"
    size = len(data) + key_size
    if size > MAX_RECORD_BYTES:
        return f"too_large: {size} bytes (data + partition key) is over the 1 MiB record limit"
    return None


def entry_problems(keys: Sequence[str], payloads: Sequence[bytes]) -> list[tuple[int, str]]:
    """(index, ``entry_problem``) of every entry a stream refuses, in order; [] if all fit.

    Checked over the batch first: ASCII keys of 1..256 characters, and the longest payload
    with the longest key within 1 MiB, mean that every entry fits. Else entry by entry.
    """
    if "".join(keys).isascii():
        key_lengths = list(map(len, keys))
        shortest, longest = min(key_lengths, default=1), max(key_lengths, default=0)
        fits = shortest >= 1 and longest <= MAX_KEY_UNITS
        if fits and longest + max(map(len, payloads), default=0) <= MAX_RECORD_BYTES:
            return []
    problems = map(entry_problem, keys, payloads)
    return [(index, problem) for index, problem in enumerate(problems) if problem is not None]


def accepted(
    entries: Sequence[tuple[str, bytes]],
) -> tuple[list[str], list[bytes], list[tuple[int, str]]]:
    """The keys and payloads (as bytes) of the entries a stream takes; (index, why) of the rest."""
    return accepted_columns([key for key, _ in entries], [data for _, data in entries])


def accepted_columns(
    keys: Sequence[str], payloads: Sequence[bytes]
) -> tuple[list[str], list[bytes], list[tuple[int, str]]]:
    """``accepted`` of the entries ``zip(keys, payloads)``, given as two columns."""
    keys, payloads = list(keys), list(payloads)
    failed = entry_problems(keys, payloads)
    if failed:
        refused = {index for index, _ in failed}
        keys = [key for index, key in enumerate(keys) if index not in refused]
        payloads = [data for index, data in enumerate(payloads) if index not in refused]
    if not set(map(type, payloads)) <= {bytes}:
        payloads = [bytes(data) for data in payloads]
    return keys, payloads, failed


def fit_key(text: str) -> str:
    """The longest start of ``text`` that is short enough for a partition key (whole characters)."""
    if len(text) <= MAX_KEY_UNITS // 2:
        return text  # even all astral, at most 256 units
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > MAX_KEY_UNITS:
            return text[:index]
    return text
