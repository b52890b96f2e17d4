"""Build the exact Lambda Kinesis event (tumbling-window shape) from stream records.

The shapes are the Lambda contract's (``function/contract.py``), field for field as AWS sends
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import floordiv, itemgetter
from typing import Final

import pybase64

from taxi_stream.core.limits import MAX_PAYLOAD_BYTES
from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function.contract import KinesisEvent, KinesisEventRecord, KinesisRecords, State

RECORD_OVERHEAD_BYTES: Final = 420  # the JSON envelope of one record, without data and ids
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_ACCOUNT: Final = "000000000000"
_RUN: Final = 500  # records summed in one go before the limit is looked at
_SEQUENCE, _KEY, _DATA = itemgetter(0), itemgetter(2), itemgetter(3)  # StreamRecord's fields


def stream_arn(stream: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """The ARN of a stream, as Lambda puts it in ``eventSourceARN``."""
    return f"arn:aws:kinesis:{region}:{account}:stream/{stream}"


def record_size(record: StreamRecord) -> int:
    """The bytes one record adds to an event's JSON payload."""
    data = (len(record.data) + 2) // 3 * 4
    return (
        RECORD_OVERHEAD_BYTES + data + len(record.partition_key) + 3 * len(record.sequence_number)
    )


def fit_payload(records: Sequence[StreamRecord], limit: int = MAX_PAYLOAD_BYTES) -> int:
    """How many leading records fit in one invocation payload (at least one).

    Each record adds ``record_size`` bytes. They are summed a run of records at a time in C
    (the lengths of each field over the run), and record by record only in the run that
    crosses the limit: a Python step per record would cost more than the sum.
    """
    total = 0
    for start in range(0, len(records), _RUN):
        run = records[start : start + _RUN]
        size = _run_size(run)
        if total + size > limit:
            return _fit_within(run, start, limit - total)
        total += size
    return len(records)


def _run_size(run: Sequence[StreamRecord]) -> int:
    """The sum of ``record_size`` over the run, each field's lengths summed in C (a
    ``RecordBatch``'s from its columns: no record is built)."""
    if isinstance(run, RecordBatch):
        lengths = map(len, run.payloads())
        keys, numbers = run.key_chars(), run.sequence_chars()
    else:
        lengths = map(len, map(_DATA, run))
        keys, numbers = sum(map(len, map(_KEY, run))), sum(map(len, map(_SEQUENCE, run)))
    data_thirds: int = sum(map(floordiv, map((2).__add__, lengths), repeat(3)))
    return RECORD_OVERHEAD_BYTES * len(run) + 4 * data_thirds + keys + 3 * numbers


def _fit_within(run: Sequence[StreamRecord], start: int, room: int) -> int:
    """How many records fit, the ones before the run fitting and ``room`` bytes left."""
    total = 0
    for count, r in enumerate(run):
        total += (
            RECORD_OVERHEAD_BYTES
            + (len(r.data) + 2) // 3 * 4
            + len(r.partition_key)
            + 3 * len(r.sequence_number)
        )
        if total > room:
            return max(start + count, 1)
    return start + len(run)  # not reached: the run as a whole did not fit


def kinesis_records(
    records: Sequence[StreamRecord], shard_id: str, arn: str, region: str = DEFAULT_REGION
) -> list[KinesisEventRecord]:
    """The ``Records`` list of a Lambda Kinesis event."""
    return [*record_view(records, shard_id, arn, region)]


def record_view(
    records: Sequence[StreamRecord], shard_id: str, arn: str, region: str = DEFAULT_REGION
) -> KinesisRecords:
    """The same ``Records``, each built when it is read, the stream's bytes beside them."""
    role = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/taxi-stream-local"
    encode = pybase64.b64encode

    def build(r: StreamRecord) -> KinesisEventRecord:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r.partition_key,
                "sequenceNumber": r.sequence_number,
                "data": encode(r.data).decode("ascii"),
                "approximateArrivalTimestamp": r.arrival_ms / 1000,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{r.sequence_number}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": role,
            "awsRegion": region,
            "eventSourceARN": arn,
        }

    return KinesisRecords(records, build)


def batch_event(records: Sequence[KinesisEventRecord]) -> KinesisEvent:
    """An invocation without tumbling windows: the records and nothing else."""
    return {"Records": records}


def shard_event(
    records: Sequence[StreamRecord],
    shard_id: str,
    arn: str,
    *,
    window_start_ms: int | None,
    window_s: int,
    state: State | None,
    view: bool,
) -> KinesisEvent:
    """The event of one batch of a shard: a plain batch (``window_start_ms`` None), or an
    invocation of the open window with its ``state``; with ``view``, the records are the
    view an in-process handler reads (``record_view``), else Lambda's JSON shape."""
    build = record_view if view else kinesis_records
    kinesis = build(records, shard_id, arn)
    if window_start_ms is None:
        return batch_event(kinesis)
    return window_event(
        kinesis,
        shard_id=shard_id,
        arn=arn,
        window_start_ms=window_start_ms,
        window_end_ms=window_start_ms + window_s * 1000,
        state=state,
    )


def closing_event(
    shard_id: str, arn: str, *, window_start_ms: int, window_s: int, state: State, early: bool
) -> KinesisEvent:
    """The final invoke of a shard's window (no records), or with ``early`` its early
    termination (its state too large to carry on)."""
    return window_event(
        [],
        shard_id=shard_id,
        arn=arn,
        window_start_ms=window_start_ms,
        window_end_ms=window_start_ms + window_s * 1000,
        state=state,
        final=not early,
        terminated_early=early,
    )


def window_event(
    records: Sequence[KinesisEventRecord],
    *,
    shard_id: str,
    arn: str,
    window_start_ms: int,
    window_end_ms: int,
    state: State | None,
    final: bool = False,
    terminated_early: bool = False,
) -> KinesisEvent:
    """A tumbling-window invocation event, as the Kinesis event source mapping sends it."""
    return {
        "Records": records,
        "window": {"start": iso_utc(window_start_ms), "end": iso_utc(window_end_ms)},
        "state": state or {},
        "shardId": shard_id,
        "eventSourceARN": arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": terminated_early,
    }
