"""Records from files: JSON lines sent as they are, and the dead letters ``query`` exports.

Each entry is (input line number, partition key, data). A line is sent byte for byte without
its final newline (a ``\\r`` before it stays); a blank line (only ASCII whitespace: spaces,
tabs, ``\\r``, ``\\v``, ``\\f``) is skipped and counted. A dead-letter file is the JSON list
``query --dead-letters --format json`` writes; each entry's ``rawBase64`` is sent exactly,
numbered from 1 like lines. Data too large for a stream record is sent as its oversize envelope
(``taxi_stream.core.oversize``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import IO, Any, Final

import msgspec

from taxi_stream.core import oversize
from taxi_stream.core.errors import ConfigError
from taxi_stream.core.limits import MAX_RECORD_BYTES, fit_key

Entry = tuple[int, str, bytes]
"""(input line number, partition key, data)."""

BLOCK_BYTES: Final = 1 << 20  # read at a time: about 2,500 lines of a trip each


@dataclass(slots=True)
class Reading:
    """What reading the input met: lines read (skipped ones too), blanks, oversize lines."""

    lines: int = 0
    blanks: int = 0
    oversize: list[tuple[int, int]] = field(default_factory=list)  # (line number, bytes)


def json_lines(
    source: IO[bytes], name: str, reading: Reading, *, key_by: str = "line", skip: int = 0
) -> Iterator[Entry]:
    """Each non-blank line after the first ``skip`` one record, as is (``name``: for envelopes).

    The input is read block by block (what one read brings, a pipe's line as soon as it comes);
    a block with no blank or oversize line and line-number keys is given on without a Python
    step per line, any other line by line. Nothing is read before the first entry is asked for.
    """
    return chain.from_iterable(_by_block(source, name, reading, key_by, skip))


def _by_block(
    source: IO[bytes], name: str, reading: Reading, key_by: str, skip: int
) -> Iterator[Iterator[Entry]]:
    """The entries of each block, counting the lines read in ``reading`` as it goes."""
    number = 0
    for lines in _blocks(source):
        first, number = number + 1, number + len(lines)
        reading.lines = number
        skipped = max(skip - first + 1, 0)  # the block's lines that --skip-lines skips
        yield _block(lines[skipped:] if skipped else lines, first + skipped, name, reading, key_by)


def _block(
    lines: list[bytes], first: int, name: str, reading: Reading, key_by: str
) -> Iterator[Entry]:
    """The entries of consecutive lines numbered from ``first``: all at once when plain."""
    if key_by == "line" and _plain(lines, first + len(lines) - 1):
        numbers = range(first, first + len(lines))
        return zip(numbers, map(str, numbers), lines, strict=True)
    return _by_line(lines, first, name, reading, key_by)


def _by_line(
    lines: list[bytes], first: int, name: str, reading: Reading, key_by: str
) -> Iterator[Entry]:
    """Line by line: a blank line is counted and skipped, an oversize one enveloped."""
    for number, data in enumerate(lines, start=first):
        if not data.strip():
            reading.blanks += 1
            continue
        yield _entry(number, data, name, reading, key_by)


def _blocks(source: IO[bytes]) -> Iterator[list[bytes]]:
    """The input's lines without their newline, a block at a time; a last line without one too."""
    read = getattr(source, "read1", source.read)  # read1: what a pipe has, without waiting
    pending: list[bytes] = []  # the start of a line no block has ended yet
    while block := read(BLOCK_BYTES):
        lines = io.BytesIO(block).readlines()  # cut after each newline, found by memchr
        rest = None if lines[-1].endswith(b"\n") else lines.pop()
        if lines:
            if pending:
                lines[0] = b"".join([*pending, lines[0]])
                pending = []
            yield list(map(bytes.rstrip, lines, repeat(b"\n", len(lines))))  # its one newline
        if rest is not None:
            pending.append(rest)
    if pending:
        yield [b"".join(pending)]


def _plain(lines: list[bytes], last: int) -> bool:
    """Whether no line is blank and none, keyed by a line number up to ``last``, is oversize."""
    if not lines:
        return True
    longest = max(map(len, lines)) + len(str(last))
    return longest <= MAX_RECORD_BYTES and all(map(bytes.strip, lines))


def dead_letters(
    path: Path, reading: Reading, *, key_by: str = "line", skip: int = 0, data: bytes | None = None
) -> Iterator[Entry]:
    """Each dead letter's exact bytes after the first ``skip``; the file is checked whole first.
    ``data``: the export already read (from stdin), ``path`` then only names it."""
    raws = load_dead_letters(path, data)
    for number, raw in enumerate(raws, start=1):
        reading.lines = number
        if number > skip:
            yield _entry(number, raw, path.name, reading, key_by)


def load_dead_letters(path: Path, data: bytes | None = None) -> list[bytes]:
    """The raw bytes of every entry of a dead-letter export, or ConfigError naming what is wrong."""
    try:
        letters = json.loads(path.read_bytes() if data is None else data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not the JSON of query --dead-letters --format json: {exc}"
        ) from None
    if not isinstance(letters, list):
        raise ConfigError(f"{path}: expected a JSON list of dead letters, got {_kind(letters)}")
    return [_raw(letter, index, path) for index, letter in enumerate(letters)]


def _raw(letter: Any, index: int, path: Path) -> bytes:
    where = f"{path}: entry {index + 1} (index {index})"
    if not isinstance(letter, dict):
        raise ConfigError(f"{where} is {_kind(letter)}, not a dead letter object")
    text = letter.get("rawBase64")
    if not isinstance(text, str):
        raise ConfigError(f"{where} has no rawBase64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: rawBase64 is not base64") from None


def _kind(value: Any) -> str:
    kinds = {list: "a list", dict: "an object", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")


def _entry(number: int, data: bytes, name: str, reading: Reading, key_by: str) -> Entry:
    key = (_id_of(data) if key_by == "id" else None) or str(number)
    if oversize.is_over_limit(key, data):
        reading.oversize.append((number, len(data)))
        data = oversize.envelope(data, line=number, source=name)
    return number, key, data


def _id_of(data: bytes) -> str | None:
    """The record's top-level id as a partition key; None for no JSON object with an id."""
    trip_id = _quick_id(data)
    if trip_id is None:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return None
        trip_id = value.get("id") if isinstance(value, dict) else None
    return fit_key(str(trip_id)) if trip_id not in (None, "") else None


class _IdOnly(msgspec.Struct):
    """A record's top-level id; the rest of the object is checked as JSON but not built."""

    id: Any = None


_ID_ONLY: Final = msgspec.json.Decoder(_IdOnly)


def _quick_id(data: bytes) -> str | int | None:
    """The id as msgspec reads it where ``json.loads`` reads the same; None: ask ``json.loads``.

    That is an ASCII line (msgspec does not check the UTF-8 of what it skips), no longer than
    Python's integer digit limit (an integer over it fails ``json.loads`` only), whose id is a
    string or an integer. Anything msgspec refuses goes to ``json.loads``, which is more lenient
    (NaN, a byte-order mark, UTF-16, lone surrogates).
    """
    limit = sys.get_int_max_str_digits()
    if not data.isascii() or (limit and len(data) > limit):
        return None
    try:
        trip_id = _ID_ONLY.decode(data).id
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    return trip_id if type(trip_id) in (str, int) else None
