"""Printing a benchmark module's rows when it runs alone (``python bench/bench_X.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def print_rows(run: Callable[[int], list[dict[str, Any]]], doc: str | None, repeats: int) -> None:
    """Parse --repeats, call ``run`` and print its rows: name, ours, baseline, ratio."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()
    for row in run(args.repeats):
        print(
            f"{row['name']:<48}{row['trips_per_s']:>12,}"
            f"{row['baseline_trips_per_s']:>12,}{row['ratio']:>8}x"
        )
