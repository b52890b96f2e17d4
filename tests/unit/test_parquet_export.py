"""The Parquet export writes atomically: a failed write leaves the file that was there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
