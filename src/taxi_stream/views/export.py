"""``query --format parquet``: the rows of ``--format json`` as a Parquet file, written atomically.

The columns and their order are the JSON objects' keys. Their types come from a typical row (one
with every field set), so a file's schema does not depend on which rows it holds, and an empty
result is a file with the columns and no rows: whole numbers are int64, fractions float64,
text is string, and the ISO-8601 times (``windowStart``, ``windowEnd``, ``arrival``) are
timestamps in milliseconds, UTC. A missing value (an average of no trips) is null.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from taxi_stream.core.timefmt import parse_iso_ms

Value = str | int | float | None
TIMESTAMPS: Final = frozenset({"windowStart", "windowEnd", "arrival"})
UTC_MS: Final = pa.timestamp("ms", tz="UTC")


def schema_of(typical: Mapping[str, Value]) -> pa.Schema:
    """The Parquet schema of rows shaped like ``typical`` (every field set)."""
    return pa.schema([(name, _type_of(name, value)) for name, value in typical.items()])


def _type_of(name: str, value: Value) -> pa.DataType:
    if name in TIMESTAMPS:
        return UTC_MS
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


def table_of(rows: Sequence[Mapping[str, Value]], schema: pa.Schema) -> pa.Table:
    """The rows as an Arrow table of ``schema``: timestamps parsed, text as text."""
    columns = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.type == UTC_MS:
            values = [None if v is None else parse_iso_ms(str(v)) for v in values]
        elif field.type == pa.string():
            values = [None if v is None else str(v) for v in values]
        columns.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(rows: Sequence[Mapping[str, Value]], schema: pa.Schema, path: Path) -> None:
    """Write the rows to ``path``: a regular file atomically, anything else as a stream.

    A regular file (or a new one) is written to a temporary file beside it and renamed over it,
    so a reader never sees half a file and a failed write leaves what was there before. A
    symbolic link is followed: its target is replaced, the link stays. A path that exists and is
    not a regular file (a FIFO, ``/dev/stdout``, a device) is written through, never replaced.
    """
    table = table_of(rows, schema)
    if path.exists() and not path.is_file():
        with path.open("wb") as sink:
            pq.write_table(table, sink)
        return
    target = Path(os.path.realpath(path))
    folder = target.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    umask = os.umask(0)  # mkstemp makes it 0600: give it the mode open() would have
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
