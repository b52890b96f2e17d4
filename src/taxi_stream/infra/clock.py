"""The wall clock, in one place: adapters take it as a default and tests inject their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final


def now_ms() -> int:
    """Wall-clock epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Clock:
    """The clocks a use case reads, injected so a test can drive them.

    ``now_ms`` is wall-clock epoch ms (record times, windows, retry deadlines), ``monotonic``
    seconds measure intervals (how often a view is redrawn), ``sleep`` waits on that clock.
    """

    now_ms: Callable[[], int] = now_ms
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK: Final = Clock()
