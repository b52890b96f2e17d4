"""The one place that builds adapters: stream, store and destination URLs to objects, handlers.

Everything is handed out as the interfaces of taxi_stream.ports. The AWS adapters (Kinesis,
DynamoDB, SQS) are imported only when a URL names them, so a local run never loads boto3.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

from taxi_stream.app.tally import HandlerTally
from taxi_stream.core.errors import ConfigError, TaxiStreamError
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.infra.clock import now_ms
from taxi_stream.ports import CountingStream, FailureDestination, Store, Stream
from taxi_stream.runner.config import check_destination
from taxi_stream.runner.destinations import FileDestination, SQSDestination
from taxi_stream.runner.mapping import Handler, InProcess
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from taxi_stream.streams.local import DEFAULT_RETENTION_H, LocalStream

# The --handler value that selects our handler. It names the Lambda entry point, but that one
# writes to DynamoDB; wiring runs our TumblingWindowHandler in its place, on the chosen --store.
OUR_HANDLER: Final = "taxi_stream.lambda_handler:lambda_handler"
STREAM_FILE: Final = "stream.db"
STORE_FILE: Final = "store.db"
_STREAM_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,128}")  # Kinesis's rule for stream names
_TABLE_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{3,255}")  # DynamoDB's rule for table names


@dataclass(frozen=True, slots=True)
class Settings:
    """Where things live; resolved by the CLI (flag > environment > default)."""

    data_dir: Path
    stream_url: str = "local"
    store_url: str = "local"
    endpoint_url: str | None = None
    region: str | None = None
    shards: int | None = None
    aggregate: bool = False  # KPL-aggregate records put into Kinesis
    retention_hours: int = DEFAULT_RETENTION_H  # the embedded stream trims older records


@dataclass(frozen=True, slots=True)
class Consumer:
    """What a consumer opens: the stream, the checkpoints, the store, and one fact about them.

    ``whole_data_dir`` is the embedded stream when the store is the data dir's own (``--store
    local``): then the store holds the outcome of every record that stream ever took, and a
    balance can be drawn over the whole data dir. Otherwise it is None.
    """

    stream: Stream
    checkpoints: SQLiteStore
    store: Store
    whole_data_dir: CountingStream | None
    own_store: bool = False  # the store is the data dir's own: it holds the checkpoints too

    def close(self) -> None:
        """Close the store, the checkpoints and the stream (each once)."""
        if not self.own_store:
            self.store.close()
        self.checkpoints.close()
        self.stream.close()


def open_stream(settings: Settings, *, clock: Callable[[], int] = now_ms) -> Stream:
    """The stream named by ``stream_url``: ``local`` (embedded) or ``kinesis://NAME``.

    ``clock`` stamps what the embedded stream writes (arrival times, retention).
    """
    url = urlparse(settings.stream_url)
    if settings.stream_url == "local":
        return _local_stream(settings, clock)
    if url.scheme == "kinesis" and url.netloc:
        from taxi_stream.streams.kinesis import KinesisStream  # noqa: PLC0415 - AWS only

        return KinesisStream(
            url.netloc,
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            aggregate=settings.aggregate,
        )
    raise ConfigError(f"unknown stream {settings.stream_url!r}: use 'local' or kinesis://NAME")


def _local_stream(settings: Settings, clock: Callable[[], int]) -> LocalStream:
    return LocalStream(
        settings.data_dir / STREAM_FILE,
        settings.shards,
        retention_hours=settings.retention_hours,
        clock=clock,
    )


def require_stream(settings: Settings) -> None:
    """With the embedded stream, ConfigError unless the data dir holds one.

    A consumer would otherwise create it, empty, and wait on it for ever: a typo in --data-dir
    is an error, named in one line. Another stream (kinesis://NAME) is not checked here.
    """
    if settings.stream_url != "local" or (settings.data_dir / STREAM_FILE).is_file():
        return
    data_dir = settings.data_dir
    missing = f"no data dir {data_dir}" if not data_dir.exists() else f"no stream in {data_dir}"
    raise ConfigError(
        f"{missing} (is --data-dir right?): write records into it with `taxi-stream produce` or"
        " `taxi-stream run` first, or read another stream with --stream kinesis://NAME"
    )


def open_checkpoints(settings: Settings, *, clock: Callable[[], int] = now_ms) -> SQLiteStore:
    """The local SQLite file holding checkpoints (and totals, for the local store)."""
    return SQLiteStore(settings.data_dir / STORE_FILE, clock=clock)


def open_consumer(settings: Settings, *, clock: Callable[[], int] = now_ms) -> Consumer:
    """The stream, checkpoints and store a consumer uses, all on ``clock``; on a failure, none
    is left open."""
    with ExitStack() as opened:
        if settings.stream_url == "local":
            local = _local_stream(settings, clock)
            stream: Stream = local
            counter: CountingStream | None = local
        else:
            stream, counter = open_stream(settings, clock=clock), None
        opened.enter_context(closing(stream))
        checkpoints = opened.enter_context(closing(open_checkpoints(settings, clock=clock)))
        own = settings.store_url == "local"
        store: Store = (
            checkpoints if own else opened.enter_context(closing(open_store(settings, clock=clock)))
        )
        opened.pop_all()
    return Consumer(stream, checkpoints, store, counter if own else None, own_store=own)


def existing_store(settings: Settings) -> Store:
    """The store to read from, opened read-only when it is SQLite (it must exist then).

    A typo in --data-dir is an error, not a new empty store; reading writes nothing, so a
    read-only data dir can be queried.
    """
    if settings.store_url == "local":
        path = settings.data_dir / STORE_FILE
        if not path.is_file():
            raise ConfigError(f"no store in {settings.data_dir} (is --data-dir right?)")
        return SQLiteStore(path, read_only=True)
    named = sqlite_path(settings.store_url)
    if named is not None:
        if not named.is_file():
            raise ConfigError(f"no store at {named} (is --store right?)")
        return SQLiteStore(named, read_only=True)
    return open_store(settings)


def sqlite_path(store_url: str) -> Path | None:
    """The file of a ``sqlite:`` store URL, read as SQLAlchemy reads it (None: not sqlite:).

    ``sqlite:///store.db`` is relative to the working directory, ``sqlite:////srv/store.db``
    absolute: after the three slashes of ``sqlite:///`` comes the path as it is. Anything else
    after ``sqlite:`` (no path, a host, a query or fragment, a directory) is a ConfigError, and
    so is a relative path that does not exist while the same path from the root does (what
    ``sqlite:///abs`` named before these URLs were read as SQLAlchemy reads them).
    """
    scheme, sep, rest = store_url.partition("://")
    if scheme.lower() != "sqlite" or not sep:
        return None
    path = Path(rest[1:])
    if not rest.startswith("/") or "?" in rest or "#" in rest or not rest[1:] or path.is_dir():
        raise ConfigError(
            f"not a SQLite store URL: {store_url!r}: use sqlite:///RELATIVE/PATH or"
            " sqlite:////ABSOLUTE/PATH (a file, no ?query)"
        )
    if not path.is_absolute() and not path.exists() and Path(rest).exists():
        raise ConfigError(
            f"{store_url!r} names {path} in the working directory (three slashes: relative,"
            f" as SQLAlchemy reads it), which does not exist; for {rest} write sqlite:///{rest}"
        )
    return path


def existing_stream(settings: Settings) -> tuple[Stream, CountingStream | None] | None:
    """The stream to read positions from, and its counter when it counts what it took (the
    embedded log); None when the embedded log's file does not exist (it is not created)."""
    if settings.stream_url != "local":
        return open_stream(settings), None
    if not (settings.data_dir / STREAM_FILE).is_file():
        return None
    local = _local_stream(settings, now_ms)
    return local, local


def existing_checkpoints(settings: Settings) -> SQLiteStore | None:
    """The data dir's checkpoints, opened read-only (None: the data dir has no store file)."""
    path = settings.data_dir / STORE_FILE
    return SQLiteStore(path, read_only=True) if path.is_file() else None


def open_store(settings: Settings, *, clock: Callable[[], int] = now_ms) -> Store:
    """The store named by ``store_url``: ``local`` (SQLite in the data dir), sqlite:///PATH
    (``sqlite_path``) or dynamodb://TABLE; ``clock`` stamps what it writes."""
    url = urlparse(settings.store_url)
    if settings.store_url == "local":
        return open_checkpoints(settings, clock=clock)
    path = sqlite_path(settings.store_url)
    if path is not None:
        return SQLiteStore(path, clock=clock)
    if url.scheme == "dynamodb" and url.netloc:
        from taxi_stream.stores.dynamodb import DynamoDBStore  # noqa: PLC0415 - AWS only

        return DynamoDBStore(
            url.netloc, region=settings.region, endpoint_url=settings.endpoint_url, clock=clock
        )
    raise ConfigError(
        f"unknown store {settings.store_url!r}: use 'local', sqlite:///PATH or dynamodb://TABLE"
    )


def open_destination(
    url: str | None, *, endpoint_url: str | None = None, region: str | None = None
) -> FailureDestination | None:
    """The destination named by ``file://PATH`` or ``sqs://QUEUE_URL_OR_NAME`` (None: none)."""
    if url is None:
        return None
    check_destination(url)
    scheme, _, rest = url.partition("://")
    if scheme == "file":
        return FileDestination(Path(rest))
    return SQSDestination(rest, endpoint_url=endpoint_url, region=region)


def create_aws_resources(
    stream_name: str,
    table_name: str,
    shards: int,
    *,
    kinesis_url: str | None,
    dynamodb_url: str | None,
    region: str | None,
) -> tuple[bool, bool]:
    """Create the Kinesis stream and the DynamoDB table unless they exist: which were created.

    Both names are checked before anything is created; when the table fails after the stream
    was made, the error says what became of the stream.
    """
    from taxi_stream.stores.dynamodb import DynamoDBStore, create_table  # noqa: PLC0415 - AWS only
    from taxi_stream.streams.kinesis import KinesisStream, create_stream  # noqa: PLC0415

    check_resource_names(stream_name, table_name)
    with closing(KinesisStream(stream_name, region=region, endpoint_url=kinesis_url)) as stream:
        stream_created = create_stream(stream.client, stream_name, shards)
    try:
        with closing(DynamoDBStore(table_name, region=region, endpoint_url=dynamodb_url)) as store:
            table_created = create_table(store.client, table_name)
    except TaxiStreamError as exc:
        done = f"created ({shards} shard(s))" if stream_created else "already there"
        raise type(exc)(f"stream {stream_name}: {done}; table {table_name}: {exc}") from exc
    return stream_created, table_created


def check_resource_names(stream_name: str, table_name: str) -> None:
    """ConfigError unless both are names AWS accepts (so neither is created when one is not)."""
    allowed = "of the letters a-z and A-Z, the digits 0-9, '_', '.' and '-'"
    if not _STREAM_NAME.fullmatch(stream_name):
        raise ConfigError(
            f"stream name {stream_name!r} is not a Kinesis stream name: 1 to 128 {allowed}"
            " (nothing was created)"
        )
    if not _TABLE_NAME.fullmatch(table_name):
        raise ConfigError(
            f"table name {table_name!r} is not a DynamoDB table name: 3 to 255 {allowed}"
            " (nothing was created)"
        )


def our_handler(
    store: Store,
    config: HandlerConfig,
    *,
    in_process: bool = False,
    tally: HandlerTally | None = None,
) -> Handler | InProcess[SQLiteUnitOfWork]:
    """Our handler writing to ``store``, once the store agrees to hold its kind of windows.

    ``in_process`` (the data dir's own SQLite store, which holds the checkpoints too): the
    handler writes through the unit of work the runner opens for each invocation, so its
    contributions and dead letters commit in the same transaction as the checkpoint.
    ``tally`` sums what each invocation did, for the metrics, once its checkpoint commits.
    """
    store.claim_windows(config.window_seconds, config.clock)
    if in_process:
        return in_process_handler(config, tally)
    handler = TumblingWindowHandler(store, config)
    if tally is None:
        return handler
    return InProcess(lambda _work: handler, committed=tally.committed)  # counts once committed


def in_process_handler(
    config: HandlerConfig, tally: HandlerTally | None = None
) -> InProcess[SQLiteUnitOfWork]:
    """Our handler, built on each unit of work the runner opens on a SQLite store.

    It reads each invocation's records as the runner's view, without the base64 round trip.
    ``tally`` adds an invocation's counts once its unit of work has committed.
    """
    return InProcess(
        lambda work: TumblingWindowHandler(work, config),
        record_view=True,
        committed=None if tally is None else tally.committed,
    )


def import_handler(spec: str) -> Handler:
    """The callable named ``module:function``, imported as ``python -m`` would find it.

    Lambda's own form, ``module.function`` (``dir/module.function`` for a module in a folder),
    names the same callable, split as the Python runtime splits it: at the last dot.

    When neither ``""`` nor the working directory is on ``sys.path``, the working directory is
    put first on it (for the life of the process), so a handler module beside you is found;
    this is what ``process --help`` and docs/local-runner.md say of ``--handler``.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep:  # Lambda's Handler setting: the runtime splits it at the last dot
        module_name, sep, attr = spec.rpartition(".")
        module_name = module_name.removeprefix("./").replace("/", ".")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"handler must be module:function (or Lambda's module.function), got {spec!r}"
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure to import the user's module is theirs to fix
        raise ConfigError(
            f"cannot import handler module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ConfigError(f"module {module_name!r} has no callable {attr!r}")
    return handler  # type: ignore[no-any-return]
