"""Ctrl-C during an invocation reaches the runner once no call of the handler can outlive it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taxi_stream.runner import invoke
from taxi_stream.runner.invoke import LocalContext, WorkHandler, call_with_deadline

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


def test_a_ctrl_c_while_a_timed_out_call_is_waited_out_still_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the runner waits out a call past its deadline that writes through the unit
    of work (an in-process handler): raised once the call returned.

    Otherwise the runner would roll back while the late call still writes, and a write after
    the rollback would commit on its own.
    """
    began, release = threading.Event(), threading.Event()
    interrupts: list[str] = []

    class CtrlCOnWait(threading.Event):
        """The call's done flag: its deadline has passed, and the first wait without a deadline
        is cut by Ctrl-C; a later one lets the blocked call finish and waits for it."""

        def wait(self, timeout: float | None = None) -> bool:
            if timeout is not None:  # the deadline's wait: past as soon as the call began
                began.wait()
                return super().wait(0)
            if not interrupts:
                interrupts.append("ctrl-c")
                raise KeyboardInterrupt
            release.set()
            return super().wait()

    class Watched(invoke._Call):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.done = CtrlCOnWait()

    finished: list[str] = []

    def handler(event: object, context: object) -> dict[str, Any]:
        began.set()
        release.wait()
        finished.append("returned")
        return {}

    monkeypatch.setattr(invoke, "_Call", Watched)
    try:
        with pytest.raises(KeyboardInterrupt):
            call_with_deadline(WorkHandler(handler), EVENT, LocalContext("r", deadline_s=0.0))
        assert interrupts == ["ctrl-c"]
        assert finished == ["returned"], "Ctrl-C left the timed-out call running"
    finally:
        release.set()  # a thread left blocked by a failure ends


def test_a_ctrl_c_past_the_deadline_stops_without_a_call_of_your_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ctrl-C once a handler of your own is past its deadline: raised at once, the call still
    blocked (it has timed out, stopping or not), and a line says it timed out."""
    began, release = threading.Event(), threading.Event()

    def handler(event: object, context: object) -> None:
        began.set()
        release.wait()

    interrupts: list[str] = []

    class CtrlCOnceBegun(threading.Event):
        """The call's done flag: its first wait ends with Ctrl-C once the call began."""

        def wait(self, timeout: float | None = None) -> bool:
            if not interrupts:
                interrupts.append("ctrl-c")
                began.wait()
                raise KeyboardInterrupt
            return super().wait(timeout)

    class Watched(invoke._Call):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.done = CtrlCOnceBegun()

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(invoke, "_Call", Watched)
            with pytest.raises(KeyboardInterrupt):
                call_with_deadline(handler, EVENT, LocalContext("r-1", deadline_s=0.0))
        assert not release.is_set()  # the call never returned: the runner did not wait for it
        assert "invocation r-1 timed out while stopping" in caplog.text
    finally:
        release.set()
