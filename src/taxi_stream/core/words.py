"""Counted nouns: a number with its noun in the singular or the plural, as a reader expects."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 window``, ``2 windows``, ``1,234 dead letters`` (``plural`` defaults to noun + s)."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
