"""Shared SQLite plumbing for the embedded stream and the local store: connect, map errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taxi_stream.core.errors import StoreUnavailableError, TaxiStreamError


def connect(path: Path, schema: str, error: type[TaxiStreamError]) -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database with ``schema``; errors become ``error``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise error(f"cannot open {path}: {exc}") from exc
    return db


@contextmanager
def errors(what: str, error: type[TaxiStreamError]) -> Iterator[None]:
    """Re-raise SQLite errors as ``error`` (a locked database as StoreUnavailableError)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreUnavailableError(f"{what} failed, the database is locked: {exc}") from exc
        raise error(f"{what} failed: {exc}") from exc
    except sqlite3.Error as exc:
        raise error(f"{what} failed: {exc}") from exc
