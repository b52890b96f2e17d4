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
    ``process`` and ``run`` take --clock (``aws local`` counts arrival-clock windows).
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


def stream_label(checkpoints_id: str, where: str) -> str:
    """How a store records the checkpoint store that consumes a stream into it: ``ID WHERE``."""
    return f"{checkpoints_id} {where}"


def stream_claimed(store: str, stream: str, have: str) -> ConfigError:
    """The error for a second checkpoint history feeding one stream into a store (lost trips).

    Contribution ids name where their records came from, not who read them: a consumer that
    re-reads the stream from other checkpoints makes ids the store already holds, and the store
    skips those parts as duplicates, trips it never counted among them.
    """
    where = have.partition(" ")[2] or "another data dir"
    return ConfigError(
        f"{store} is fed stream {stream} already by the checkpoints in {where} (another data"
        f" dir): use --data-dir {where}, or another --store for this data dir"
    )
