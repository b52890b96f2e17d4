"""What the replay tests share: a put that keeps what it is given, and the consumer's verdict."""

from __future__ import annotations

from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_trip


class Captured:
    """A put that keeps every entry, as the stream would."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, bytes]] = []
        self.sent = 0
        self.failures: list[tuple[int, str]] = []

    def __call__(self, batch: list[tuple[str, bytes]]) -> Captured:
        self.entries += batch
        self.sent = len(batch)
        return self


def verdict(data: bytes) -> str | None:
    """The consumer's reason for dead-lettering these record bytes, None for a trip."""
    try:
        decode_trip(data)
    except RecordError as exc:
        return exc.reason
    return None
