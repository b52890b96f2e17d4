"""Where totals, dead letters and checkpoints live: SQLite, DynamoDB, memory; shared rules."""

from __future__ import annotations

from typing import Final

from taxi_stream.core.errors import ConfigError

DEFAULT_TABLE: Final = "my-dynamodb-table"  # the DynamoDB table's default name (the seed's)


def windows_label(clock: str, seconds: int) -> str:
    """How a store records the windows it holds, e.g. ``arrival 60``."""
    return f"{clock} {seconds}"


def windows_mismatch(store: str, have: str, want: str) -> ConfigError:
    """The error for a store that holds other windows than asked (they would add into one row).

    The advice holds for every command that claims windows: each takes --window-seconds, and
    only ``process`` takes --clock (``run`` and ``aws local`` count arrival-clock windows).
    """
    clock, _, seconds = have.partition(" ")
    want_clock, _, want_seconds = want.partition(" ")
    if clock == want_clock:
        advice = f"use --window-seconds {seconds}"
    else:
        advice = f"use process --clock {clock} --window-seconds {seconds}"
    return ConfigError(
        f"{store} holds {clock}-clock windows of {seconds} s, not {want_clock}-clock"
        f" {want_seconds} s: {advice}, or another --data-dir / --store"
    )
