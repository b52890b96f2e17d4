"""Where window totals, dead letters and checkpoints live: the interfaces every store implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from taxi_stream.core.records import Contribution, DeadLetter, WindowTotals


class TotalsStore(Protocol):
    """The write side: apply contributions at most once, keep dead letters."""

    def apply(self, contributions: Sequence[Contribution]) -> int:
        """Apply each contribution not applied before; return how many were new.

        A contribution whose id was already applied is a success that changes nothing.
        Infrastructure failures raise StoreError.
        """
        ...

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters, idempotently by ``letter_id``; return how many were new."""
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

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        ...
