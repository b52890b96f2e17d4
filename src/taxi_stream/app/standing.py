"""Where the consumer stands, from the stores alone: each shard's checkpoint and what waits."""

from __future__ import annotations

from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Final

from taxi_stream.app.wiring import Settings, existing_checkpoints, existing_stream
from taxi_stream.runner.config import MappingConfig

CONSUMER: Final = MappingConfig().consumer  # the name our runner saves its checkpoints under


@dataclass(frozen=True, slots=True)
class ShardStanding:
    """One shard: the checkpoint saved for it, and whether records wait after it.

    ``behind_ms`` is the newest record's arrival minus the first waiting one's (0: none
    waits), as Kinesis's MillisBehindLatest counts it; ``window_start_ms`` is the open window.
    """

    shard_id: str
    position: str | None
    window_start_ms: int | None
    ended: bool
    waiting: bool
    behind_ms: int


@dataclass(frozen=True, slots=True)
class Standing:
    """The stream's shards against the checkpoints; ``appended``: records the stream ever took
    (the embedded stream counts them; None for Kinesis or when there is no stream)."""

    stream: str | None
    shards: tuple[ShardStanding, ...]
    appended: int | None


def standing(settings: Settings, consumer: str = CONSUMER) -> Standing:
    """Read the stream's shards and the data dir's checkpoints; opens both, closes both.

    Nothing is written: the checkpoints are opened read-only, and an embedded stream that does
    not exist is not created (the standing then has no shards).
    """
    with ExitStack() as opened:
        found = existing_stream(settings)
        if found is None:
            return Standing(None, (), None)
        stream, counter = found
        opened.enter_context(closing(stream))
        checkpoints = existing_checkpoints(settings)
        if checkpoints is not None:
            opened.enter_context(closing(checkpoints))
        shards = []
        for info in stream.list_shards():
            saved = None
            if checkpoints is not None:
                saved = checkpoints.load_checkpoint(consumer, stream.name, info.shard_id)
            position = None if saved is None else saved.position
            read = stream.read(info.shard_id, position, 1)
            shards.append(
                ShardStanding(
                    info.shard_id,
                    position,
                    None if saved is None else saved.window_start_ms,
                    saved is not None and saved.ended,
                    bool(read.records),
                    read.behind_ms or 0,
                )
            )
        appended = None if counter is None else counter.appended()
        return Standing(stream.name, tuple(shards), appended)
