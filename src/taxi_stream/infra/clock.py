"""The wall clock, in one place: adapters take it as a default and tests inject their own."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock epoch milliseconds."""
    return time.time_ns() // 1_000_000
