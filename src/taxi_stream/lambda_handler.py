"""The AWS Lambda entry point: ``taxi_stream.lambda_handler.lambda_handler`` on DynamoDB.

Imports only the standard library, boto3 (via the DynamoDB store) and what the deployment
package ships (msgspec, pybase64). Configuration comes from the environment:

- ``TABLE_NAME`` (the original ``dynamoDBTableName`` is honoured too; default
  ``my-dynamodb-table``);
- ``WINDOW_CLOCK`` (``arrival``, the default, or ``event``), ``WINDOW_SECONDS`` (event clock,
  1..900, default 60), ``NAIVE_TIMEZONE`` (zone of timestamps written without an offset,
  default UTC);
- event clock: ``EVENT_TIME`` (``pickup``, the default, or ``dropoff``),
  ``MAX_OUT_OF_ORDERNESS_SECONDS`` (default 60) and ``ALLOWED_LATENESS_SECONDS`` (default 0),
  each 0..604800, and ``LATE_TRIPS`` (``count``, the default, or ``dead-letter``);
- ``LOG_LEVEL`` of taxi-stream's own log lines (default ``INFO``);
- ``METRICS_NAMESPACE``, the CloudWatch namespace of the metrics line (default ``TaxiStream``);
- the standard AWS variables (``AWS_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB``, ...), read by boto3.

On the first invocation (the cold start) the settings are checked, then the store and its
boto3 client are built, once per container. A bad setting fails that invocation with a
ConfigError and one log line naming the variable; nothing is read until it is fixed.

taxi-stream's own loggers write JSON lines through one handler of ours, on the ``taxi_stream``
logger, which stops there (no second, plain-text copy through the runtime's root handler).
Every other logger, the root logger and their handlers and formatters are left as they are.

Each invocation that returns writes one CloudWatch embedded-metric-format line on stdout
(``function/emf.py``): its records, trips, dead letters by reason, late trips and
contributions written, as the handler counted them (``InvocationStats``). An invocation that
raises writes none: Lambda retries it, and the retry's line counts its records once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO, TypeVar

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_MAX_OUT_OF_ORDERNESS_S,
    EventTime,
    LatePolicy,
    check_bound_s,
    event_time,
    late_policy,
)
from taxi_stream.core.windows import WindowClock, check_window_seconds, window_clock
from taxi_stream.function.contract import KinesisEvent, LambdaContext, WindowResponse
from taxi_stream.function.emf import DEFAULT_NAMESPACE, emf_line
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler, naive_zone
from taxi_stream.stores import DEFAULT_TABLE
from taxi_stream.stores.dynamodb import DynamoDBStore

log = logging.getLogger(__name__)

PACKAGE_LOGGER = "taxi_stream"
_T = TypeVar("_T")
_handler: TumblingWindowHandler | None = None
_namespace = DEFAULT_NAMESPACE  # set at the cold start, from METRICS_NAMESPACE
NAMESPACE_RULE = re.compile(r"(?!AWS/)[0-9A-Za-z.\-_/#: ]{1,255}")


def config_from_env(env: Mapping[str, str]) -> tuple[str, HandlerConfig]:
    """The table name and handler settings named by the environment; ConfigError names a bad one."""
    table = env.get("TABLE_NAME") or env.get("dynamoDBTableName") or DEFAULT_TABLE
    clock = _setting(env, "WINDOW_CLOCK", WindowClock.ARRIVAL.value, window_clock)
    seconds = _setting(env, "WINDOW_SECONDS", "60", _window_seconds)
    zone = _setting(env, "NAIVE_TIMEZONE", "UTC", _zone_name)
    return table, HandlerConfig(
        clock=clock,
        window_seconds=seconds,
        naive_timezone=zone,
        event_time=_setting(env, "EVENT_TIME", EventTime.PICKUP.value, event_time),
        max_out_of_orderness_s=_setting(
            env, "MAX_OUT_OF_ORDERNESS_SECONDS", str(DEFAULT_MAX_OUT_OF_ORDERNESS_S), _bound_s
        ),
        allowed_lateness_s=_setting(
            env, "ALLOWED_LATENESS_SECONDS", str(DEFAULT_ALLOWED_LATENESS_S), _bound_s
        ),
        late=_setting(env, "LATE_TRIPS", LatePolicy.COUNT.value, late_policy),
    )


def log_level_from_env(env: Mapping[str, str]) -> int:
    """The level ``LOG_LEVEL`` names (DEBUG, INFO, WARNING, ERROR, CRITICAL; default INFO)."""
    return _setting(env, "LOG_LEVEL", "INFO", _log_level)


def metrics_namespace_from_env(env: Mapping[str, str]) -> str:
    """The CloudWatch namespace ``METRICS_NAMESPACE`` names (default ``TaxiStream``)."""
    return _setting(env, "METRICS_NAMESPACE", DEFAULT_NAMESPACE, _namespace_name)


def lambda_handler(event: KinesisEvent, context: LambdaContext | None) -> WindowResponse:
    """Handle one Kinesis (tumbling-window) invocation, then write its metrics line."""
    global _handler  # noqa: PLW0603 - one handler and one client per container, built lazily
    if _handler is None:
        _handler = _cold_start(os.environ)
    response = _handler(event, context)
    write_metrics(_handler, event, context)
    return response


def write_metrics(
    handler: TumblingWindowHandler, event: KinesisEvent, context: LambdaContext | None
) -> None:
    """The invocation's embedded-metric-format line, on stdout (CloudWatch Logs reads it)."""
    name = context.function_name if context is not None else None
    line = emf_line(
        handler.stats,
        namespace=_namespace,
        function_name=name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        shard_id=str(event.get("shardId") or ""),
        now_ms=time.time_ns() // 1_000_000,
    )
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _cold_start(env: Mapping[str, str]) -> TumblingWindowHandler:
    """Logging, settings and the store, once per container; a bad setting is one log line."""
    global _namespace  # noqa: PLW0603 - set with the handler, once per container
    package = configure_logging()
    try:
        package.setLevel(log_level_from_env(env))  # the level is the package's, not the root's
        table, config = config_from_env(env)
        _namespace = metrics_namespace_from_env(env)
    except ConfigError as exc:
        log.error("the function's configuration is invalid, no record was read: %s", exc)
        raise
    return TumblingWindowHandler(DynamoDBStore(table), config)


def _setting(env: Mapping[str, str], name: str, default: str, parse: Callable[[str], _T]) -> _T:
    text = env.get(name, default)
    try:
        return parse(text)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _window_seconds(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ConfigError(f"window size must be a whole number of seconds, got {text!r}")
    return check_window_seconds(int(text))


def _bound_s(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ConfigError(f"must be a whole number of seconds, got {text!r}")
    return check_bound_s(int(text), "the bound")


def _zone_name(text: str) -> str:
    naive_zone(text)  # raises ConfigError for a zone nobody knows
    return text


def _namespace_name(text: str) -> str:
    if not NAMESPACE_RULE.fullmatch(text):
        raise ConfigError(
            "a CloudWatch namespace is 1..255 letters, digits or . - _ / # : and spaces,"
            f" not starting with AWS/; got {text!r}"
        )
    return text


def _log_level(text: str) -> int:
    names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    if text.strip().upper() not in names:
        raise ConfigError(f"log level must be one of {', '.join(names)}, got {text!r}")
    return logging.getLevelNamesMapping()[text.strip().upper()]


class JsonLinesHandler(logging.StreamHandler[TextIO]):
    """Writes taxi-stream's records as JSON lines; the one handler the entry point adds."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLines())


class JsonLines(logging.Formatter):
    """One JSON object per log line, as CloudWatch Logs Insights reads best."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "time": self.formatTime(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging() -> logging.Logger:
    """JSON lines for the ``taxi_stream`` loggers, through our own handler; returns that logger.

    Adds the handler once (a second call adds none) and stops the package's records there, so
    the runtime's root handler does not print them a second time. Touches no other logger, and
    no handler or formatter it did not create.
    """
    package = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(handler, JsonLinesHandler) for handler in package.handlers):
        package.addHandler(JsonLinesHandler())
    package.propagate = False
    package.setLevel(logging.INFO)
    return package
