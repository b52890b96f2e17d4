"""Trip files read in bounded blocks with pyarrow: Parquet by row group, CSV by block.

Only the columns the layout maps are kept (a CSV row is read whole, to tell a blank one), so
memory stays flat: Parquet a row group at a time (in batches of ``BATCH_ROWS``), CSV a block of
``CSV_BLOCK_BYTES`` at a time, every cell as text (typed by the record mapping: a block unlike
the first cannot fail the read). A block says how far its last row reaches, not the read-ahead.

Rows are numbered from 1, the first data row, in file order, as the file has them: an empty
line is a row (a blank one, as is a row of the header's width whose cells are all empty: it
comes back as a malformed row with no text), so the rows after it keep their own numbers. A CSV
row with the wrong number of fields is not parsed: it keeps its number and comes back as a
malformed row with its raw text (a quote that never closes makes one row of the rest of the
file, and the records mapping says so). CSV cells are read as bytes and checked for UTF-8 block
by block: a row with a cell that is no UTF-8 keeps its number and comes back with its cells'
bytes, so the rows after it still go. A row pyarrow cannot hand over at all (the wrong number
of fields and bytes that are no UTF-8) ends pyarrow's read: the rest of the file is read by the
csv module (same quoting, rows, numbers), that row malformed, its bytes as surrogate escapes."""

from __future__ import annotations

import csv
import io
import re
import sys
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from taxi_stream.core.errors import SourceError
from taxi_stream.sources.replay.layouts import Columns

BATCH_ROWS: Final = 16_384
CSV_BLOCK_BYTES: Final = 2 << 20
MAX_HEADER_BYTES: Final = 1 << 20
PARQUET_MAGIC: Final = b"PAR1"
PARQUET_BUFFER_BYTES: Final = 1 << 20  # column chunks stream through a buffer, never cached whole


@dataclass(frozen=True, slots=True)
class Block:
    """Rows read from a file: columns under canonical names, each row's number, how far along."""

    batch: pa.RecordBatch
    rows: npt.NDArray[np.int64]  # the row number of each row of ``batch``
    done: float  # fraction of the file its rows reach, 0..1
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (row, raw text)
    not_utf8: list[tuple[int, list[bytes | None]]] = field(default_factory=list)  # (row, cells)


class TripFile:
    """One trip file (Parquet, or CSV with a header line), opened to read its header."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        try:
            self.size = path.stat().st_size
            with path.open("rb") as f:
                head = f.read(len(PARQUET_MAGIC))
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not head:
            raise SourceError(f"{path} is empty")
        self.kind = "parquet" if head == PARQUET_MAGIC else "csv"
        self._parquet: pq.ParquetFile | None = None
        self.types: dict[str, pa.DataType] = {}  # of a Parquet file's columns (CSV's: all text)
        if self.kind == "parquet":
            self._parquet = _open_parquet(path)
            self.header: list[str] = list(self._parquet.schema_arrow.names)
            self.types = {field.name: field.type for field in self._parquet.schema_arrow}
            self.total_rows: int | None = self._parquet.metadata.num_rows
        else:
            self.header = _csv_header(path)
            self.total_rows = None

    def blocks(self, columns: Columns) -> Iterator[Block]:
        """The file's rows, block by block, with the mapped columns under canonical names."""
        canonical = list(columns.names)
        wanted = [columns.names[name] for name in canonical]
        try:
            if self._parquet is not None:
                yield from _parquet_blocks(self._parquet, wanted, canonical)
            else:
                yield from _csv_blocks(self.path, self.size, wanted, canonical)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"cannot read {self.path}: {_first_line(exc)}") from None


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, buffer_size=PARQUET_BUFFER_BYTES, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path} is not a readable Parquet file: {_first_line(exc)}") from None


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as f:  # the first line, ended as pyarrow ends it: CR, LF or CRLF
        line = re.split(rb"[\r\n]", f.read(MAX_HEADER_BYTES), maxsplit=1)[0]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        gz = line.startswith(b"\x1f\x8b")
        kind = "gzip-compressed: gunzip it first" if gz else "neither Parquet nor a UTF-8 CSV file"
        raise SourceError(f"{path} is {kind}") from None
    header = next(csv.reader(io.StringIO(text)), [])
    if not any(name.strip() for name in header):
        raise SourceError(f"{path} has no header line (a CSV file must start with column names)")
    return header


def _parquet_blocks(
    file: pq.ParquetFile, wanted: list[str], canonical: list[str]
) -> Iterator[Block]:
    total = max(file.metadata.num_rows, 1)
    first = 1
    for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=wanted, use_threads=False):
        n = batch.num_rows
        columns = [_plain(column) for column in batch.columns]
        renamed = pa.RecordBatch.from_arrays(columns, names=canonical)
        yield Block(renamed, np.arange(first, first + n, dtype=np.int64), (first + n - 1) / total)
        first += n


def _plain(column: pa.Array) -> pa.Array:
    """A dictionary-encoded column (a pandas category, say) as its plain values."""
    return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column


def _csv_blocks(path: Path, size: int, wanted: list[str], canonical: list[str]) -> Iterator[Block]:
    malformed: list[tuple[int, str]] = []

    def keep_malformed(row: Any) -> str:
        # pyarrow numbers rows from 1 with the header as row 1, empty lines too (they are rows)
        text = row.text
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        malformed.append((int(row.number) - 1, str(text)))
        return "skip"

    header = _csv_header(path)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.binary()),  # checked for UTF-8 below
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    index = [header.index(name) for name in wanted]  # every column is read, to tell blank rows
    numbers = _RowNumbers()
    _QuietHook.install(keep_malformed)
    with pa.OSFile(str(path)) as stream:
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(
                    invalid_row_handler=keep_malformed, ignore_empty_lines=False
                ),
                convert_options=convert,
            )
            for blocks, read in enumerate(reader, start=1):  # a batch: one block, cut at a row
                rows, bad = numbers.take(read.num_rows, malformed)
                batch, rows, bad = _without_blank(read, rows, bad, index)
                texts, rows, not_utf8 = _as_text(batch, rows)
                renamed = pa.RecordBatch.from_arrays(texts, names=canonical)
                done = min(blocks * CSV_BLOCK_BYTES / max(size, 1), 1.0)  # tell() is read ahead
                yield Block(renamed, rows, done, bad, not_utf8)
        except pa.ArrowInvalid:
            # a row pyarrow cannot hand over (wrong field count and no UTF-8, say): the rest of
            # the file is read by the csv module, from the first row not yet given
            yield from _python_csv_blocks(path, size, wanted, canonical, numbers.next)
            return
    rows, bad = numbers.take(0, malformed, last=True)
    if bad:
        yield Block(_no_rows(canonical), rows, 1.0, bad)


def _without_blank(
    batch: pa.RecordBatch,
    rows: npt.NDArray[np.int64],
    bad: list[tuple[int, str]],
    index: list[int],
) -> tuple[pa.RecordBatch, npt.NDArray[np.int64], list[tuple[int, str]]]:
    """The wanted columns of the rows that hold a value; the others (an empty line, or a line
    of only commas) join the malformed rows as blank text, their numbers kept."""
    wanted = batch.select(index)
    if not all(column.null_count for column in batch.columns):
        return wanted, rows, bad  # some column holds a value in every row: no row is blank
    blank = np.logical_and.reduce([pc.is_null(c).to_numpy(False) for c in batch.columns])
    blanks = [(int(row), "") for row in rows[blank]]
    return wanted.filter(pa.array(~blank)), rows[~blank], sorted(bad + blanks)


class _QuietHook:
    """``sys.unraisablehook``, silent on a row handler pyarrow could not call (the read fails).

    pyarrow decodes a malformed row's text before it calls the handler, and reports a failure
    there (bytes that are no UTF-8) as an "Exception ignored" traceback, from whichever thread
    parsed the block; the read then fails and the csv module reads the rest of the file.
    """

    handlers: ClassVar[weakref.WeakSet[Callable[[Any], str]]] = weakref.WeakSet()

    def __init__(self, previous: Callable[[Any], object]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        if not any(unraisable.object is handler for handler in self.handlers):
            self.previous(unraisable)

    @classmethod
    def install(cls, handler: Callable[[Any], str]) -> None:
        """Keep ``handler``'s failures quiet from now on; other exceptions are reported as ever."""
        cls.handlers.add(handler)
        if not isinstance(sys.unraisablehook, cls):
            sys.unraisablehook = cls(sys.unraisablehook)


def _python_csv_blocks(
    path: Path, size: int, wanted: list[str], canonical: list[str], first: int
) -> Iterator[Block]:
    """Rows from ``first`` on, read by the csv module: the same rows, quoting and numbers."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        lines = _Lines(f)
        reader = csv.reader(lines)
        try:
            header = next(reader, [])
            index = [header.index(name) for name in wanted]
            rows = _PythonRows(len(header), index)
            number = 0
            for fields in reader:
                raw = lines.take()
                number += 1  # an empty line is a row too, a blank one, as for pyarrow
                if number >= first and rows.add(number, fields, raw) >= BATCH_ROWS:
                    yield rows.block(canonical, lines.read / max(size, 1))
        except csv.Error as exc:
            raise SourceError(f"cannot read {path}: row {number + 1}: {exc}") from None
        if rows.count:
            yield rows.block(canonical, 1.0)


class _Lines:
    """The file's lines as the csv module reads them, each row's raw text kept."""

    def __init__(self, f: Iterator[str]) -> None:
        self._f = f
        self._taken: list[str] = []
        self.read = 0  # characters read so far (one per byte that is no UTF-8)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._f)
        self._taken.append(line)
        self.read += len(line)
        return line

    def take(self) -> str:
        """The raw text of the row just read, without its line ending."""
        text = "".join(self._taken)
        self._taken.clear()
        return text.removesuffix("\n").removesuffix("\r")


class _PythonRows:
    """Rows read by the csv module, sorted as pyarrow's are: good, malformed (blank ones with
    no text), not UTF-8."""

    def __init__(self, width: int, index: list[int]) -> None:
        self._width, self._index = width, index
        self._clear()

    def _clear(self) -> None:
        self._cells: list[list[str | None]] = [[] for _ in self._index]
        self._rows: list[int] = []
        self._malformed: list[tuple[int, str]] = []
        self._not_utf8: list[tuple[int, list[bytes | None]]] = []

    def add(self, number: int, fields: list[str], raw: str) -> int:
        """Keep one row; how many rows are kept so far."""
        if not fields or (len(fields) == self._width and not any(fields)):  # no value: blank
            self._malformed.append((number, ""))
        elif len(fields) != self._width:
            self._malformed.append((number, raw))
        else:
            cells = [fields[i] or None for i in self._index]
            if all(_is_text(cell) for cell in cells):
                self._rows.append(number)
                for column, cell in zip(self._cells, cells, strict=True):
                    column.append(cell)
            else:
                raw_cells = [
                    None if c is None else c.encode("utf-8", "surrogateescape") for c in cells
                ]
                self._not_utf8.append((number, raw_cells))
        return self.count

    @property
    def count(self) -> int:
        """How many rows are kept."""
        return len(self._rows) + len(self._malformed) + len(self._not_utf8)

    def block(self, canonical: list[str], done: float) -> Block:
        """The rows kept so far as one block, and none kept after."""
        columns = [pa.array(column, pa.string()) for column in self._cells]
        batch = pa.RecordBatch.from_arrays(columns, names=canonical)
        rows = np.array(self._rows, dtype=np.int64)
        block = Block(batch, rows, min(done, 1.0), self._malformed, self._not_utf8)
        self._clear()
        return block


def _is_text(cell: str | None) -> bool:
    """False for a cell holding bytes that are no UTF-8 (read as surrogate escapes)."""
    if cell is None:
        return True
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_text(
    batch: pa.RecordBatch, rows: npt.NDArray[np.int64]
) -> tuple[list[pa.Array], npt.NDArray[np.int64], list[tuple[int, list[bytes | None]]]]:
    """The batch's cells as UTF-8 text; rows with a cell that is no UTF-8 taken out, as bytes."""
    try:
        return [column.cast(pa.string()) for column in batch.columns], rows, []
    except pa.ArrowInvalid:  # some cell is no UTF-8: find its rows (rare, so row by row)
        pass
    cells = [column.to_pylist() for column in batch.columns]
    bad = np.array([not all(_is_utf8(c[i]) for c in cells) for i in range(len(rows))], dtype=bool)
    good = pa.array(~bad)
    texts = [column.filter(good).cast(pa.string()) for column in batch.columns]
    not_utf8 = [(int(rows[i]), [c[i] for c in cells]) for i in np.flatnonzero(bad)]
    return texts, rows[~bad], not_utf8


def _is_utf8(cell: bytes | None) -> bool:
    if cell is None:
        return True
    try:
        cell.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _no_rows(canonical: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([], pa.string()) for _ in canonical], names=canonical
    )


class _RowNumbers:
    """Numbers the parsed rows of each CSV block around the malformed rows reported so far."""

    def __init__(self) -> None:
        self.next = 1
        self._pending: dict[int, str] = {}

    def take(
        self, count: int, malformed: list[tuple[int, str]], *, last: bool = False
    ) -> tuple[npt.NDArray[np.int64], list[tuple[int, str]]]:
        """Row numbers for ``count`` parsed rows, and the malformed rows among or right after."""
        self._pending.update(malformed)
        malformed.clear()
        pending, first = self._pending, self.next
        if not pending:
            self.next += count
            return np.arange(first, first + count, dtype=np.int64), []
        rows = np.empty(count, dtype=np.int64)
        bad: list[tuple[int, str]] = []
        number, filled = first, 0
        while filled < count or number in pending:
            if number in pending:
                bad.append((number, pending.pop(number)))
            else:
                rows[filled] = number
                filled += 1
            number += 1
        self.next = number
        if last:  # the end of the file: whatever is left follows the last row
            bad.extend(sorted(pending.items()))
            pending.clear()
        return rows, bad


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
