"""The parsing of ``replay``'s --start-at and --resume."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from taxi_stream.core.timefmt import to_epoch_ms
from taxi_stream.sources.replay.layouts import NEW_YORK


def start_ms(text: str | None) -> int | None:
    """--start-at as epoch ms (an ISO-8601 time; without an offset, New York time)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"not an ISO-8601 time (such as 2024-01-01T00:00:00-05:00; without an offset,"
            f" New York local time, as in TLC files): {text!r}",
            param_hint="--start-at",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(NEW_YORK))
    return to_epoch_ms(moment)


def resume_point(text: str | None) -> tuple[str, int] | None:
    """--resume FILE:ROW as (file, row)."""
    if text is None:
        return None
    name, _, row = text.rpartition(":")
    if not name or not row.isdigit() or int(row) < 1:
        raise click.BadParameter(
            f"expected FILE:ROW (a file name and a row number from 1), got {text!r}",
            param_hint="--resume",
        )
    return name, int(row)
