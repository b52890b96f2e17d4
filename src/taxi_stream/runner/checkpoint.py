"""The runner's checkpoint: where a consumer stands in one shard, stored by any checkpoint store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A consumer's durable position in one shard: what a restart resumes from.

    ``position`` is the last sequence number processed (None: none yet). ``window_start_ms`` is
    the open tumbling window and ``state`` the Lambda state it carries (empty without a window).
    ``ended``: the closed shard is read to its end and its window closed, so its children may
    start. ``start_ms``: with LATEST or AT_TIMESTAMP, the arrival time before which records are
    skipped; it is kept until the shard's first position. (The per-shard watermark joins these.)
    """

    position: str | None = None
    window_start_ms: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    ended: bool = False
    start_ms: int | None = None

    def document(self) -> dict[str, Any] | None:
        """Everything but the position, as the JSON object a store keeps (None: nothing).

        Keys: ``window`` and ``state`` while a window is open, ``ended`` once true, ``startMs``
        until the first position. The format predates this type, so stored checkpoints load.
        """
        extra: dict[str, Any] = {}
        if self.window_start_ms is not None:
            extra["window"] = self.window_start_ms
            extra["state"] = self.state
        if self.ended:
            extra["ended"] = True
        if self.start_ms is not None and self.position is None:
            extra["startMs"] = self.start_ms
        return extra or None

    @classmethod
    def from_document(cls, position: str | None, document: Any) -> Checkpoint:
        """The checkpoint a store kept as ``position`` and ``document``; ValueError if damaged."""
        if document is None:
            return cls(position)
        if not isinstance(document, Mapping):
            raise ValueError(f"a checkpoint's state must be a JSON object: {document!r:.80}")
        window, start = document.get("window"), document.get("startMs")
        state = document.get("state") or {}
        if not isinstance(state, dict):
            raise ValueError(f"a checkpoint's window state must be a JSON object: {state!r:.80}")
        return cls(
            position,
            window_start_ms=None if window is None else _whole(window),
            state=state if window is not None else {},
            ended=bool(document.get("ended")),
            start_ms=None if start is None or position is not None else _whole(start),
        )


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a checkpoint's times must be whole milliseconds: {value!r:.80}")
    return value
