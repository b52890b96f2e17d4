"""A function timeout is a type: FunctionTimeoutError, never recognised by its message."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from taxi_stream.core.errors import FunctionTimeoutError, HandlerContractError
from taxi_stream.runner.invoke import Attempt, LocalContext

EVENT: Any = {"Records": []}


class OpenOnLog(logging.Handler):
    """Opens a gate when a record is logged: the runner's "timed out; waiting" warning."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(logging.WARNING)
        self.gate = gate

    def emit(self, record: logging.LogRecord) -> None:
        """Open the gate."""
        self.gate.set()


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A gate the runner opens once it has seen the call outlive its deadline."""
    opened = threading.Event()
    handler = OpenOnLog(opened)
    logger = logging.getLogger("taxi_stream.runner.invoke")
    logger.addHandler(handler)
    yield opened
    logger.removeHandler(handler)


def test_a_call_past_its_deadline_fails_as_a_timeout(gate: threading.Event) -> None:
    """A handler still running at its deadline: FunctionTimeoutError, counted as a timeout."""

    def slow(event: Any, context: Any) -> Any:
        gate.wait(timeout=60)  # returns once the runner has given up on the call
        return {"state": {}}

    attempt = Attempt()
    due = LocalContext("shardId-0-1", deadline_s=time.monotonic())  # due at once
    with pytest.raises(FunctionTimeoutError, match="Task timed out after"):
        attempt.call(slow, EVENT, due)
    assert gate.is_set()
    assert (attempt.timed_out, attempt.unhandled, attempt.function_error) == (True, True, True)


def test_an_error_reading_like_a_timeout_is_not_one() -> None:
    """A handler's own error whose text is Lambda's timeout message is an error, not a timeout."""

    def raising(event: Any, context: Any) -> Any:
        raise RuntimeError("Task timed out after 3.00 seconds")

    attempt = Attempt()
    with pytest.raises(RuntimeError):
        attempt.call(raising, EVENT, LocalContext("shardId-0-2"))
    assert (attempt.timed_out, attempt.unhandled, attempt.function_error) == (False, True, True)


def test_a_context_without_a_deadline_lets_the_call_finish() -> None:
    """LocalContext's default deadline is none at all: the call's response comes back."""
    response = Attempt().call(lambda event, context: {"state": {"n": 1}}, EVENT, LocalContext("r"))
    assert response == {"state": {"n": 1}}


def test_a_timeout_is_still_a_function_error_of_the_contract() -> None:
    """FunctionTimeoutError is a HandlerContractError, so every handler of those still takes it."""
    assert issubclass(FunctionTimeoutError, HandlerContractError)
