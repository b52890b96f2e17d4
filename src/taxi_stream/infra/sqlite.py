"""Shared SQLite plumbing for the embedded stream and the local store: connect, map errors."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final
from urllib.parse import quote

from taxi_stream.core.errors import DamagedDatabaseError, StoreUnavailableError, TaxiStreamError

_DAMAGED: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_LOCKED: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_CANNOT_OPEN: Final = frozenset({sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY})
_CANNOT_WRITE: Final = _CANNOT_OPEN | {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}
BUSY_TIMEOUT_S: Final = 30


def connect(
    path: Path, schema: str, error: type[TaxiStreamError], *, new_file: str = ""
) -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database with ``schema``; errors become ``error``.

    ``new_file`` holds pragmas that only a new, empty file takes (``auto_vacuum``): they run
    before the switch to WAL, which writes the file's header. A damaged file (corrupt, or not a
    database) is a DamagedDatabaseError instead.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        if new_file:
            db.executescript(new_file)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        hint = _unwritable(path, exc)
        raise _damaged(path, exc) or error(f"cannot open {path}: {exc}{hint}") from exc
    return db


def connect_read_only(path: Path, error: type[TaxiStreamError]) -> sqlite3.Connection:
    """Open an existing database to read it and nothing else: no schema, no journal, no lock file.

    With frames in its write-ahead log (a writer has it open, or one stopped uncleanly) the file
    is opened ``mode=ro`` and reads the log through the writer's -shm index. Without them every
    committed page is in the file itself, so it is opened ``immutable``: nothing is locked and
    no -wal or -shm file is created (``mode=ro`` alone would create both). A writer that starts
    during such a read writes to its own log, which this read does not see.
    """
    wal = path.with_name(f"{path.name}-wal")
    logged = wal.is_file() and wal.stat().st_size > 0
    uri = f"file:{quote(str(path))}?mode=ro" + ("" if logged else "&immutable=1")
    try:
        db = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a damaged file says so now
    except sqlite3.DatabaseError as exc:
        hint = ""
        if logged and _code(exc) in _CANNOT_OPEN:
            hint = (
                f" (reading its write-ahead log {wal.name} needs a -shm file beside it, which"
                f" cannot be created here: give write access to {path.parent})"
            )
        raise _damaged(path, exc) or error(f"cannot open {path} to read: {exc}{hint}") from exc
    return db


@contextmanager
def errors(what: str, error: type[TaxiStreamError], path: Path) -> Iterator[None]:
    """Re-raise SQLite errors on ``path`` as ``error``.

    A locked or busy database is a StoreUnavailableError (transient: retried); a damaged one a
    DamagedDatabaseError (never retried).
    """
    try:
        yield
    except sqlite3.Error as exc:
        damaged = _damaged(path, exc)
        if damaged is not None:
            raise damaged from exc
        if _code(exc) in _LOCKED or "locked" in str(exc) or "busy" in str(exc):
            raise StoreUnavailableError(f"{what} failed, the database is locked: {exc}") from exc
        raise error(f"{what} failed: {exc}{_unwritable(path, exc)}") from exc


def _damaged(path: Path, exc: sqlite3.Error) -> DamagedDatabaseError | None:
    """The error to raise when ``exc`` says the file is corrupt or not a database, else None."""
    if _code(exc) not in _DAMAGED:
        return None
    return DamagedDatabaseError(
        f"{path} is damaged ({exc}); retrying cannot fix it: restore it from a backup, or start"
        " over with another --data-dir (or move the file away)"
    )


def _unwritable(path: Path, exc: sqlite3.Error) -> str:
    """Why ``path`` cannot be written, when ``exc`` is SQLite's word for it (which names no
    file): its directory refuses a new file (the OS's reason), or else the file named."""
    if _code(exc) not in _CANNOT_WRITE:
        return ""
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as probe:
        return f" (the directory {path.parent} is not writable: {probe.strerror})"
    try:
        full = os.statvfs(path.parent).f_bavail == 0
    except OSError:  # the directory went away: naming the file is all there is to say
        full = False
    return f" (writing {path}{': no space is left on its file system' if full else ''})"


def _code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of an error (extended codes folded), if it has one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None
