"""Invoke a handler as Lambda does: with a deadline, its response read by the Kinesis contract."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from queue import SimpleQueue
from threading import Event, Lock, Thread
from typing import Final

import msgspec

from taxi_stream.core.errors import (
    DamagedDatabaseError,
    FunctionResponseError,
    FunctionTimeoutError,
    HandlerContractError,
)
from taxi_stream.function.contract import KinesisEvent, LambdaContext, State
from taxi_stream.runner.events import DEFAULT_ACCOUNT, DEFAULT_REGION
from taxi_stream.runner.response import delivered, failed_index, state_of

log = logging.getLogger(__name__)

DEFAULT_FUNCTION: Final = "taxi-stream-local"
TIMED_OUT: Final = "Task timed out after"  # how Lambda reports a timeout

Handler = Callable[[KinesisEvent, LambdaContext], object]
"""Any function of the Lambda contract; what it returns is read by that contract, untrusted."""


def function_arn(name: str = DEFAULT_FUNCTION) -> str:
    """The ARN a local function goes by (in the context and in on-failure records)."""
    return f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{name}"


@dataclass(frozen=True, slots=True)
class LocalContext:
    """The Lambda context of a local invocation (a ``LambdaContext``)."""

    aws_request_id: str
    deadline_s: float = float("inf")  # time.monotonic() at which the invocation times out
    function_name: str = DEFAULT_FUNCTION
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN."""
        return function_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out."""
        left = self.deadline_s - time.monotonic()
        return 900_000 if left == float("inf") else max(0, int(left * 1000))


@dataclass(frozen=True, slots=True)
class WorkHandler:
    """A handler bound to the invocation's unit of work (an in-process one).

    A stop waits for its call even past the deadline: its writes go through that unit, which
    must not roll back (and let a late write autocommit) while the call still runs.
    """

    handler: Handler

    def __call__(self, event: KinesisEvent, context: LambdaContext) -> object:
        """Call the bound handler."""
        return self.handler(event, context)


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (or partly successful) response: the state to carry, the first failed index."""

    state: State
    failed_from: int | None = None  # index in the batch of the lowest reported failure


@dataclass(slots=True)
class Attempt:
    """One invocation; remembers whether a failure came from the function or from the runner."""

    function_error: bool = False  # the function failed: it raised, timed out or broke the contract
    unhandled: bool = False  # it raised or timed out (Lambda's FunctionError "Unhandled")
    timed_out: bool = False
    error: Exception | None = None  # what failed the invocation

    def call(
        self,
        handler: Handler,
        event: KinesisEvent,
        context: LocalContext,
        worker: Worker | None = None,
    ) -> object:
        """Call the handler before its deadline; its error, or a timeout, is a function error.

        A damaged SQLite file under an in-process handler is the runner's own store, not the
        function's failure: it is raised as is, never retried as a failed batch. ``worker``:
        the thread to call it on (see ``call_with_deadline``).
        """
        try:
            return call_with_deadline(handler, event, context, worker)
        except DamagedDatabaseError:
            raise
        except Exception as exc:
            self.function_error = self.unhandled = True
            self.timed_out = isinstance(exc, FunctionTimeoutError)
            raise

    def read(
        self, response: object, *, windowed: bool, sequences: Sequence[str], item_failures: bool
    ) -> Response:
        """Read a response as the runtime sends it and the event source mapping reads it.

        A response the runtime cannot send (``delivered``) is a function error as a raise is
        (Unhandled); one it sends that breaks the contract (no ``state`` with windows, a bad
        ``batchItemFailures``, NaN) is a function error without one. With neither windows nor
        item failures, the mapping reads nothing of what was sent.
        """
        try:
            sent = delivered(response)
        except FunctionResponseError:
            self.function_error = self.unhandled = True
            raise
        except HandlerContractError:
            self.function_error = True
            raise
        if not windowed and not item_failures:
            return Response({})
        try:
            state = state_of(sent, windowed=windowed)
            failed = failed_index(sent, sequences) if item_failures else None
        except HandlerContractError:
            self.function_error = True
            raise
        return Response(state, failed)


@dataclass(slots=True)
class _Call:
    """One call of the handler: whether a worker began it or was told not to (both under one
    lock), and, once ``done``, what it returned or raised."""

    handler: Handler
    event: KinesisEvent
    context: LocalContext
    lock: Lock = field(default_factory=Lock)
    began: bool = False
    cancelled: bool = False
    done: Event = field(default_factory=Event)
    returned: list[object] = field(default_factory=list)
    raised: list[BaseException] = field(default_factory=list)

    def run(self) -> None:
        """Make the call, unless it was cancelled first."""
        with self.lock:
            if self.cancelled:
                return
            self.began = True
        try:
            self.returned.append(self.handler(self.event, self.context))
        except BaseException as exc:  # noqa: BLE001 - handed over to the invoking thread
            self.raised.append(exc)
        finally:
            self.done.set()


class Worker:
    """The thread a caller's handler calls run on, kept from one call to the next.

    A thread started per invocation cost a scheduling wait and a hand-over of the GIL each time
    (the starting thread waits for the new one to run, while the handler it runs holds the GIL).
    Calls go to it one at a time: its caller waits for each (see ``call_with_deadline``).
    """

    def __init__(self) -> None:
        self._calls: SimpleQueue[_Call | None] | None = None  # its thread's; None: no thread
        self._ending: Callable[[], object] | None = None  # ends the thread (once)

    def submit(self, call: _Call) -> None:
        """Give the thread the call, starting a thread first when there is none."""
        if self._calls is not None:
            self._calls.put(call)
            return
        calls: SimpleQueue[_Call | None] = SimpleQueue()
        calls.put(call)
        self._calls = calls
        # The thread holds the queue, not the worker: a worker dropped unretired (its mapping
        # gone) still ends its thread when it is collected.
        self._ending = weakref.finalize(self, calls.put, None)
        Thread(target=_serve, args=(calls,), name="invoke", daemon=True).start()

    def retire(self) -> None:
        """End the thread after the call it has (a later ``submit`` starts another)."""
        if self._ending is not None:
            self._ending()
        self._calls = self._ending = None


def _serve(calls: SimpleQueue[_Call | None]) -> None:
    while (call := calls.get()) is not None:
        call.run()
        del call  # an idle thread holds no event, no handler, no unit of work


def call_with_deadline(
    handler: Handler, event: KinesisEvent, context: LocalContext, worker: Worker | None = None
) -> object:
    """Run ``handler(event, context)`` in a worker thread, failing it at the context's deadline.

    A Python thread cannot be killed, so a timed-out call cannot be stopped the way Lambda stops
    its execution environment. The invocation fails at its deadline with FunctionTimeoutError
    ("Task timed out after N seconds"), but only once the abandoned call has returned: the
    caller then rolls back the unit of work the call ran in, so nothing the late call wrote to
    the runner's SQLite store survives, and the next attempt never runs beside it. A Ctrl-C
    (or SIGTERM) that lands meanwhile is raised once the call is sure never to begin, or once
    a running call returns or reaches its deadline, whichever comes first (``_stopping``); a
    second one is raised at once. ``worker``: the caller's kept thread (without one, a thread
    for this call alone).
    """
    call = _Call(handler, event, context)
    timeout_s = max(0.0, context.deadline_s - time.monotonic())
    kept = worker or Worker()
    try:
        kept.submit(call)
        timed_out = not call.done.wait(None if timeout_s == float("inf") else timeout_s)
        if timed_out:  # inf: no deadline
            log.warning(
                "invocation %s timed out; waiting for the call to return before rolling it back",
                context.aws_request_id,
            )
            call.done.wait()  # a Ctrl-C here stops at once: the deadline has passed
    except BaseException:  # Ctrl-C: the call must still not outlive its unit of work
        with call.lock:
            call.cancelled = True
        if call.began:
            _stopping(call, context)
        kept.retire()  # should its thread run later, it ends without making the call
        raise
    finally:
        if worker is None:
            kept.retire()
    if timed_out:
        raise FunctionTimeoutError(f"{TIMED_OUT} {timeout_s:.2f} seconds")
    if not call.raised:
        return call.returned[0]
    error = call.raised[0]
    if isinstance(error, Exception):
        raise error
    raise HandlerContractError(f"the handler raised {type(error).__name__}") from error


def _stopping(call: _Call, context: LocalContext) -> None:
    """A stop came while the call runs: say so, and wait for the call up to its deadline.

    Past the deadline the call has timed out, stopping or not, and the runner stops without
    it (the process ends, the call's uncommitted checkpoint with it); a call that writes
    through the unit of work (``WorkHandler``) is waited for even then. A second Ctrl-C or
    SIGTERM, raised from a wait, stops at once.
    """
    left_s = context.deadline_s - time.monotonic()
    if left_s > 0 and not call.done.is_set():
        log.warning(
            "stopping: waiting for the running invocation %s to return (%s); Ctrl-C or"
            " SIGTERM again quits now",
            context.aws_request_id,
            "no timeout" if left_s == float("inf") else f"up to its timeout, {left_s:.1f} s",
        )
        call.done.wait(None if left_s == float("inf") else left_s)
    if call.done.is_set():
        return
    if isinstance(call.handler, WorkHandler):
        log.warning(
            "invocation %s timed out while stopping; waiting for it to return before its"
            " writes are rolled back (Ctrl-C or SIGTERM again quits now)",
            context.aws_request_id,
        )
        call.done.wait()
        return
    log.warning(
        "invocation %s timed out while stopping: stopped without it, nothing it did is"
        " checkpointed",
        context.aws_request_id,
    )


def state_bytes(state: State) -> int:
    """The size of a state as JSON."""
    return len(msgspec.json.encode(state))
