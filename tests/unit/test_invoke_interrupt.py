"""Ctrl-C during an invocation reaches the runner once no call of the handler can outlive it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taxi_stream.runner import invoke
from taxi_stream.runner.invoke import LocalContext, call_with_deadline

EVENT: Any = {"Records": []}


def test_a_ctrl_c_as_the_worker_starts_leaves_no_call_to_begin_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the worker thread starts: when that thread runs later, the call never begins.

    Otherwise the handler would write through a unit of work already rolled back, beside the
    next attempt, or on a store being closed.
    """
    made: list[threading.Thread] = []

    class InterruptedStart(threading.Thread):
        """A worker whose start is cut by Ctrl-C: the thread exists, it has not run yet."""

        def start(self) -> None:
            made.append(self)
            raise KeyboardInterrupt

    monkeypatch.setattr(invoke, "Thread", InterruptedStart)
    calls: list[object] = []
    with pytest.raises(KeyboardInterrupt):
        call_with_deadline(lambda event, context: calls.append(event), EVENT, LocalContext("r"))
    (worker,) = made
    worker.run()  # the thread gets its turn only now, after the runner has moved on
    assert calls == []
