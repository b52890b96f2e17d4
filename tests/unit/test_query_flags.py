"""`query`'s filters: a value no record could carry is a usage error, as the dashboard's 400."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taxi_stream.app.wiring import STORE_FILE
from taxi_stream.cli import main
from taxi_stream.cli import query as query_module
from taxi_stream.cli.query import query
from taxi_stream.core.records import Contribution
from taxi_stream.core.totals import Totals
from taxi_stream.stores.sqlite import SQLiteStore

T0_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose store holds one window of vendor 1 and one of vendor 2."""
    store = SQLiteStore(tmp_path / STORE_FILE, clock=lambda: T0_MS)
    store.apply(
        [
            Contribution(f"c{v}", v, T0_MS, T0_MS + 60_000, Totals(3, 1_000, 60, 3), "arrival")
            for v in ("1", "2")
        ]
    )
    store.close()
    return tmp_path


@pytest.mark.parametrize(
    ("flags", "wrong"),
    [
        (["--vendor", "x" * 65], "not a vendor id"),
        (["--vendor", "1\x07"], "not a vendor id"),
        (["--vendor", " "], "not a vendor id"),
        (["--since", "2024-11-01T09:00:00Z", "--until", "2024-11-01T08:00:00Z"], "later than"),
    ],
)
def test_a_filter_no_window_could_match_is_a_usage_error(
    data_dir: Path, flags: list[str], wrong: str
) -> None:
    """A vendor no record can carry, or an empty time range, is one line and exit status 2."""
    done = CliRunner().invoke(query, ["--data-dir", str(data_dir), *flags])
    assert done.exit_code == 2
    assert wrong in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("vendor", "found"), [(" 2 ", ["2"]), ("abc", []), ("1", ["1"])])
def test_a_vendor_id_is_matched_as_a_records_vendor_is_keyed(
    data_dir: Path, vendor: str, found: list[str]
) -> None:
    """--vendor ignores blanks around it, as a record's vendorId does; an id not stored: no rows."""
    args = ["--data-dir", str(data_dir), "--vendor", vendor, "--format", "json"]
    done = CliRunner().invoke(query, args)
    assert done.exit_code == 0, done.output
    assert [row["vendorId"] for row in json.loads(done.stdout)] == found


@pytest.mark.parametrize(
    ("command", "flags", "zone"),
    [
        ("query", ["--since", "yesterday"], "without an offset, UTC"),
        ("query", ["--until", "08:00 tomorrow"], "without an offset, UTC"),
        ("generate", ["--trips", "1", "--start", "noon"], "without an offset, UTC"),
        ("replay", ["--start-at", "noon", "trips.parquet"], "without an offset, New York local"),
    ],
)
def test_a_time_that_does_not_parse_is_refused_naming_the_zone_of_a_naive_one(
    data_dir: Path, command: str, flags: list[str], zone: str
) -> None:
    """The error for a bad time says which zone a time without an offset would be read in."""
    here = ["--data-dir", str(data_dir)] if command == "query" else []
    done = CliRunner().invoke(main, [command, *here, *flags])
    assert done.exit_code == 2
    assert zone in done.stderr


def test_a_vendor_with_no_windows_names_the_vendors_there_are(data_dir: Path) -> None:
    """--vendor abc in a store of vendors 1 and 2: the table says so on stderr, exit 0."""
    done = CliRunner().invoke(query, ["--data-dir", str(data_dir), "--vendor", "abc"])
    assert done.exit_code == 0, done.output
    assert done.stderr == "no rows for vendor 'abc'; vendors in the store: 1, 2\n"
    assert done.stdout == "(no rows)\n"


@pytest.mark.parametrize(("fmt", "empty"), [("json", []), ("csv", [])])
def test_the_vendor_hint_leaves_json_and_csv_machine_readable(
    data_dir: Path, fmt: str, empty: list[object]
) -> None:
    """With --format json or csv the hint goes to stderr: stdout is still [] or a header."""
    args = ["--data-dir", str(data_dir), "--vendor", "abc", "--format", fmt]
    done = CliRunner().invoke(query, args)
    assert done.exit_code == 0, done.output
    assert "vendors in the store: 1, 2" in done.stderr
    if fmt == "json":
        assert json.loads(done.stdout) == empty
    else:
        assert done.stdout.splitlines()[0].startswith("vendorId,windowStart,")
        assert len(done.stdout.splitlines()) == 1


def test_a_known_vendor_outside_the_time_range_gets_no_vendor_hint(data_dir: Path) -> None:
    """--vendor 1 --since next year: no rows, and no word about the vendors (1 is there)."""
    args = ["--data-dir", str(data_dir), "--vendor", "1", "--since", "2030-01-01T00:00:00Z"]
    done = CliRunner().invoke(query, args)
    assert done.exit_code == 0, done.output
    assert done.stderr == ""
    assert done.stdout == "(no rows)\n"


def test_the_vendor_list_is_cut_after_twenty(tmp_path: Path) -> None:
    """A store of 25 vendors names the first 20 (in order) and says there are more."""
    store = SQLiteStore(tmp_path / STORE_FILE, clock=lambda: T0_MS)
    names = [f"v{n:02d}" for n in range(25)]
    store.apply(
        [
            Contribution(f"c{v}", v, T0_MS, T0_MS + 60_000, Totals(1, 1, 1, 1), "arrival")
            for v in names
        ]
    )
    store.close()
    done = CliRunner().invoke(query, ["--data-dir", str(tmp_path), "--vendor", "nope"])
    assert done.stderr.strip().endswith(", ".join(names[:20]) + ", ...")


class WithoutVendorIndex:
    """A store that cannot list its vendors cheaply (as DynamoDB): the SQLite one, less that."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    def windows(self, *args: Any) -> Any:
        return self.inner.windows(*args)

    def watermarks(self) -> Any:
        return self.inner.watermarks()

    def close(self) -> None:
        self.inner.close()


def test_a_store_without_a_vendor_index_says_no_rows_naming_no_vendors(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cheap listing (DynamoDB): stderr says the id matched nothing, lists none, exit 0."""
    store = WithoutVendorIndex(SQLiteStore(data_dir / STORE_FILE, read_only=True))
    monkeypatch.setattr(query_module, "existing_store", lambda settings: store)
    args = ["--data-dir", str(data_dir), "--vendor", "abc", "--format", "json"]
    done = CliRunner().invoke(query, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == []
    assert done.stderr.startswith("no rows for vendor 'abc' (ids match exactly;")
    assert "vendors in the store" not in done.stderr
