"""Where totals, dead letters and checkpoints live: SQLite, DynamoDB, memory; shared rules."""

from __future__ import annotations

from typing import Final

from taxi_stream.core.errors import ConfigError

DEFAULT_TABLE: Final = "my-dynamodb-table"  # the DynamoDB table's default name (the seed's)


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
