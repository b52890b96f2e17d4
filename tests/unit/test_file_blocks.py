"""The block reader of ``produce --from`` gives, entry for entry, what reading line by line gives.

The reference below is the line-by-line reader, written out here: each line of the file
without its final newline, a blank one (nothing left once stripped) counted and skipped, the
partition key the line number (or the record's id), a line over the record limit replaced by
its envelope. Hostile files mix real trips with random bytes, blanks of every kind, CRLF
lines, lines at the record limit and a last line without newline; reads are cut at every size.
"""

from __future__ import annotations

import io
import json
import random
import sys
from collections.abc import Iterator
from typing import IO

import pytest

from taxi_stream.core import oversize
from taxi_stream.core.limits import MAX_RECORD_BYTES, fit_key
from taxi_stream.sources import files
from taxi_stream.sources.files import Entry, Reading, json_lines
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

TRIPS = [data for _, data in Simulator(SimulatorConfig(seed=3)).batch(200).entries]
BLANKS = (b"", b" ", b"\t", b"\r", b" \t\r", b"\x0b", b"\x0c", b"   \r")
NOT_BLANK = (b"\x00", b"\xa0", b"\xc2\xa0", b"\x1c", b"\x85")  # not whitespace to bytes.strip


def reference(source: IO[bytes], name: str, key_by: str, skip: int) -> tuple[list[Entry], Reading]:
    """Line by line, as ``for line in file`` splits it."""
    reading, entries = Reading(), []
    for number, line in enumerate(source, start=1):
        reading.lines = number
        if number <= skip:
            continue
        data = line[:-1] if line.endswith(b"\n") else line
        if not data.strip():
            reading.blanks += 1
            continue
        key = str(number)
        if key_by == "id":
            key = _reference_id(data) or key
        if len(data) + len(key.encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES:
            reading.oversize.append((number, len(data)))
            data = oversize.envelope(data, line=number, source=name)
        entries.append((number, key, data))
    return entries, reading


def _reference_id(data: bytes) -> str | None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    trip_id = value.get("id") if isinstance(value, dict) else None
    return fit_key(str(trip_id)) if trip_id not in (None, "") else None


class Trickle(io.RawIOBase):
    """A pipe that hands out at most a few random bytes per read, and only through ``read1``."""

    def __init__(self, content: bytes, rng: random.Random) -> None:
        self.content, self.at, self.rng = content, 0, rng

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        step = min(size, self.rng.randint(1, 9))
        piece = self.content[self.at : self.at + step]
        self.at += len(piece)
        return piece


def hostile_lines(rng: random.Random, count: int) -> list[bytes]:
    """Lines (each without its newline) of every kind the reader must keep apart."""
    makers = [
        lambda: rng.choice(TRIPS),
        lambda: rng.choice(TRIPS) + b"\r",
        lambda: rng.choice(BLANKS) + rng.choice(BLANKS),
        lambda: rng.choice(NOT_BLANK) + rng.choice(BLANKS),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))).replace(b"\n", b""),
        lambda: json.dumps(
            {"id": rng.choice(["", 0, None, "x" * 300, [1], "\U0001f695"])}
        ).encode(),
        lambda: b'{"id": "dup", "id": ' + str(rng.randint(0, 9)).encode() + b"}",
        lambda: b"\xef\xbb\xbf" + rng.choice(TRIPS),
    ]
    return [rng.choice(makers)() for _ in range(count)]


def hostile_file(rng: random.Random, count: int) -> bytes:
    """The lines joined by newlines; the last one has a newline or not, at random."""
    text = b"\n".join(hostile_lines(rng, count))
    return text + b"\n" if rng.random() < 0.5 else text


def ours(source: IO[bytes], key_by: str, skip: int) -> tuple[list[Entry], Reading]:
    reading = Reading()
    return list(json_lines(source, "in.jsonl", reading, key_by=key_by, skip=skip)), reading


def assert_same(got: tuple[list[Entry], Reading], want: tuple[list[Entry], Reading]) -> None:
    assert got[0] == want[0]
    assert (got[1].lines, got[1].blanks, got[1].oversize) == (
        want[1].lines,
        want[1].blanks,
        want[1].oversize,
    )


@pytest.mark.parametrize("block", [1, 2, 7, 64, 4096, files.BLOCK_BYTES])
@pytest.mark.parametrize("seed", range(12))
def test_hostile_files_read_in_blocks_give_the_line_by_line_entries(
    monkeypatch: pytest.MonkeyPatch, block: int, seed: int
) -> None:
    """Any block size, either key, any --skip-lines: the entries and counts of line by line."""
    monkeypatch.setattr(files, "BLOCK_BYTES", block)
    rng = random.Random(seed * 1_000 + block)
    content = hostile_file(rng, rng.randint(0, 120))
    for key_by in ("line", "id"):
        skip = rng.choice([0, 0, 1, rng.randint(0, 130)])
        want = reference(io.BytesIO(content), "in.jsonl", key_by, skip)
        assert_same(ours(io.BytesIO(content), key_by, skip), want)


@pytest.mark.parametrize("seed", range(6))
def test_a_trickling_pipe_gives_the_line_by_line_entries(seed: int) -> None:
    """Reads of a few bytes each, cut anywhere in a line, give the same entries and counts."""
    rng = random.Random(seed)
    content = hostile_file(rng, 80)
    want = reference(io.BytesIO(content), "in.jsonl", "line", 0)
    assert_same(ours(Trickle(content, rng), "line", 0), want)


@pytest.mark.parametrize("number", [9, 10, 99_999, 100_000])
@pytest.mark.parametrize("spare", [-1, 0, 1])
def test_lines_at_the_record_limit_are_enveloped_exactly_as_line_by_line(
    number: int, spare: int
) -> None:
    """A line whose data + line-number key is the limit, one byte more or less: same verdicts."""
    digits = len(str(number))
    edge = b"{" + b"x" * (MAX_RECORD_BYTES - digits - 2 + spare) + b"}"
    content = b"{}\n" * (number - 1) + edge + b"\n" + b'{"after": 1}'
    want = reference(io.BytesIO(content), "in.jsonl", "line", 0)
    got = ours(io.BytesIO(content), "line", 0)
    assert_same(got, want)
    assert got[1].oversize == ([(number, len(edge))] if spare > 0 else [])


def test_a_line_longer_than_many_blocks_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3 MB line read 4 KiB at a time is one line: enveloped whole, the next line after it."""
    monkeypatch.setattr(files, "BLOCK_BYTES", 4096)
    huge = b'{"pad": "' + b"z" * 3_000_000 + b'"}'
    content = b'{"a": 1}\n' + huge + b"\n\n" + b'{"b": 2}\r\n'
    want = reference(io.BytesIO(content), "in.jsonl", "line", 0)
    got = ours(io.BytesIO(content), "line", 0)
    assert_same(got, want)
    assert [n for n, _, _ in got[0]] == [1, 2, 4]
    assert got[1].oversize == [(2, len(huge))]


class OneLineAtATime:
    """A pipe with one line in it so far: ``read1`` gives it, ``read`` would wait for more."""

    def __init__(self, line: bytes) -> None:
        self.pieces = [line]

    def read1(self, size: int = -1) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("a full block was awaited on a pipe that has one line so far")


def test_a_line_on_a_quiet_pipe_is_an_entry_before_more_input_comes() -> None:
    """--from -: a line that has arrived is given on, not held back until a block is full."""
    source: Iterator[Entry] = json_lines(
        OneLineAtATime(b'{"a": 1}\n'),  # type: ignore[arg-type]
        "-",
        Reading(),
    )
    assert next(source) == (1, "1", b'{"a": 1}')


def test_an_id_key_of_a_line_nested_too_deep_to_parse_is_its_line_number() -> None:
    """--partition-key id: a line of 100,000 nested arrays is keyed by its line number."""
    deep = b"[" * 100_000 + b"]" * 100_000
    content = b'{"id": "a"}\n' + deep + b'\n{"id": "c"}\n'
    keys = [key for _, key, _ in json_lines(io.BytesIO(content), "in", Reading(), key_by="id")]
    assert keys == ["a", "2", "c"]


VALUES = (
    b'"a"', b'""', b'"\\ud83d\\ude95"', b'"\\n\\/"', b'"\\u0041"', b"0", b"-0", b"-12", b"2.50",
    b"1E+2", b"true", b"false", b"null", b"[1]", b'{"a":1,"a":2}', b'"' + b"k" * 300 + b'"',
    b"9" * 25, b"9" * 700, b"9" * 4_301, b"1.5e999", b"1e400", b"-1e400", b'"\\ud800"',
)  # fmt: skip
BAD_VALUES = (
    b'"\\x"', b'"\x01"',
    b'"\xff"', b'"\xc3\xa9"', b'"\xed\xa0\x80"', b'"\xc0\x80"', b"01", b"1.", b".5", b"NaN",
    b"Infinity", b"tru", b"[1,]", b"",
)  # fmt: skip
KEYS = (b'"id"', b'"\\u0069d"', b'"x"', b'"ID"')
GAPS = (b"", b"", b" ", b"\t", b"\r", b"\x0c", b"\x0b", b"\x00", b",", b"\xef\xbb\xbf")


def id_soups(rng: random.Random, count: int) -> Iterator[bytes]:
    """Objects with an id of every kind, members and gaps (some not JSON, or not to msgspec)."""

    def value() -> bytes:
        return rng.choice(BAD_VALUES if rng.random() < 0.15 else VALUES)

    for _ in range(count):
        members = [(rng.choice(KEYS), value()) for _ in range(rng.randint(0, 3))]
        trip_id = rng.choice(VALUES[:8]) if rng.random() < 0.5 else value()  # mostly a key
        members.insert(rng.randint(0, len(members)), (b'"id"', trip_id))
        gap = (lambda: rng.choice(GAPS)) if rng.random() < 0.3 else (lambda: b"")
        body = b",".join(gap() + key + gap() + b":" + gap() + item for key, item in members)
        yield gap() + b"{" + body + gap() + b"}" + gap()


@pytest.mark.parametrize("digits", [0, 640, 4_300])
def test_an_id_key_is_the_id_json_loads_reads_for_any_bytes(digits: int) -> None:
    """--partition-key id: the key json.loads gives (else the line number), whatever the line."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(digits)
    try:
        lines = [*id_soups(random.Random(digits), 4_000), *hostile_lines(random.Random(1), 400)]
        lines = [line.replace(b"\n", b" ") for line in lines]
        want = [_reference_id(line) or str(n) for n, line in enumerate(lines, start=1)]
        content = io.BytesIO(b"\n".join(lines))
        got = [key for _, key, _ in json_lines(content, "in", Reading(), key_by="id")]
    finally:
        sys.set_int_max_str_digits(previous)
    blanks = {n for n, line in enumerate(lines, start=1) if not line.strip()}
    assert got == [key for n, key in enumerate(want, start=1) if n not in blanks]


def test_a_line_of_nothing_but_ascii_whitespace_is_blank() -> None:
    """Spaces, tabs, \\r, \\v and \\f alone make a blank line; a no-break space does not."""
    content = b"\x0b\n\x0c\r\n \t\n\xa0\n\xc2\xa0\n{}"
    reading = Reading()
    entries = list(json_lines(io.BytesIO(content), "in", reading))
    assert entries == [(4, "4", b"\xa0"), (5, "5", b"\xc2\xa0"), (6, "6", b"{}")]
    assert (reading.lines, reading.blanks) == (6, 3)
