"""A terminal 80 columns wide for the views, and what a readable screen must hold to."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from rich.console import Console, RenderableType

WIDTH = 80


def screen_lines(renderable: RenderableType, width: int = WIDTH) -> list[str]:
    """The lines a terminal ``width`` columns wide shows for ``renderable``."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def too_wide(lines: Iterable[str], width: int = WIDTH) -> list[str]:
    """The lines wider than the screen."""
    return [line for line in lines if len(line.rstrip()) > width]


def split_units(lines: list[str], units: Iterable[str]) -> list[str]:
    """Places where a unit stands without its number, or a number's line ends before its unit.

    A unit must follow a number and one space on the same line (``12.3 s``, ``1,234 rec``).
    """
    names = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
    alone = re.compile(rf"(?<![\w/.,'-])({names})(?![\w/])")
    found = []
    for number, line in enumerate(lines):
        for match in alone.finditer(line):
            if not re.search(r"\d $", line[: match.start()]):
                found.append(f"line {number}: {line!r}")
    return found


def row_of(lines: list[str], first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is ``first_cell`` (split on 2+ spaces)."""
    for line in lines:
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n" + "\n".join(lines))
