"""A batch's cuts summed in C: the payload fit and the window cut match record-by-record rules."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.records import StreamRecord
from taxi_stream.runner.batching import _before
from taxi_stream.runner.events import RECORD_OVERHEAD_BYTES, fit_payload


def event_bytes(record: StreamRecord) -> int:
    """What one record adds to a payload, by the rule: envelope, base64 text, key, 3 ids."""
    text = base64.b64encode(record.data)
    return (
        RECORD_OVERHEAD_BYTES
        + len(text)
        + len(record.partition_key)
        + 3 * len(record.sequence_number)
    )


def fitting(records: list[StreamRecord], limit: int) -> int:
    """The longest prefix within ``limit`` bytes, one record at least (none for no records)."""
    total, count = 0, 0
    for record in records:
        total += event_bytes(record)
        if total > limit:
            break
        count += 1
    return max(count, 1) if records else 0


records_strategy = st.lists(
    st.builds(
        StreamRecord,
        st.text(st.characters(codec="utf-8"), max_size=60),
        st.integers(0, 10**13),
        st.text(max_size=8),
        st.binary(max_size=40),
    ),
    max_size=1_300,  # past two of the runs summed in one go
)


@settings(max_examples=200, deadline=None)
@given(records_strategy, st.data())
def test_the_payload_fit_is_the_longest_prefix_within_the_limit(
    records: list[StreamRecord], data: st.DataObject
) -> None:
    """Any records and any limit: the prefix the one-by-one rule keeps (at least one)."""
    sizes = [event_bytes(r) for r in records]
    limit = data.draw(st.integers(0, sum(sizes) + 10) | st.sampled_from(sizes or [0]))
    assert fit_payload(records, limit) == fitting(records, limit)


def test_a_limit_met_exactly_keeps_the_record_that_meets_it() -> None:
    """A prefix whose bytes equal the limit fits; one byte less drops its last record."""
    records = [StreamRecord("9" * 56, 1, "k", bytes(n % 7)) for n in range(1_200)]
    for cut in (1, 499, 500, 501, 1_000, 1_199):
        exact = sum(map(event_bytes, records[:cut]))
        assert fit_payload(records, exact) == cut
        assert fit_payload(records, exact - 1) == max(cut - 1, 1)
    assert fit_payload(records, 10) == 1  # one record, however large


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 100), max_size=60), st.integers(0, 100))
def test_the_window_cut_is_the_first_record_at_or_past_the_end(
    arrivals: list[int], end_ms: int
) -> None:
    """Arrivals in any order, the end among them or not: the records before the first late one."""
    records = [StreamRecord(str(n), ms, "k", b"") for n, ms in enumerate(arrivals)]
    first_late = next((n for n, ms in enumerate(arrivals) if ms >= end_ms), len(arrivals))
    assert _before(records, end_ms) == first_late


def test_a_record_out_of_order_past_the_end_cuts_the_window_there() -> None:
    """A later window's record between two of the open one's: the cut falls before it."""
    records = [StreamRecord(str(n), ms, "k", b"") for n, ms in enumerate([5, 9, 10, 3, 9])]
    assert (_before(records, 10), _before(records, 11), _before(records, 5)) == (2, 5, 0)
    assert _before([], 10) == 0
