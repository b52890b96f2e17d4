"""The interfaces every adapter implements: streams, totals stores and their query side,
checkpoint stores, failure destinations. The contract suites under tests/contract run each
against every adapter; app/wiring.py builds the adapters and hands them out as these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from taxi_stream.core.records import (
    Contribution,
    DeadLetter,
    PutResult,
    ReadResult,
    ShardInfo,
    WindowTotals,
)
from taxi_stream.core.watermarks import Watermark

if TYPE_CHECKING:
    from taxi_stream.runner.checkpoint import Checkpoint


class StreamWriter(Protocol):
    """The producer side."""

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        """Append (partition key, data) entries; never report success for one not accepted."""
        ...


@runtime_checkable
class ColumnWriter(Protocol):
    """A producer side that also takes a put as two columns (the embedded stream does)."""

    def put_columns(self, keys: Sequence[str], payloads: Sequence[bytes]) -> PutResult:
        """``put_records`` of ``zip(keys, payloads)``: the same records, the same failures."""
        ...


class StreamReader(Protocol):
    """The consumer side, shard by shard, from a checkpoint."""

    @property
    def name(self) -> str:
        """The stream's name (used in origins and contribution ids)."""
        ...

    def list_shards(self) -> list[ShardInfo]:
        """Every shard, open and closed, with parents."""
        ...

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Up to ``limit`` records after sequence number ``after`` (None: from the start)."""
        ...


class Stream(StreamWriter, StreamReader, Protocol):
    """Both sides of a stream, as wiring opens it; ``close`` frees its connections."""

    def close(self) -> None:
        """Free the connections; the stream is not used after."""
        ...


class CountingStream(Protocol):
    """A stream that counts every record it ever took (the embedded log does; Kinesis cannot)."""

    def appended(self) -> int:
        """How many records were ever appended; retention trims do not lower it."""
        ...


class TotalsStore(Protocol):
    """The write side: apply contributions at most once, keep dead letters."""

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Apply each contribution not applied before; return how many were new.

        A contribution whose id was already applied is a success that changes nothing.
        ``watermark`` (event clock) is the shard's, written with the contributions it covers:
        in the same transaction, or after them; it is kept only when it does not move the
        stored one back. Infrastructure failures raise StoreError.
        """
        ...

    def watermark(self, stream: str, shard_id: str) -> Watermark | None:
        """The shard's stored watermark (None: none yet); read at the start of a window part."""
        ...

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters, idempotently by ``letter_id``; return how many were new."""
        ...

    def claim_windows(self, seconds: int, clock: str) -> None:
        """Claim the store for these windows on first use; ConfigError if it holds other ones."""
        ...

    def claim_stream(self, stream: str, checkpoints_id: str, where: str) -> None:
        """Claim ``stream`` for one checkpoint store (``checkpoints_id``, kept at ``where``).

        The first claim of a stream is recorded; a later one with another id is refused with
        ConfigError: exactly-once rests on one checkpoint history per stream and store.
        """
        ...


class TotalsQuery(Protocol):
    """The read side: window totals and dead letters."""

    def windows(
        self,
        vendor_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms), ordered by vendor then start."""
        ...

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest first (``newest_first``: newest first), at most ``limit``."""
        ...

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters): the two sides of the accounting line."""
        ...

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters per reason, every one of them, in every store."""
        ...

    def watermarks(self) -> list[Watermark]:
        """Every shard's watermark (event clock), by stream and shard: finality is read off them."""
        ...


@runtime_checkable
class VendorIndex(Protocol):
    """A store that can name its vendors without reading every window (an index walk).

    DynamoDB cannot (its partition keys are listed only by a Scan of the whole table), so
    a read side asks ``isinstance(store, VendorIndex)`` before it names vendors.
    """

    def vendors(self, limit: int) -> list[str]:
        """The first ``limit`` vendor ids that have windows, in order."""
        ...


class Store(TotalsStore, TotalsQuery, Protocol):
    """Both sides of a totals store, as wiring opens it; ``close`` frees its connections."""

    def close(self) -> None:
        """Free the connections; the store is not used after."""
        ...


class UnitOfWork(Protocol):
    """One transaction on a checkpoint store: what is written through it commits together."""

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint when the unit of work commits (never, if it rolls back)."""
        ...


W_co = TypeVar("W_co", bound=UnitOfWork, covariant=True)


class CheckpointStore(Protocol[W_co]):
    """Durable per-shard positions, saved alone or inside a unit of work."""

    def identity(self) -> str:
        """This checkpoint store's id: made once, the same for as long as the store lives."""
        ...

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> Checkpoint | None:
        """The saved checkpoint, if any."""
        ...

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint in a unit of work of its own."""
        ...

    def unit_of_work(self) -> AbstractContextManager[W_co]:
        """Open a unit of work: it commits when the block ends and rolls back when it raises.

        One at a time per store, and only through the unit itself: a write to the store while
        one is open raises StoreError. An in-process handler joins it by being handed it.
        """
        ...


class FailureDestination(Protocol):
    """Receives one invocation record per discarded batch."""

    @property
    def description(self) -> str:
        """Where the records go, for people."""
        ...

    def send(self, record: dict[str, Any]) -> None:
        """Deliver one record durably; raise DestinationError when that is not possible."""
        ...
