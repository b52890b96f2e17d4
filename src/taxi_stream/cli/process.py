"""``process``: the local event source mapping, with flags named after the AWS settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from taxi_stream.app.process import EventSettings, ProcessOptions, Processor
from taxi_stream.app.wiring import OUR_HANDLER, Settings, import_handler, require_stream
from taxi_stream.cli.options import (
    NumberRange,
    clear_errors,
    common,
    err,
    event_options,
    metrics_options,
    serving_metrics,
)
from taxi_stream.core.errors import ConfigError
from taxi_stream.core.limits import MAX_BATCH_SIZE
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.words import count
from taxi_stream.runner.mapping import MappingConfig
from taxi_stream.views.console import EXIT_INTERRUPTED, run_processor, say

if TYPE_CHECKING:
    from taxi_stream.views.metrics import Sources


@click.command()
@common(windows_off=True)
@click.option(
    "--handler",
    default=OUR_HANDLER,
    callback=lambda _ctx, _param, spec: _importable(spec),
    show_default=True,
    envvar="TAXI_STREAM_HANDLER",
    show_envvar=True,
    help="The Lambda handler to run, as module:function (or Lambda's module.function); the"
    " default is our handler, run on"
    " --store. Another module is imported as `python -m` finds it: the working directory is"
    " put first on sys.path when it is not there.",
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
@event_options(clock=True)
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
    type=NumberRange(0, 900, min_open=True),
    default=60.0,
    show_default=True,
    envvar="TAXI_STREAM_FUNCTION_TIMEOUT",
    show_envvar=True,
    help="The handler's timeout in seconds; a timed-out invocation fails.",
)
@click.option(
    "--idle-window-close",
    type=NumberRange(0, 120),
    default=1.0,
    show_default=True,
    envvar="TAXI_STREAM_IDLE_WINDOW_CLOSE",
    show_envvar=True,
    help="Close a window this many seconds after its end when no records arrive.",
)
@click.option(
    "--give-up-after",
    type=NumberRange(min=0),
    default=30.0,
    show_default=True,
    envvar="TAXI_STREAM_GIVE_UP_AFTER",
    show_envvar=True,
    help="With --until-idle: exit 3 once all work left has kept failing this long.",
)
@click.option("--quiet", is_flag=True, help="No live view; one line per stuck shard or discard.")
@metrics_options
@clear_errors
def process(
    *,
    data_dir: Path,
    window_seconds: int,
    stream_url: str,
    shards: int | None,
    retention_hours: int,
    store_url: str,
    endpoint_url: str | None,
    region: str | None,
    handler: str,
    batch_size: int,
    clock: str,
    event_time: str,
    max_out_of_orderness: int,
    allowed_lateness: int,
    late: str,
    naive_timezone: str,
    until_idle: bool,
    maximum_batching_window_in_seconds: int,
    starting_position: str,
    starting_position_timestamp: str | None,
    maximum_retry_attempts: int,
    maximum_record_age_in_seconds: int,
    bisect_batch_on_function_error: bool,
    report_batch_item_failures: bool,
    parallelization_factor: int,
    on_failure: str | None,
    function_timeout: float,
    idle_window_close: float,
    give_up_after: float,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run the local event source mapping: stream -> handler -> store, with a live shard view.

    The flags are the AWS event source mapping settings, with AWS's behaviour
    (docs/local-runner.md). With the embedded stream, --data-dir must hold one (written by
    produce, replay or run). Exits 3 when --until-idle gives up on work that keeps failing.
    Ctrl-C or SIGTERM stops it with one line (exit 130); the next run resumes from the last
    checkpoint.
    """  # fmt: skip
    settings = Settings(
        data_dir,
        stream_url=stream_url,
        store_url=store_url,
        endpoint_url=endpoint_url,
        region=region,
        shards=shards,
        retention_hours=retention_hours,
    )
    mapping = MappingConfig(
        batch_size=batch_size,
        window_seconds=window_seconds,
        idle_close_s=idle_window_close,
        maximum_batching_window_s=maximum_batching_window_in_seconds,
        starting_position=starting_position,
        starting_position_timestamp_ms=parse_timestamp(starting_position_timestamp),
        maximum_retry_attempts=maximum_retry_attempts,
        maximum_record_age_s=maximum_record_age_in_seconds,
        bisect_batch_on_function_error=bisect_batch_on_function_error,
        report_batch_item_failures=report_batch_item_failures,
        parallelization_factor=parallelization_factor,
        function_timeout_s=function_timeout,
        on_failure=on_failure,
    )
    event = EventSettings(event_time, max_out_of_orderness, allowed_lateness, late)
    options = ProcessOptions(
        handler, mapping, clock=clock, naive_timezone=naive_timezone, event=event
    )
    require_stream(settings)
    with (
        Processor(settings, options) as processor,
        serving_metrics(lambda: metrics_sources(processor), metrics_port, metrics_host),
    ):
        code = run_processor(
            processor, until_idle=until_idle, quiet=quiet, give_up_after_s=give_up_after, err=err
        )
        if code == EXIT_INTERRUPTED:
            raise SystemExit(code)
        counted, dead = processor.store.counts()
        say(err, processor.delivery().line())  # names the on-failure destination
        say(err, f"store: {count(counted, 'trip')} in windows, {count(dead, 'dead letter')}")
    if code:
        raise SystemExit(code)


def metrics_sources(processor: Processor, produced: Callable[[], int] | None = None) -> Sources:
    """What the metrics of a processor read: its shards, our handler's tally, and ``produced``
    (the records a producer beside it put, one trip each)."""
    from taxi_stream.views.metrics import ProducedCounts, Sources  # noqa: PLC0415 - only when asked

    def counts(sent: Callable[[], int]) -> Callable[[], ProducedCounts]:
        return lambda: ProducedCounts(trips=sent(), records=sent())

    return Sources(
        shards=processor.mapping.snapshot,
        handler=processor.tally,
        produced=None if produced is None else counts(produced),
        now_ms=processor.clock.now_ms,
    )


def _importable(spec: str) -> str:
    """A handler of your own, imported now: one that is not there is a usage error (exit 2)."""
    if spec != OUR_HANDLER:
        try:
            import_handler(spec)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    return spec


def parse_timestamp(text: str | None) -> int | None:
    """StartingPositionTimestamp as epoch ms, from ISO-8601 or Unix seconds."""
    if text is None:
        return None
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        return parse_iso_ms(text)
    except ValueError:
        raise ConfigError(f"not an ISO-8601 time or Unix seconds: {text!r}") from None
