"""The AWS Lambda entry point: ``taxi_stream.lambda_handler.lambda_handler`` on DynamoDB.

Imports only the standard library, boto3 (via the DynamoDB store) and what the deployment
package ships (msgspec, pybase64). Configuration comes from the environment:

- ``TABLE_NAME`` (the original ``dynamoDBTableName`` is honoured too; default
  ``my-dynamodb-table``);
- ``WINDOW_CLOCK`` (``arrival``, the default, or ``event``), ``WINDOW_SECONDS`` (event clock),
  ``NAIVE_TIMEZONE`` (zone of timestamps written without an offset, default UTC);
- the standard AWS variables (``AWS_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB``, ...), read by boto3.

The store and its boto3 client are built once per container, on the first invocation.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.stores import DEFAULT_TABLE
from taxi_stream.stores.dynamodb import DynamoDBStore

_handler: TumblingWindowHandler | None = None


def config_from_env(env: Mapping[str, str]) -> tuple[str, HandlerConfig]:
    """The table name and handler settings named by the environment."""
    table = env.get("TABLE_NAME") or env.get("dynamoDBTableName") or DEFAULT_TABLE
    config = HandlerConfig(
        clock=env.get("WINDOW_CLOCK", "arrival"),
        window_seconds=int(env.get("WINDOW_SECONDS", "60")),
        naive_timezone=env.get("NAIVE_TIMEZONE", "UTC"),
    )
    return table, config


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Handle one Kinesis (tumbling-window) invocation."""
    global _handler  # noqa: PLW0603 - one handler and one client per container, built lazily
    if _handler is None:
        _configure_logging()
        table, config = config_from_env(os.environ)
        _handler = TumblingWindowHandler(DynamoDBStore(table), config)
    return _handler(event, context)


class _JsonLines(logging.Formatter):
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


def _configure_logging() -> None:
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(_JsonLines())
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(_JsonLines())
        root.addHandler(stream)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
