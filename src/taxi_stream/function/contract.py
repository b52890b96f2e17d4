"""The Lambda Kinesis contract as types: the event, its records, the response and the context.

Standard library only, so the handler (inside the Lambda import boundary) and the local runner
(which builds the events and reads the responses) share one definition. The types are
annotations: nothing is checked or converted at run time, and a payload that breaks them (a
misrouted event source, a hostile record) is still the handler's to judge, field by field.
Field names are AWS's, as in the payloads under ``tests/events/``. (No postponed annotations
here: Python 3.11 would then not see ``NotRequired`` when it builds a TypedDict's key sets.)

``KinesisRecords`` is the one exception to "annotations only": the ``Records`` of a local
invocation of our own in-process handler, built record by record on access from the stream's
records (so whatever reads it sees exactly the AWS records), whose payloads, arrival times
and sequence numbers that handler may read as columns, without the base64 round trip.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NotRequired, Protocol, TypedDict, overload

from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.core.records import StreamRecord

State = dict[str, Any]
"""A tumbling window's ``state``: any JSON object the function returned (at most 1 MB)."""


class KinesisData(TypedDict):
    """The ``kinesis`` part of one event record."""

    kinesisSchemaVersion: str
    partitionKey: str
    sequenceNumber: str
    data: str  # base64 of the record's bytes
    approximateArrivalTimestamp: float  # epoch seconds


class KinesisEventRecord(TypedDict):
    """One record of a Kinesis event."""

    kinesis: KinesisData
    eventSource: str  # "aws:kinesis"
    eventVersion: str
    eventID: str  # "shardId-...:sequenceNumber"
    eventName: str
    invokeIdentityArn: str
    awsRegion: str
    eventSourceARN: str


class TumblingWindow(TypedDict):
    """The window of an invocation, ISO-8601 UTC."""

    start: str
    end: str


class KinesisEvent(TypedDict):
    """One invocation; the window keys are there only with TumblingWindowInSeconds."""

    Records: Sequence[KinesisEventRecord]  # a list, as AWS sends it (locally maybe a view)
    window: NotRequired[TumblingWindow]
    state: NotRequired[State]
    shardId: NotRequired[str]
    eventSourceARN: NotRequired[str]
    isFinalInvokeForWindow: NotRequired[bool]
    isWindowTerminatedEarly: NotRequired[bool]


class BatchItemFailure(TypedDict):
    """A record the function reports as failed (ReportBatchItemFailures)."""

    itemIdentifier: str  # its sequence number


class WindowResponse(TypedDict):
    """What a tumbling-window function returns; without ``state`` the invocation failed."""

    state: State
    batchItemFailures: list[BatchItemFailure]


class LambdaContext(Protocol):
    """The parts of the Lambda context object a handler may read."""

    @property
    def aws_request_id(self) -> str:
        """The invocation's request id."""
        ...

    @property
    def function_name(self) -> str:
        """The function's name."""
        ...

    @property
    def function_version(self) -> str:
        """The function's version (``$LATEST``)."""
        ...

    @property
    def invoked_function_arn(self) -> str:
        """The ARN the function was invoked by."""
        ...

    @property
    def memory_limit_in_mb(self) -> int | str:
        """The function's memory (the Python runtime gives it as text)."""
        ...

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out."""
        ...


class KinesisRecords(Sequence[KinesisEventRecord]):
    """The ``Records`` of one local invocation, each built on access by ``build``.

    ``stream_records`` are the records themselves (the embedded stream's are a
    ``RecordBatch``, whose records are built only when read), and ``columns`` the same as
    columns: a handler that knows this type may read the payloads, arrival times and sequence
    numbers directly instead of decoding each record's base64 ``data``, and build no record.
    Only the runner's in-process handler is given one; every other handler gets the plain list
    AWS sends.
    """

    __slots__ = ("_build", "stream_records")

    def __init__(
        self,
        records: Sequence[StreamRecord],
        build: Callable[[StreamRecord], KinesisEventRecord],
    ) -> None:
        self.stream_records = records
        self._build = build

    @property
    def columns(self) -> RecordBatch:
        """The records as columns (no record, no event record built)."""
        return RecordBatch.of(self.stream_records)

    def __len__(self) -> int:
        return len(self.stream_records)

    @overload
    def __getitem__(self, index: int) -> KinesisEventRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[KinesisEventRecord]: ...

    def __getitem__(self, index: int | slice) -> KinesisEventRecord | list[KinesisEventRecord]:
        if isinstance(index, slice):
            return [self._build(record) for record in self.stream_records[index]]
        return self._build(self.stream_records[index])

    def __iter__(self) -> Iterator[KinesisEventRecord]:
        return map(self._build, self.stream_records)
