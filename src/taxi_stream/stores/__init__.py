"""Where window totals, dead letters and checkpoints live: the interfaces every store implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from taxi_stream.core.errors import ConfigError
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

    def check_window(self, seconds: int, clock: str) -> None:
        """Record the windows the store holds on first use; ConfigError for other ones."""
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

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters): the two sides of the accounting line."""
        ...


def windows_label(clock: str, seconds: int) -> str:
    """How a store records the windows it holds, e.g. ``arrival 60``."""
    return f"{clock} {seconds}"


def windows_mismatch(store: str, have: str, want: str) -> ConfigError:
    """The error for a store that holds other windows than asked (they would add into one row)."""
    clock, _, seconds = have.partition(" ")
    return ConfigError(
        f"{store} holds {clock}-clock windows of {seconds} s, not {want.replace(' ', '-clock ')} s:"
        f" use --clock {clock} --window-seconds {seconds}, or another --data-dir / --store"
    )
