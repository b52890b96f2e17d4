"""One exception root for taxi-stream; every error the project raises descends from it.

TaxiStreamError
├── ConfigError            a setting or flag value is out of range or malformed
├── SourceError            a trip file cannot be replayed (unknown layout, unreadable, bad column)
├── RecordError            one record cannot be understood; it is dead-lettered, never raised
│                          past the handler (carries a reason code and a message)
├── StreamError            reading or writing a stream failed (infrastructure: the batch retries)
│   └── RecordTooLargeError  one record exceeds the stream's size limit (that record only)
├── StoreError             reading or writing a store failed (infrastructure: the batch retries)
│   └── StoreUnavailableError  the SQLite file is locked or busy (transient: the batch retries)
├── DestinationError       an on-failure destination did not take a discarded batch's record
│                          (infrastructure: the discard is retried before the shard moves on)
├── DamagedDatabaseError   a SQLite file (the embedded stream or the local store) is corrupt or
│                          no database at all: retrying cannot fix it, so the runner stops and
│                          the command exits non-zero (restore the file, or use a new one)
├── HandlerContractError   a handler broke the Lambda contract (e.g. returned no state)
│   ├── FunctionTimeoutError  the handler did not return before its deadline (Lambda's
│   │                         "Task timed out after N seconds")
│   └── FunctionResponseError  the runtime could not send what the handler returned (not
│                              serialisable as JSON, or over the 6 MB response limit)
└── ServerStartError       a local AWS implementation (kinesalite, dynalite) is missing or
                           did not start

``Reason`` holds the reason codes a RecordError (and so a dead letter) carries.
"""

from __future__ import annotations

from typing import Final


class TaxiStreamError(Exception):
    """Root of every error raised by taxi-stream."""


class ConfigError(TaxiStreamError):
    """A configuration value or command-line flag is invalid."""


class SourceError(TaxiStreamError):
    """A trip file cannot be replayed: its columns match no known layout, or it cannot be read."""


class Reason:
    """Reason codes of rejected records (stable strings: they are stored with dead letters)."""

    NOT_KINESIS: Final = "not_kinesis_record"
    NOT_BASE64: Final = "not_base64"
    NOT_UTF8: Final = "not_utf8"
    NOT_JSON: Final = "not_json"
    NOT_OBJECT: Final = "not_object"
    TOO_LARGE: Final = "too_large"
    BAD_ENVELOPE: Final = "bad_oversize_envelope"
    TOO_DEEP: Final = "too_deep"
    UNDECODABLE: Final = "undecodable"
    MISSING_VENDOR: Final = "missing_vendor"
    BAD_VENDOR: Final = "bad_vendor"
    MISSING_FIELD: Final = "missing_field"
    BAD_CSV_ROW: Final = "bad_csv_row"  # a replayed CSV row that does not fit its header
    BAD_NUMBER: Final = "bad_number"
    BAD_DISTANCE: Final = "bad_distance"
    BAD_DURATION: Final = "bad_duration"
    BAD_PASSENGERS: Final = "bad_passenger_count"
    BAD_TIMESTAMP: Final = "bad_timestamp"
    BAD_COORDINATE: Final = "bad_coordinate"
    BAD_FLAG: Final = "bad_store_and_fwd_flag"
    BAD_AMOUNT: Final = "bad_amount"
    BAD_ZONE: Final = "bad_zone"
    BAD_AGGREGATE: Final = "bad_kpl_aggregate"
    EVENT_TOO_EARLY: Final = "event_before_2009"  # event clock: before TLC records began
    EVENT_IN_FUTURE: Final = "event_in_future"  # event clock: over a day after its arrival
    LATE: Final = "late"  # event clock, --late dead-letter: behind its shard's watermark


QUOTE_CHARS: Final = 80  # of a record's value quoted in a message; the dead letter has it all


def quoted(value: object) -> str:
    """A record's value as a message quotes it: its repr, at most 80 characters (cut with an
    ellipsis), so a huge field does not make a huge message."""
    text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


class RecordError(TaxiStreamError):
    """A record that cannot be understood, with a machine-readable reason code.

    ``raw`` is what its dead letter keeps instead of the record's own bytes (None: those).
    """

    def __init__(self, reason: str, message: str, *, raw: bytes | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.raw = raw


class StreamError(TaxiStreamError):
    """A stream operation failed; the caller retries the batch."""


class RecordTooLargeError(StreamError):
    """One record is larger than the stream accepts."""


class ForeignCheckpointError(ConfigError):
    """A checkpoint names a sequence number the stream never had: it came from an earlier
    stream of the same name (deleted and created again). No retry can mend it."""


class StoreError(TaxiStreamError):
    """A store operation failed; the caller retries the batch."""


class StoreUnavailableError(StoreError):
    """A SQLite file is locked or busy (another process holds it); the caller retries."""


class DestinationError(TaxiStreamError):
    """An on-failure destination could not take a record; the discard is retried."""


class DamagedDatabaseError(TaxiStreamError):
    """A SQLite file is corrupt or not a database: no retry can fix it, so nothing retries it."""


class HandlerContractError(TaxiStreamError):
    """A handler's response broke the Lambda Kinesis tumbling-window contract."""


class FunctionTimeoutError(HandlerContractError):
    """An invocation outlived its deadline: a function error, recognised by this type alone."""


class FunctionResponseError(HandlerContractError):
    """The runtime could not send the handler's response: a function error, as a raise is."""


class ServerStartError(TaxiStreamError):
    """A local server (kinesalite, dynalite) could not be started; the message says why."""
