"""``taxi-stream aws local``: kinesalite and dynalite on 127.0.0.1, the AWS pipeline run on them."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import click

from taxi_stream.app.accounting import accounting
from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.app.produce import PRODUCE_BATCH, produce
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.cli.aws import DEFAULT_STREAM, ensure_resources
from taxi_stream.cli.demodir import claim_data_dir, empty_data_dir, release
from taxi_stream.cli.options import NumberRange, clear_errors, err, flag_ms, require_stdout
from taxi_stream.cli.query import query
from taxi_stream.core.errors import ServerStartError
from taxi_stream.core.limits import MAX_WINDOW_S, MIN_WINDOW_S
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import ZERO, Totals
from taxi_stream.infra.clock import SYSTEM_CLOCK
from taxi_stream.infra.localaws import (
    INSTALL_HINT,
    dynalite_server,
    find_node_modules,
    kinesalite_server,
)
from taxi_stream.ports import TotalsQuery
from taxi_stream.runner.config import MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores import DEFAULT_TABLE
from taxi_stream.views.console import EXIT_INTERRUPTED, run_processor

REGION: Final = "us-east-1"
DUMMY_KEY: Final = "local"  # kinesalite and dynalite accept any credentials; never real ones
GIVE_UP_AFTER_S: Final = 30.0
STREAM_URL: Final = f"kinesis://{DEFAULT_STREAM}"
STORE_URL: Final = f"dynamodb://{DEFAULT_TABLE}"
DATA_DIR: Final = Path("data/aws-local")


@dataclass(frozen=True, slots=True)
class Demo:
    """What the demo simulates and how it windows it."""

    trips: int
    seed: int
    malformed: float
    start_ms: int
    shards: int
    window_seconds: int


@click.command("local")
@click.option(
    "--trips",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Simulated trips to produce.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--malformed",
    type=NumberRange(0, 1),
    default=0.001,
    show_default=True,
    help="Fraction of malformed records, dead-lettered on purpose (0: none).",
)
@click.option(
    "--start",
    "start_iso",
    default=None,
    help="Pickup time of the first trip, ISO-8601 (default: now).",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="Shards of input-stream.",
)
@click.option(
    "--window-seconds",
    type=click.IntRange(MIN_WINDOW_S, MAX_WINDOW_S),
    default=60,
    show_default=True,
    help="Tumbling window size (arrival clock).",
)
@click.option(
    "--kinesis-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="kinesalite's port on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--dynamodb-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="dynalite's port on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--node-modules",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="TAXI_STREAM_NODE_MODULES",
    show_envvar=True,
    help="Where kinesalite and dynalite are installed (default: node_modules in the"
    " working directory or a parent, else in this checkout).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DATA_DIR,
    show_default=True,
    help="Where the demo's checkpoints live, so the printed `process` command resumes them;"
    " marked as aws local's own and emptied at start (the servers start empty). Refused if it"
    " holds a stream, a store aws local did not write or other files (exit 2), or if a"
    " `process` is reading it.",
)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="After the demo, keep the servers up until Ctrl-C (default: when stdin is a terminal).",
)
@clear_errors
def local(
    *,
    trips: int,
    seed: int,
    malformed: float,
    start_iso: str | None,
    shards: int,
    window_seconds: int,
    kinesis_port: int,
    dynamodb_port: int,
    node_modules: Path | None,
    data_dir: Path,
    wait: bool | None,
) -> None:
    """Start kinesalite and dynalite on 127.0.0.1, run the AWS pipeline on them, stop them.

    Creates input-stream and my-dynamodb-table (as `aws create-resources`), produces seeded
    simulated trips into kinesis://input-stream (as `produce`), processes them into
    dynamodb://my-dynamodb-table with the local runner until idle (as `process --until-idle`),
    then prints the window totals, the accounting and the environment that points other tools
    at the servers. The checkpoints live in --data-dir (its own: emptied at start), and the printed
    `process` command names it, so it resumes them and counts only new trips. The servers keep
    everything in memory and stop when this command ends (after the demo, on Ctrl-C, SIGTERM or
    an error). Exits 3 like `process` when a shard stays stuck, 130 when interrupted during the
    demo.
    """  # fmt: skip
    require_stdout()
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop ends it like Ctrl-C
    modules = node_modules or find_node_modules()
    if modules is None:
        raise ServerStartError(
            f"no node_modules with kinesalite and dynalite found: {INSTALL_HINT}"
        )
    start_ms = flag_ms(start_iso, "--start") or SYSTEM_CLOCK.now_ms()
    demo = Demo(trips, seed, malformed, start_ms, shards, window_seconds)
    keep = sys.stdin.isatty() if wait is None else wait
    code = _serve(modules, demo, (kinesis_port, dynamodb_port), data_dir, keep=keep)
    if code:
        raise SystemExit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(modules: Path, demo: Demo, ports: tuple[int, int], data_dir: Path, *, keep: bool) -> int:
    """Run the demo with both servers up; stop them however it ends. The exit code."""
    started = False
    lock = ExitStack()
    lock.callback(release, claim_data_dir(data_dir))  # before the servers start: refused at once
    try:
        with lock, ExitStack() as stack:
            kinesis = stack.enter_context(kinesalite_server(node_modules=modules, port=ports[0]))
            dynamodb = stack.enter_context(dynalite_server(node_modules=modules, port=ports[1]))
            started = True
            empty_data_dir(data_dir)  # only once the servers are up: a failed start leaves it
            lock.close()  # the demo's own `process` takes the consumer lock next
            env = environment(kinesis, dynamodb)
            stack.enter_context(_environ(env))
            click.echo(f"kinesalite on {kinesis}, dynalite on {dynamodb} (in memory)")
            code = _pipeline(demo, data_dir)
            if code == 0:
                _print_environment(env, demo.window_seconds, data_dir)
                _linger(keep)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        if started:
            click.echo("kinesalite and dynalite stopped")
    return code


def environment(kinesis_url: str, dynamodb_url: str) -> dict[str, str]:
    """The variables that point boto3, the AWS CLI and taxi-stream at the local servers."""
    return {
        "AWS_ENDPOINT_URL_KINESIS": kinesis_url,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,  # what boto3 and botocore read
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
    }


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """This process uses the printed environment while the servers run; restored after."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _pipeline(demo: Demo, data_dir: Path) -> int:
    """Create, produce, process until idle, report: the same code as the four commands."""
    for line in ensure_resources(
        DEFAULT_STREAM, DEFAULT_TABLE, demo.shards, kinesis_url=None, dynamodb_url=None,
        region=REGION,
    ):  # fmt: skip
        click.echo(line)
    settings = Settings(data_dir, stream_url=STREAM_URL, store_url=STORE_URL, region=REGION)
    sent = _produce(settings, demo)
    if sent is None:
        return 1
    options = ProcessOptions(mapping=MappingConfig(window_seconds=demo.window_seconds))
    with Processor(settings, options) as processor:
        before = processor.store.counts()
        code = run_processor(
            processor, until_idle=True, quiet=False, give_up_after_s=GIVE_UP_AFTER_S, err=err
        )
        if code:
            return code
        click.get_current_context().invoke(query, store_url=STORE_URL, region=REGION)
        _print_vendor_totals(processor.store)
        result = accounting(processor.store, processor.whole_data_dir, before, sent)
    click.echo("\n".join(result.lines()))
    return 0 if result.in_flight == 0 else 1


def _produce(settings: Settings, demo: Demo) -> int | None:
    """Send the simulated trips; how many were sent (None when some failed)."""
    sim = Simulator(
        SimulatorConfig(seed=demo.seed, start_ms=demo.start_ms, malformed_fraction=demo.malformed)
    )
    malformed = 0

    def entries() -> Iterator[tuple[int, str, bytes]]:
        nonlocal malformed
        number = 0
        for batch in sim.batches(PRODUCE_BATCH, count=demo.trips):
            malformed += len(batch.malformed)
            for key, data in batch.entries:
                number += 1
                yield number, key, data

    with closing(open_stream(settings)) as stream:
        result = produce(stream, entries())
    click.echo(
        f"produced {result.sent:,} simulated trips into {STREAM_URL}, {malformed:,} of them "
        f"malformed on purpose (dead letters); failed {result.failed:,}"
    )
    click.echo(
        f"  the same records: taxi-stream generate --trips {demo.trips} --seed {demo.seed}"
        f" --start {iso_utc(demo.start_ms)} --malformed {demo.malformed:g}"
    )
    for index, why in result.failures[:20]:
        err.print(f"  record {index}: {why}", markup=False, highlight=False)  # the server's words
    return None if result.failed else result.sent


def _print_vendor_totals(store: TotalsQuery) -> None:
    per_vendor: dict[str, Totals] = {}
    for window in store.windows():
        per_vendor[window.vendor_id] = per_vendor.get(window.vendor_id, ZERO) + window.totals
    click.echo("totals per vendor, all windows:")
    for vendor, t in sorted(per_vendor.items()):
        click.echo(
            f"  vendor {vendor}: {t.trip_count:,} trips, {t.distance_milli / 1000:,.3f} miles,"
            f" {t.duration_s:,} s, {t.passenger_count:,} passengers"
        )


def _print_environment(env: dict[str, str], window_seconds: int, data_dir: Path) -> None:
    click.echo("\npoint your own tools at the servers (paste into a shell):")
    for key, value in env.items():
        click.echo(f"  export {key}={value}")
    click.echo("then, for example:")
    for example in (
        f"taxi-stream query --store {STORE_URL}",
        f"taxi-stream query --store {STORE_URL} --dead-letters",
        f"taxi-stream generate --trips 1000 | taxi-stream produce --stream {STREAM_URL} --from -",
        f"taxi-stream process --stream {STREAM_URL} --store {STORE_URL} --until-idle"
        f" --window-seconds {window_seconds} --data-dir {shlex.quote(str(data_dir))}",
        f"aws kinesis describe-stream-summary --stream-name {DEFAULT_STREAM}",
        f"aws dynamodb scan --table-name {DEFAULT_TABLE} --max-items 5",
    ):
        click.echo(f"  {example}")


def _linger(keep: bool) -> None:
    """Keep the servers up until Ctrl-C or SIGTERM when asked; else say they stop now."""
    if not keep:
        click.echo("\nthe servers stop now (--wait keeps them up until Ctrl-C)")
        return
    try:
        click.echo("\nthe servers stay up until Ctrl-C (or SIGTERM)")
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return
