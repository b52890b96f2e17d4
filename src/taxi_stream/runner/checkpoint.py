"""The runner's checkpoint: where a consumer stands in one shard, stored by any checkpoint store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A consumer's position in one shard and the window state it carries."""

    sequence_number: str | None
    state: dict[str, Any] | None
