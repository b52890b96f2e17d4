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
└── ServerStartError       a local AWS implementation (kinesalite, dynalite) is missing or
                           did not start
"""

from __future__ import annotations


class TaxiStreamError(Exception):
    """Root of every error raised by taxi-stream."""


class ConfigError(TaxiStreamError):
    """A configuration value or command-line flag is invalid."""


class SourceError(TaxiStreamError):
    """A trip file cannot be replayed: its columns match no known layout, or it cannot be read."""


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


class ServerStartError(TaxiStreamError):
    """A local server (kinesalite, dynalite) could not be started; the message says why."""
