"""Where a replay stands: rows, rate, event time reached, lag behind the pacing clock, ETA."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from taxi_stream.core.timefmt import from_epoch_ms
from taxi_stream.sources.replay.files import Block
from taxi_stream.sources.replay.layouts import NEW_YORK

_NY: Final = ZoneInfo(NEW_YORK)
LINE_WIDTH: Final = 80  # the progress line fits a terminal this wide
SEPARATOR: Final = " | "
FILE_CHARS: Final = 24  # a longer file name is cut, with an ellipsis
ETA_MIN_FRACTION: Final = 0.01  # no ETA before the rows handled reach 1% of the bytes ...
ETA_MIN_ELAPSED_S: Final = 2.0  # ... and 2 s have passed: an early pace says little


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a running replay."""

    file: str
    rows_read: int  # rows looked at this run (sent + skipped by --start-at)
    rows_sent: int
    elapsed_s: float
    event_ms: int | None  # event time reached: the pacing clock, else the last pickup sent
    lag_s: float  # how far behind its due time the last paced row went out
    fraction: float  # of the bytes of the files this run reads that the rows handled reach

    @property
    def rows_per_s(self) -> float:
        """Rows read per wall second so far."""
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None until enough is read to tell a pace)."""
        if self.fraction >= 1:
            return 0.0
        if self.fraction < ETA_MIN_FRACTION or self.elapsed_s < ETA_MIN_ELAPSED_S:
            return None
        return self.elapsed_s * (1 - self.fraction) / self.fraction

    def line(self, width: int = LINE_WIDTH) -> str:
        """One line for the terminal or a log, at most ``width`` characters: the parts that fit.

        Parts go in this order, ``file | read | sent | rate | event time | lag | done | ETA``;
        when they do not all fit, the least telling give way (lag, rate, file, read first).
        """
        eta = self.eta_s
        parts = {  # by priority: the first ones stay longest
            "sent": f"{self.rows_sent:,} sent",
            "done": f"{self.fraction:.0%}",
            "eta": f"ETA {'-' if eta is None else duration_text(eta)}",
            "event": f"at {'-' if self.event_ms is None else event_text(self.event_ms)}",
            "read": f"{self.rows_read:,} rows read",
            "file": _cut(self.file, FILE_CHARS),
            "rate": f"{self.rows_per_s:,.0f}/s",
            "lag": f"lag {self.lag_s:.1f} s",
        }
        kept: set[str] = set()
        used = -len(SEPARATOR)
        for key, text in parts.items():
            if used + len(SEPARATOR) + len(text) <= width:
                kept.add(key)
                used += len(SEPARATOR) + len(text)
        return SEPARATOR.join(parts[key] for key in _ORDER if key in kept)


_ORDER: Final = ("file", "read", "sent", "rate", "event", "lag", "done", "eta")


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def event_text(ms: int) -> str:
    """An event time as New York local time, to the second: ``2024-11-01 00:46:24``."""
    try:
        moment = from_epoch_ms(ms).astimezone(_NY)
    except OverflowError:
        return f"{ms} ms"
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration_text(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``12s``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Reach:
    """How far the rows handled (sent, or skipped) reach into the files, as a share of their
    bytes. Each block read marks where its last row ends; a row between two marks is placed
    between them by row number. So the share follows the rows sent, never the reader's
    read-ahead, at a cost per block (a mark) and per put (a row number), not per row."""

    def __init__(self, total_bytes: int) -> None:
        self._total = max(total_bytes, 1)
        self._before = 0  # bytes of the files done
        self._size = 0
        self._marks: list[tuple[int, float]] = [(0, 0.0)]  # (last row, share of the file read)
        self._row = 0

    def start_file(self, size: int, row: int) -> None:
        """A file of ``size`` bytes begins, its rows up to ``row`` handled (a resume's)."""
        self._size, self._marks, self._row = size, [(0, 0.0)], row

    def end_file(self) -> None:
        """The file is handled whole."""
        self._before += self._size
        self._size, self._marks, self._row = 0, [(0, 0.0)], 0

    def block(self, last_row: int, done: float) -> None:
        """A block read: its rows reach ``last_row``, ``done`` of its file."""
        self._marks.append((last_row, done))

    def handled(self, row: int) -> None:
        """Every row of the file up to ``row`` is sent or skipped."""
        self._row = max(self._row, row)

    def fraction(self) -> float:
        """The share of the files' bytes the rows handled reach, 0..1."""
        marks, row = self._marks, self._row
        while len(marks) > 2 and marks[1][0] < row:  # marks behind the row: the last stays
            del marks[0]
        within = marks[-1][1]
        for (row0, done0), (row1, done1) in itertools.pairwise(marks):
            if row <= row1:
                within = done0 + (done1 - done0) * (row - row0) / max(row1 - row0, 1)
                break
        return min((self._before + self._size * within) / self._total, 1.0)


def last_row(block: Block) -> int:
    """The number of the block's last row (parsed, malformed or not UTF-8); 0 for none."""
    rows = [int(block.rows[-1])] if len(block.rows) else []
    rows += [row for row, _ in block.malformed[-1:]] + [row for row, _ in block.not_utf8[-1:]]
    return max(rows, default=0)
