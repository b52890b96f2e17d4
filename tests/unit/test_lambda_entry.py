"""The Lambda entry point: its settings are checked at cold start, its logging is its own."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from taxi_stream import lambda_handler as entry
from taxi_stream.core.errors import ConfigError
from taxi_stream.core.windows import WindowClock

EVENT: Any = {"Records": []}


@pytest.fixture
def runtime_handler() -> Iterator[logging.Handler]:
    """A root handler with its own formatter, as the Lambda runtime installs one."""
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of a captured stream."""
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("seconds", "why"),
    [("sixty", "whole number"), ("0", "between 1 and 900"), ("901", "between 1 and 900"),
     ("-5", "whole number"), ("", "whole number")],
)  # fmt: skip
def test_a_bad_window_size_fails_the_first_invocation_with_one_line(
    seconds: str,
    why: str,
    package_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """WINDOW_SECONDS that is no size: ConfigError naming it, and one JSON error line saying so."""
    monkeypatch.setenv("WINDOW_SECONDS", seconds)
    with pytest.raises(ConfigError, match=f"WINDOW_SECONDS: .*{why}"):
        entry.lambda_handler(EVENT, None)
    (line,) = lines(capsys.readouterr().err)
    assert (line["level"], line["logger"]) == ("ERROR", "taxi_stream.lambda_handler")
    assert "configuration is invalid" in line["message"]
    assert "WINDOW_SECONDS: window size must be" in line["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WINDOW_CLOCK", "pickup"),
        ("NAIVE_TIMEZONE", "Mars/Olympus"),
        ("LOG_LEVEL", "LOUD"),
        ("EVENT_TIME", "arrival"),
        ("MAX_OUT_OF_ORDERNESS_SECONDS", "-5"),
        ("ALLOWED_LATENESS_SECONDS", "604801"),
        ("LATE_TRIPS", "drop"),
    ],
)
def test_every_bad_setting_is_a_config_error_naming_its_variable(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, package_logger: logging.Logger
) -> None:
    """The clock, the zone and the log level are checked at cold start too, each by its name."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}: .*{value}"):
        entry.lambda_handler(EVENT, None)


def test_the_environment_names_clock_size_zone_and_table() -> None:
    """Each variable lands in the setting it names; the original table variable is honoured."""
    env = {"dynamoDBTableName": "trips", "WINDOW_CLOCK": "event", "WINDOW_SECONDS": " 300 ",
           "NAIVE_TIMEZONE": "America/New_York"}  # fmt: skip
    table, config = entry.config_from_env(env)
    assert table == "trips"
    assert (config.clock, config.window_seconds, config.naive_timezone) == (
        WindowClock.EVENT,
        300,
        "America/New_York",
    )
    assert entry.config_from_env({})[1].clock is WindowClock.ARRIVAL


def test_the_environment_names_the_event_clocks_settings() -> None:
    """EVENT_TIME, the two bounds and LATE_TRIPS land in the event clock's settings."""
    env = {"EVENT_TIME": "dropoff", "MAX_OUT_OF_ORDERNESS_SECONDS": "300",
           "ALLOWED_LATENESS_SECONDS": " 30 ", "LATE_TRIPS": "dead-letter"}  # fmt: skip
    config = entry.config_from_env(env)[1]
    assert (config.event_time, config.max_out_of_orderness_s) == ("dropoff", 300)
    assert (config.allowed_lateness_s, config.late) == (30, "dead-letter")
    defaults = entry.config_from_env({})[1]
    assert (defaults.event_time, defaults.max_out_of_orderness_s) == ("pickup", 60)
    assert (defaults.allowed_lateness_s, defaults.late) == (0, "count")


def test_logging_leaves_the_root_and_other_loggers_handlers_alone(
    package_logger: logging.Logger, runtime_handler: logging.Handler
) -> None:
    """The runtime's root handler keeps its formatter; another library's handlers stay as set."""
    formatter = runtime_handler.formatter
    root_handlers = list(logging.getLogger().handlers)
    other = logging.getLogger("botocore.example")
    own = logging.NullHandler()
    other.addHandler(own)
    try:
        entry.configure_logging()
        assert logging.getLogger().handlers == root_handlers
        assert runtime_handler.formatter is formatter
        assert other.handlers == [own]
    finally:
        other.removeHandler(own)


def test_our_records_are_one_json_line_each_and_not_printed_twice(
    package_logger: logging.Logger,
    runtime_handler: logging.StreamHandler[io.StringIO],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A taxi-stream record comes out once, as JSON; another library's reaches the root as ever."""
    entry.configure_logging()
    logging.getLogger("taxi_stream.function.handler").info("window part written: %d", 3)
    logging.getLogger("botocore.example").warning("retrying")
    (line,) = lines(capsys.readouterr().err)
    assert (line["level"], line["message"]) == ("INFO", "window part written: 3")
    assert runtime_handler.stream.getvalue() == "[WARNING]\tretrying\n"


def test_a_second_configuration_adds_no_second_handler(package_logger: logging.Logger) -> None:
    """Configuring twice (a retried cold start) leaves exactly one handler of ours."""
    entry.configure_logging()
    entry.configure_logging()
    ours = [h for h in package_logger.handlers if isinstance(h, entry.JsonLinesHandler)]
    assert len(ours) == 1
