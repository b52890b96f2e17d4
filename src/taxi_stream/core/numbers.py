"""Numbers on the wire: a JSON number or a string holding one, finite only."""

from __future__ import annotations

import math
import re
from typing import Any, Final

from taxi_stream.core.errors import Reason, RecordError, quoted

MAX_INT_CHARS: Final = 100  # longer integer text is read as a float: no range reaches that far


def number(value: Any, name: str) -> float | int:
    """A JSON number, or a string holding one (blanks around it allowed); finite only."""
    if isinstance(value, bool):
        raise RecordError(Reason.BAD_NUMBER, f"{name} is a boolean, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        result: float | int = value
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER.match(text):  # plain ASCII decimals only: no "1_5", no other digits
            raise RecordError(Reason.BAD_NUMBER, f"{name} is not a number: {value[:80]!r}")
        whole = len(text) <= MAX_INT_CHARS and text.lstrip("+-").isdigit()
        result = int(text) if whole else float(text)  # float() has no digit limit, int() has
    else:
        raise RecordError(Reason.BAD_NUMBER, f"{name} is not a number: {quoted(value)}")
    if isinstance(result, float) and not math.isfinite(result):
        raise RecordError(Reason.BAD_NUMBER, f"{name} is not finite: {str(value)[:80]!r}")
    return result


_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
