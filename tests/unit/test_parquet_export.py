"""The Parquet export writes atomically: a failed write leaves the file that was there."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_stream.views import export

ROW = {"vendorId": "1", "windowStart": "2024-11-01T00:00:00Z", "tripCount": 3}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write goes to a temporary file: when it fails, the old file stays whole."""
    path = tmp_path / "out.parquet"
    export.write_parquet([ROW], export.schema_of(ROW), path)
    before = path.read_bytes()

    def half_then_fail(table: Any, where: str) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export.write_parquet([ROW, ROW], export.schema_of(ROW), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_times_are_utc_milliseconds(tmp_path: Path) -> None:
    """An ISO-8601 time is stored as the instant it names, in UTC."""
    path = tmp_path / "t.parquet"
    export.write_parquet([ROW], export.schema_of(ROW), path)
    table = pq.read_table(path)
    assert str(table.schema.field("windowStart").type) == "timestamp[ms, tz=UTC]"
    assert table.column("windowStart").cast("int64").to_pylist() == [1_730_419_200_000]


def test_a_link_is_followed_and_its_target_replaced(tmp_path: Path) -> None:
    """A symbolic link stays a link; the file it points to gets the rows."""
    target = tmp_path / "target.parquet"
    target.write_bytes(b"")
    link = tmp_path / "link.parquet"
    link.symlink_to(target.name)
    export.write_parquet([ROW, ROW], export.schema_of(ROW), link)
    assert link.is_symlink()
    assert pq.read_table(target).num_rows == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.parquet", "target.parquet"]


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    """A FIFO stays a FIFO, and a reader at its other end gets the whole Parquet file."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    export.write_parquet([ROW, ROW, ROW], export.schema_of(ROW), fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert pq.read_table(pa.BufferReader(received[0])).num_rows == 3
