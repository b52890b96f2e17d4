"""``process``: the local event source mapping, with flags named after the AWS settings."""

from __future__ import annotations

from typing import Any

import click

from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.app.wiring import DEFAULT_HANDLER
from taxi_stream.cli.options import clear_errors, common, err, settings_of
from taxi_stream.core.limits import MAX_BATCH_SIZE
from taxi_stream.function.handler import CLOCKS, HandlerConfig


@click.command()
@common()
@click.option(
    "--handler",
    default=DEFAULT_HANDLER,
    show_default=True,
    envvar="TAXI_STREAM_HANDLER",
    show_envvar=True,
    help="The Lambda handler to run, as module:function.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=MAX_BATCH_SIZE,
    show_default=True,
    envvar="TAXI_STREAM_BATCH_SIZE",
    show_envvar=True,
    help="BatchSize.",
)
@click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    default="arrival",
    show_default=True,
    envvar="WINDOW_CLOCK",
    show_envvar=True,
    help="Window clock of our handler.",
)
@click.option(
    "--naive-timezone",
    default="UTC",
    show_default=True,
    envvar="NAIVE_TIMEZONE",
    show_envvar=True,
    help="Zone of wire timestamps written without an offset (e.g. America/New_York).",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Drain: once the stream is consumed, close open windows and exit 0.",
)
@click.option(
    "--maximum-batching-window-in-seconds",
    type=click.IntRange(0, 300),
    default=0,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_BATCHING_WINDOW",
    show_envvar=True,
    help="MaximumBatchingWindowInSeconds: gather records this long before invoking.",
)
@click.option(
    "--starting-position",
    type=click.Choice(["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]),
    default="TRIM_HORIZON",
    show_default=True,
    envvar="TAXI_STREAM_STARTING_POSITION",
    show_envvar=True,
    help="StartingPosition of shards without a checkpoint.",
)
@click.option(
    "--starting-position-timestamp",
    default=None,
    envvar="TAXI_STREAM_STARTING_POSITION_TIMESTAMP",
    show_envvar=True,
    help="StartingPositionTimestamp for AT_TIMESTAMP: ISO-8601 or Unix seconds.",
)
@click.option(
    "--maximum-retry-attempts",
    type=click.IntRange(-1, 10_000),
    default=-1,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_RETRY_ATTEMPTS",
    show_envvar=True,
    help="MaximumRetryAttempts (-1: retry until the record expires).",
)
@click.option(
    "--maximum-record-age-in-seconds",
    type=click.IntRange(-1, 604_800),
    default=-1,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_RECORD_AGE",
    show_envvar=True,
    help="MaximumRecordAgeInSeconds: -1 (never discard by age) or 60..604800.",
)
@click.option(
    "--bisect-batch-on-function-error",
    is_flag=True,
    envvar="TAXI_STREAM_BISECT_BATCH_ON_FUNCTION_ERROR",
    show_envvar=True,
    help="BisectBatchOnFunctionError: split a failed batch in two before retrying.",
)
@click.option(
    "--report-batch-item-failures",
    is_flag=True,
    envvar="TAXI_STREAM_REPORT_BATCH_ITEM_FAILURES",
    show_envvar=True,
    help="FunctionResponseTypes ReportBatchItemFailures: honour batchItemFailures.",
)
@click.option(
    "--parallelization-factor",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    envvar="TAXI_STREAM_PARALLELIZATION_FACTOR",
    show_envvar=True,
    help="ParallelizationFactor (only 1 with tumbling windows).",
)
@click.option(
    "--on-failure",
    default=None,
    envvar="TAXI_STREAM_ON_FAILURE",
    show_envvar=True,
    help="On-failure destination for discarded batches: file://PATH (JSON lines) "
    "or sqs://QUEUE_URL_OR_NAME.",
)
@click.option(
    "--function-timeout",
    type=click.FloatRange(0, 900, min_open=True),
    default=60.0,
    show_default=True,
    envvar="TAXI_STREAM_FUNCTION_TIMEOUT",
    show_envvar=True,
    help="The handler's timeout in seconds; a timed-out invocation fails.",
)
@click.option(
    "--idle-window-close",
    type=click.FloatRange(0, 120),
    default=1.0,
    show_default=True,
    envvar="TAXI_STREAM_IDLE_WINDOW_CLOSE",
    show_envvar=True,
    help="Close a window this many seconds after its end when no records arrive.",
)
@click.option(
    "--give-up-after",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    envvar="TAXI_STREAM_GIVE_UP_AFTER",
    show_envvar=True,
    help="With --until-idle: exit 3 once all work left has kept failing this long.",
)
@click.option("--quiet", is_flag=True, help="No live view; one line per stuck shard or discard.")
@clear_errors
def process(handler: str, batch_size: int, clock: str, until_idle: bool, **kw: Any) -> None:
    """Run the local event source mapping: stream -> handler -> store, with a live shard view.

    The flags are the AWS event source mapping settings, with AWS's behaviour
    (docs/local-runner.md). Exits 3 when --until-idle gives up on work that keeps failing.
    """  # fmt: skip
    from taxi_stream.views.console import mapping_config, run_processor  # noqa: PLC0415

    settings = settings_of(kw)
    size = kw["window_seconds"]
    options = ProcessOptions(
        handler,
        mapping_config(batch_size, size, kw),
        HandlerConfig(clock=clock, window_seconds=size or 60, naive_timezone=kw["naive_timezone"]),
    )
    processor = Processor(settings, options)
    code = run_processor(
        processor, until_idle=until_idle, quiet=kw["quiet"], give_up_after_s=kw["give_up_after"],
        err=err,
    )  # fmt: skip
    if code == 130:
        raise SystemExit(code)
    counted, dead = processor.store.counts()
    err.print(
        f"{processor.delivery().line()}; store holds {counted:,} trips in windows"
        f" and {dead:,} dead letters",
        highlight=False,
        soft_wrap=True,
    )
    if code:
        raise SystemExit(code)
