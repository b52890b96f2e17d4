"""Where totals, dead letters and checkpoints live: SQLite, DynamoDB, memory; shared rules."""

from __future__ import annotations

from typing import Final

from taxi_stream.core.errors import ConfigError

DEFAULT_TABLE: Final = "my-dynamodb-table"  # the DynamoDB table's default name (the seed's)


def windows_label(clock: str, seconds: int) -> str:
    """How a store records the windows it holds, e.g. ``arrival 60``."""
    return f"{clock} {seconds}"


class WindowsMismatchError(ConfigError):
    """A store holds other windows than a command asked for, with advice that command can follow.

    The advice holds for every command that claims windows: each takes --window-seconds, and
    for another clock it names ``clock_flag`` (``process --clock`` by default: ``run`` and ``aws
    local`` count arrival-clock windows only; ``replay``, which takes --clock, asks for its own
    flag with ``advising``).
    """

    def __init__(
        self, store: str, have: str, want: str, clock_flag: str = "process --clock"
    ) -> None:
        self.store, self.have, self.want = store, have, want
        clock, _, seconds = have.partition(" ")
        want_clock, _, want_seconds = want.partition(" ")
        if clock == want_clock:
            advice = f"use --window-seconds {seconds}"
        else:
            advice = f"use {clock_flag} {clock} --window-seconds {seconds}"
        super().__init__(
            f"{store} holds {clock}-clock windows of {seconds} s, not {want_clock}-clock"
            f" {want_seconds} s: {advice}, or another --data-dir / --store"
        )

    def advising(self, clock_flag: str) -> WindowsMismatchError:
        """The same refusal, its advice naming ``clock_flag`` for the other clock."""
        return WindowsMismatchError(self.store, self.have, self.want, clock_flag)


def windows_mismatch(store: str, have: str, want: str) -> WindowsMismatchError:
    """The error for a store that holds other windows than asked (they would add into one row)."""
    return WindowsMismatchError(store, have, want)


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
