"""The data dir of ``aws local``: marked as its own, emptied only when it is, never while in use.

The servers start empty, so the demo's old checkpoints would point nowhere: ``aws local``
removes them at start. It removes only what it wrote itself. A dir it made carries a marker
file; a dir without one is taken only when it holds nothing a data dir keeps (so a stream or a
store that ``produce``, ``process`` or ``run`` wrote is never deleted), a store with windows or
dead letters is never its own (its store is DynamoDB), and a dir whose consumer
lock is held (a ``process`` is reading it) is refused as ``process`` refuses a second consumer.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Final

import click

from taxi_stream.app.process import LOCK_FILE, consumer_lock
from taxi_stream.app.wiring import STORE_FILE, STREAM_FILE
from taxi_stream.core.errors import StoreError
from taxi_stream.infra.sqlite import connect_read_only

MARKER_FILE: Final = "aws-local.txt"
MARKER_TEXT: Final = (
    "This directory is the data dir of `taxi-stream aws local`: it holds the demo's checkpoints\n"
    "(store.db) and is emptied when `aws local` starts again with this --data-dir.\n"
)
# SQLite's companions of a database file: the same data, so removed with it.
_SQLITE_SUFFIXES: Final = ("", "-wal", "-shm", "-journal")
_WRITTEN: Final = tuple(STORE_FILE + suffix for suffix in _SQLITE_SUFFIXES)
_OURS: Final = frozenset({MARKER_FILE, LOCK_FILE, *_WRITTEN})


def claim_data_dir(data_dir: Path) -> int:
    """Check that ``data_dir`` is aws local's to empty, and hold its consumer lock.

    A dir that is not a directory, holds files of another kind, or holds a stream or a store
    aws local did not write is a usage error naming what it holds; one whose lock is held is a
    ``ConfigError`` (as for ``process``). Nothing is removed here. Returns the lock's descriptor.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise click.UsageError(f"--data-dir {data_dir} is not a directory")
    names = {p.name for p in data_dir.iterdir()} if data_dir.exists() else set()
    _refuse_others(data_dir, names)
    lock = consumer_lock(data_dir)  # creates the dir when missing
    if MARKER_FILE not in names:
        (data_dir / MARKER_FILE).write_text(MARKER_TEXT)
    return lock


def empty_data_dir(data_dir: Path) -> None:
    """Remove the demo's old checkpoints from a dir :func:`claim_data_dir` took."""
    for name in _WRITTEN:
        (data_dir / name).unlink(missing_ok=True)


def _refuse_others(data_dir: Path, names: set[str]) -> None:
    """UsageError unless every file in ``names`` is one aws local wrote into ``data_dir``."""
    held = [f"a stream ({STREAM_FILE})"] if STREAM_FILE in names else []  # never aws local's
    hint = ""
    if STORE_FILE in names and MARKER_FILE not in names:
        if not held:  # checkpoints alone may be an earlier aws local's, which made no marker
            hint = f", or remove it yourself if it is an earlier aws local's (no {MARKER_FILE})"
        held.append(f"a store ({STORE_FILE}: windows, dead letters or checkpoints)")
    elif STORE_FILE in names and _holds_totals(data_dir / STORE_FILE):  # its store is DynamoDB
        held.append(f"a store with windows or dead letters ({STORE_FILE})")
    if held:
        raise click.UsageError(
            f"--data-dir {data_dir} holds {' and '.join(held)} that aws local did not write"
            f" (it empties its data dir at start): name another --data-dir{hint}"
        )
    other = sorted(names - _OURS)
    if other:
        raise click.UsageError(
            f"--data-dir {data_dir} holds other files than a data dir's ({', '.join(other[:3])}"
            "): aws local empties it, so name another one"
        )


def _holds_totals(path: Path) -> bool:
    """Whether the SQLite store at ``path`` holds a window or a dead letter (read only)."""
    with closing(connect_read_only(path, StoreError)) as db:
        try:
            query = "SELECT EXISTS (SELECT 1 FROM windows) OR EXISTS (SELECT 1 FROM dead_letters)"
            return bool(db.execute(query).fetchone()[0])
        except sqlite3.OperationalError:  # no such table: a store not yet written
            return False


def release(lock: int) -> None:
    """Let go of the consumer lock :func:`claim_data_dir` took."""
    os.close(lock)
