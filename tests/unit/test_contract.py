"""The Lambda contract's types name AWS's real payloads, and the runner builds exactly them."""

from __future__ import annotations

from typing import Any

from taxi_stream.core.records import StreamRecord
from taxi_stream.function.contract import (
    KinesisData,
    KinesisEvent,
    KinesisEventRecord,
    LambdaContext,
    TumblingWindow,
)
from taxi_stream.runner.events import batch_event, kinesis_records, stream_arn, window_event
from taxi_stream.runner.invoke import LocalContext

SHARD = "shardId-000000000006"
RECORD = StreamRecord("49590338271490256608559692538361571095921575989136588898", 1_607_497_475_000,
                      "1", b"Hello, this is a test.")  # fmt: skip


def keys(typed: Any) -> set[str]:
    """Every key a TypedDict names, required or not."""
    return set(typed.__required_keys__ | typed.__optional_keys__)


def shape(value: Any) -> Any:
    """The keys and value types of a JSON payload, recursively (values themselves left out)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_the_contract_names_every_field_of_the_documented_aws_event(load_event: Any) -> None:
    """Event, record, kinesis part and window types name exactly the fields AWS documents."""
    event = load_event("aws_docs_tumbling_window.json")
    (record,) = event["Records"]
    assert set(event) == keys(KinesisEvent)
    assert set(record) == keys(KinesisEventRecord)
    assert set(record["kinesis"]) == keys(KinesisData)
    assert set(event["window"]) == keys(TumblingWindow)


def test_only_records_are_required_as_an_event_without_windows_has_nothing_else() -> None:
    """Without tumbling windows Lambda sends only Records: the window keys are optional."""
    assert KinesisEvent.__required_keys__ == {"Records"}


def test_a_runner_built_window_event_has_the_shape_aws_sends(load_event: Any) -> None:
    """Same keys and value types, at every depth, as the documented AWS event."""
    aws = load_event("aws_docs_tumbling_window.json")
    arn = stream_arn("lambda-stream")
    built = window_event(
        kinesis_records([RECORD], SHARD, arn),
        shard_id=SHARD,
        arn=arn,
        window_start_ms=1_607_497_440_000,
        window_end_ms=1_607_497_560_000,
        state={"1": 282, "2": 715},
    )
    assert shape(built) == shape(aws)
    assert built["window"] == aws["window"]
    assert built["Records"][0]["kinesis"] == aws["Records"][0]["kinesis"]


def test_a_runner_built_event_without_windows_carries_only_records() -> None:
    """An invocation without tumbling windows is ``{"Records": [...]}``, as Lambda sends it."""
    records = kinesis_records([RECORD], SHARD, stream_arn("s"))
    assert batch_event(records) == {"Records": records}


def test_the_local_context_offers_what_the_lambda_context_names() -> None:
    """Every member of the context protocol is there on LocalContext, with its kind of value."""
    context = LocalContext("shardId-0-1", function_name="f")
    members = [name for name in vars(LambdaContext) if not name.startswith("_")]
    assert sorted(members) == sorted(
        ["aws_request_id", "function_name", "function_version", "invoked_function_arn",
         "memory_limit_in_mb", "get_remaining_time_in_millis"]
    )  # fmt: skip
    assert (context.aws_request_id, context.function_name) == ("shardId-0-1", "f")
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert isinstance(context.function_version, str)
    assert isinstance(context.memory_limit_in_mb, int | str)
    assert context.get_remaining_time_in_millis() == 900_000  # no deadline: Lambda's maximum
