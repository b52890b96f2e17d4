"""The produce use case: batches by line, a clean stop on a signal, and the input's own rules."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from taxi_stream.app.produce import Interruption, produce
from taxi_stream.core.errors import ConfigError
from taxi_stream.core.records import PutResult
from taxi_stream.sources.files import Entry, Reading, dead_letters, json_lines


class FakeStream:
    """Takes every entry; ``during_put`` runs inside each put (a signal arriving then)."""

    def __init__(self, during_put: object = None) -> None:
        self.calls: list[list[tuple[str, bytes]]] = []
        self.during_put = during_put

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        self.calls.append(list(entries))
        if callable(self.during_put):
            self.during_put()
        return PutResult(sent=len(entries))


def numbered(count: int) -> list[Entry]:
    """``count`` entries, line numbers from 1."""
    return [(n, str(n), b"r%d" % n) for n in range(1, count + 1)]


def test_a_signal_during_a_batch_stops_after_that_batch() -> None:
    """A signal while a batch is in flight: that batch completes, nothing more is read."""
    gate = Interruption()
    stream = FakeStream(during_put=lambda: gate(15, None))
    consumed: list[int] = []

    def entries() -> Iterator[Entry]:
        for entry in numbered(25):
            consumed.append(entry[0])
            yield entry

    result = produce(stream, entries(), batch=10, interruption=gate)
    assert [len(call) for call in stream.calls] == [10]
    assert (result.sent, result.handled_through, result.interrupted) == (10, 10, True)
    assert consumed == list(range(1, 11))


def test_a_signal_while_waiting_for_input_sends_what_was_read() -> None:
    """A signal while reading breaks the read; the lines read so far are sent, then it stops."""
    gate = Interruption()
    stream = FakeStream()

    def entries() -> Iterator[Entry]:
        yield from numbered(13)
        gate(2, None)  # Ctrl-C while the next line is awaited
        yield (14, "14", b"never")

    result = produce(stream, entries(), batch=10, interruption=gate)
    assert [len(call) for call in stream.calls] == [10, 3]
    assert (result.sent, result.handled_through, result.interrupted) == (13, 13, True)


def test_without_a_signal_every_entry_is_sent_and_counted() -> None:
    """No signal: all entries go, in batches, and the result is not interrupted."""
    stream = FakeStream()
    result = produce(stream, numbered(23), batch=10, interruption=Interruption())
    assert [len(call) for call in stream.calls] == [10, 10, 3]
    assert (result.sent, result.records, result.handled_through) == (23, 23, 23)
    assert not result.interrupted


def test_lines_are_sent_as_is_but_their_final_newline() -> None:
    """A \\r before the newline stays; a line of only \\r or blanks is skipped and counted."""
    text = b'{"a": 1}\r\n\r\n \t\r\n{"b": 2}\n{"c": 3}'
    reading = Reading()
    entries = list(json_lines(io.BytesIO(text), "in", reading))
    assert entries == [(1, "1", b'{"a": 1}\r'), (4, "4", b'{"b": 2}'), (5, "5", b'{"c": 3}')]
    assert (reading.lines, reading.blanks) == (5, 2)


def test_skipped_lines_keep_the_numbers_of_the_rest() -> None:
    """--skip-lines 3 skips lines 1..3; line 4 is still line 4 (and its partition key)."""
    text = b"".join(b"%d\n" % n for n in range(1, 7))
    entries = list(json_lines(io.BytesIO(text), "in", Reading(), skip=3))
    assert [(n, key) for n, key, _ in entries] == [(4, "4"), (5, "5"), (6, "6")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[{", "not the JSON of query --dead-letters --format json"),
        (b'{"rawBase64": "AA=="}', "expected a JSON list of dead letters, got an object"),
        (b'[{"rawBase64": "AA=="}, 7]', "entry 2 (index 1) is a number, not a dead letter"),
        (b'[{"rawBase64": "AA=="}, {"rawBase64": null}]', "entry 2 (index 1) has no rawBase64"),
        (b'[{"rawBase64": "AA=="}, {"rawBase64": "A"}]', "entry 2 (index 1): rawBase64 is not"),
    ],
)
def test_a_malformed_dead_letter_file_is_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """A broken export names the file and the entry; nothing is yielded before the check."""
    path = tmp_path / "dead.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}"):
        next(dead_letters(path, Reading()))


def test_dead_letters_yield_their_exact_bytes_numbered_from_one(tmp_path: Path) -> None:
    """Each entry's rawBase64 decoded, keyed by its entry number; --skip-lines skips entries."""
    raws = [b"\xff\n\r\n", b"", b"   "]
    path = tmp_path / "dead.json"
    path.write_text(json.dumps([{"rawBase64": base64.b64encode(r).decode()} for r in raws]))
    assert list(dead_letters(path, Reading())) == [
        (1, "1", raws[0]),
        (2, "2", b""),
        (3, "3", b"   "),
    ]
    assert list(dead_letters(path, Reading(), skip=2)) == [(3, "3", b"   ")]


def test_a_line_over_the_limit_becomes_a_small_envelope_naming_it() -> None:
    """The producer replaces a 1.2 MB line by an envelope with its line, size and first 4 KiB."""
    line = b'{"pad": "' + b"\xc3\xa9" * 600_000 + b'"}'
    source = [b'{"vendorId": 1}\n', line + b"\n"]
    reading = Reading()
    entries = list(json_lines(io.BytesIO(b"".join(source)), "trips.jsonl", reading))
    assert entries[0][2] == source[0][:-1]
    number, key, data = entries[1]
    assert (number, key) == (2, "2")
    assert len(data) < 6_000
    body = json.loads(data)["taxiStreamOversize"]
    assert body["line"] == 2
    assert body["source"] == "trips.jsonl"
    assert body["bytes"] == len(line)
    assert body["limitBytes"] == 1024 * 1024
    assert base64.b64decode(body["headBase64"]) == line[:4096]
    assert reading.oversize == [(2, len(line))]


def test_an_id_partition_key_is_cut_to_256_utf16_units_of_whole_characters() -> None:
    """--partition-key id: an id too long for a key keeps its first 256 UTF-16 units (128 emoji)."""
    lines = [
        json.dumps({"id": "a" * 300}).encode(),
        json.dumps({"id": "\U0001f695" * 200}).encode(),
        json.dumps({"id": 7}).encode(),
    ]
    source = io.BytesIO(b"\n".join(lines))
    keys = [key for _, key, _ in json_lines(source, "in", Reading(), key_by="id")]
    assert keys == ["a" * 256, "\U0001f695" * 128, "7"]
