"""The accounting line asks the stream and the store through their interfaces, and wiring says
when the store is the data dir's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxi_stream.app.accounting import Accounting, accounting
from taxi_stream.app.wiring import Settings, open_consumer
from taxi_stream.core.records import Contribution, DeadLetter, Origin
from taxi_stream.core.totals import Totals
from taxi_stream.stores.memory import MemoryStore


class CountingLog:
    """A stream that has taken ``taken`` records over its life."""

    def __init__(self, taken: int) -> None:
        self.taken = taken

    def appended(self) -> int:
        return self.taken


def filled_store(trips: int, letters: int) -> MemoryStore:
    """A store holding ``trips`` trips in one window and ``letters`` dead letters."""
    store = MemoryStore()
    store.apply([Contribution("c", "1", 0, 60_000, Totals(trips, 0, 0, 0), "arrival")])
    store.put_dead_letters(
        [DeadLetter(Origin("s", "shard", str(i)), "not_json", "", b"") for i in range(letters)]
    )
    return store


def test_the_data_dirs_own_store_balances_against_all_the_stream_ever_took() -> None:
    """produced = every record of the embedded stream; counted and dead = all the store holds."""
    result = accounting(filled_store(7, 2), CountingLog(10), before=(4, 1), this_run=5)
    assert (result.produced, result.counted, result.dead_letters) == (10, 7, 2)
    assert result.in_flight == 1
    assert result.lines() == [
        "this run produced 5; with earlier runs:",
        "produced 10 = 7 in windows + 2 dead letters + 1 in flight",
        "NOT balanced: 1 record in no window and no dead letter",
    ]


def test_another_store_balances_this_run_against_what_the_store_gained() -> None:
    """Without the whole data dir, produced = this run, against the store's growth in the run."""
    result = accounting(filled_store(7, 2), None, before=(4, 1), this_run=4)
    assert (result.produced, result.counted, result.dead_letters) == (4, 3, 1)
    assert result.lines() == ["produced 4 = 3 in windows + 1 dead letter (balanced)"]


def test_wiring_names_the_whole_data_dir_only_for_the_local_store(tmp_path: Path) -> None:
    """`--store local`: the embedded stream balances the data dir; `sqlite:///other`: nothing."""
    own = open_consumer(Settings(tmp_path / "a"))
    try:
        assert own.whole_data_dir is own.stream
        assert own.store is own.checkpoints
    finally:
        own.close()
    other = open_consumer(Settings(tmp_path / "b", store_url=f"sqlite:///{tmp_path}/other.db"))
    try:
        assert other.whole_data_dir is None
        assert other.store is not other.checkpoints
    finally:
        other.close()


@pytest.mark.parametrize(
    ("produced", "counted", "dead"),
    [(9_999_999, 9_989_999, 10_000), (999_999, 900_000, 9_999), (50_000, 49_955, 45)],
)
def test_the_accounting_fits_80_columns_up_to_millions(
    produced: int, counted: int, dead: int
) -> None:
    """Balanced up to 9,999,999 records, or not, with this run's own count: no line over 80."""
    for this_run in (produced, 1_234_567):
        for result in (
            Accounting(produced, counted, produced - counted, this_run),  # balanced
            Accounting(produced, counted, dead, this_run),  # records in flight
        ):
            assert [line for line in result.lines() if len(line) > 80] == []
