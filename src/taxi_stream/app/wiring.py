"""The one place that wires adapters together: stream and store URLs to objects, the handler."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from taxi_stream.core.errors import ConfigError
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.ports import TotalsStore
from taxi_stream.runner.mapping import Handler, InProcess
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from taxi_stream.streams.local import LocalStream

DEFAULT_HANDLER: Final = "taxi_stream.lambda_handler:lambda_handler"
STREAM_FILE: Final = "stream.db"
STORE_FILE: Final = "store.db"


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


def open_stream(settings: Settings) -> Any:
    """The stream named by ``stream_url``: ``local`` (embedded) or ``kinesis://NAME``."""
    url = urlparse(settings.stream_url)
    if settings.stream_url == "local":
        return LocalStream(settings.data_dir / STREAM_FILE, settings.shards)
    if url.scheme == "kinesis" and url.netloc:
        from taxi_stream.streams.kinesis import KinesisStream  # noqa: PLC0415 - AWS only

        return KinesisStream(
            url.netloc,
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            aggregate=settings.aggregate,
        )
    raise ConfigError(f"unknown stream {settings.stream_url!r}: use 'local' or kinesis://NAME")


def open_checkpoints(settings: Settings) -> SQLiteStore:
    """The local SQLite file holding checkpoints (and totals, for the local store)."""
    return SQLiteStore(settings.data_dir / STORE_FILE)


def existing_store(settings: Settings) -> Any:
    """The store to read from, opened read-only when it is SQLite (it must exist then).

    A typo in --data-dir is an error, not a new empty store; reading writes nothing, so a
    read-only data dir can be queried.
    """
    url = urlparse(settings.store_url)
    if settings.store_url == "local":
        path = settings.data_dir / STORE_FILE
        if not path.is_file():
            raise ConfigError(f"no store in {settings.data_dir} (is --data-dir right?)")
        return SQLiteStore(path, read_only=True)
    if url.scheme == "sqlite" and url.path:
        if not Path(url.path).is_file():
            raise ConfigError(f"no store at {url.path} (is --store right?)")
        return SQLiteStore(Path(url.path), read_only=True)
    return open_store(settings)


def open_store(settings: Settings, checkpoints: SQLiteStore | None = None) -> Any:
    """The store named by ``store_url``: ``local`` (SQLite in the data dir) or dynamodb://TABLE."""
    url = urlparse(settings.store_url)
    if settings.store_url == "local":
        return checkpoints or open_checkpoints(settings)
    if url.scheme == "sqlite" and url.path:
        return SQLiteStore(Path(url.path))
    if url.scheme == "dynamodb" and url.netloc:
        from taxi_stream.stores.dynamodb import DynamoDBStore  # noqa: PLC0415 - AWS only

        return DynamoDBStore(url.netloc, region=settings.region, endpoint_url=settings.endpoint_url)
    raise ConfigError(
        f"unknown store {settings.store_url!r}: use 'local', sqlite:///PATH or dynamodb://TABLE"
    )


def open_handler(
    spec: str, settings: Settings, store: TotalsStore, config: HandlerConfig
) -> Handler | InProcess[SQLiteUnitOfWork]:
    """The handler the runner invokes, writing to ``store`` (see load_handler).

    Ours with the data dir's own store (``local``, which holds the checkpoints too) writes
    through the unit of work the runner opens for each invocation, so its contributions and
    dead letters commit in the same transaction as the checkpoint.
    """
    if spec == DEFAULT_HANDLER and settings.store_url == "local":
        return in_process_handler(config)
    return load_handler(spec, store, config)


def in_process_handler(config: HandlerConfig) -> InProcess[SQLiteUnitOfWork]:
    """Our handler, built on each unit of work the runner opens on a SQLite store."""
    return InProcess(lambda work: TumblingWindowHandler(work, config))


def load_handler(spec: str, store: TotalsStore, config: HandlerConfig) -> Handler:
    """Our handler bound to ``store`` for the default spec, else ``module:function`` imported."""
    if spec == DEFAULT_HANDLER:
        return TumblingWindowHandler(store, config)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"handler must be module:function, got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: a handler beside you is found
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure to import the user's module is theirs to fix
        raise ConfigError(
            f"cannot import handler module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ConfigError(f"{module_name} has no callable {attr!r}")
    return handler  # type: ignore[no-any-return]
