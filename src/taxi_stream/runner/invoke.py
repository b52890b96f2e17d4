"""Invoke a handler as Lambda does: with a deadline, its response read by the Kinesis contract."""

from __future__ import annotations

import json
import logging
import math
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
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
from taxi_stream.core.limits import MAX_PAYLOAD_BYTES
from taxi_stream.function.contract import KinesisEvent, LambdaContext, State
from taxi_stream.runner.events import DEFAULT_ACCOUNT, DEFAULT_REGION

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

        A response the runtime cannot send (``marshal``) is a function error as a raise is
        (Unhandled); one it sends that breaks the contract (no ``state`` with windows, a bad
        ``batchItemFailures``, NaN) is a function error without one. With neither windows nor
        item failures, the mapping reads nothing of what was sent.
        """
        try:
            body = marshal(response)
        except FunctionResponseError:
            self.function_error = self.unhandled = True
            raise
        if not windowed and not item_failures:
            return Response({})
        try:
            sent = unmarshal(body)
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
    that lands meanwhile (even while the worker starts, or while a timed-out call is waited
    out) is raised once the call has returned, or once the call is sure never to begin.
    ``worker``: the caller's kept thread (without one, a thread for this call alone).
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
            call.done.wait()  # a Ctrl-C here, too, waits the call out below
    except BaseException:  # Ctrl-C: the call must still not outlive its unit of work
        with call.lock:
            call.cancelled = True
        if call.began:
            call.done.wait()
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


def marshal(response: object) -> bytes:
    """The response as Lambda's Python runtime sends it: JSON, at most 6 MB.

    The runtime (awslambdaric) sends ``bytes`` as they are and writes anything else with
    simplejson: Decimal as a number, bytes inside as UTF-8 text, NaN and Infinity bare (as
    Python's ``json`` does). What it cannot write (an ``object()``, a set, nesting past the
    recursion limit) is its ``Runtime.MarshalError``, and a response over the synchronous
    invocation limit is ``Function.ResponseSizeTooLarge``: FunctionResponseError, either way.
    """
    if isinstance(response, bytes):
        body = response
    else:
        try:
            text = json.dumps(response, ensure_ascii=False, default=_runtime_default)
            body = text.encode()
        except Exception as exc:  # the runtime turns any of them into Runtime.MarshalError
            raise FunctionResponseError(
                "the Lambda runtime cannot serialise the response"
                f" (Runtime.MarshalError: Unable to marshal response: {exc})"
            ) from exc
    if len(body) > MAX_PAYLOAD_BYTES:
        raise FunctionResponseError(
            f"Function.ResponseSizeTooLarge: the response is {len(body):,} bytes, over the"
            f" {MAX_PAYLOAD_BYTES:,}-byte (6 MB) limit of a synchronous invocation"
        )
    return body


def _runtime_default(value: object) -> object:
    """What the runtime's encoder writes for a value plain JSON has no type for."""
    if isinstance(value, Decimal):  # written as its digits, read back as int or float
        return math.nan if value.is_nan() else json.loads(str(value))
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def unmarshal(body: bytes) -> object:
    """The response as the event source mapping reads it: JSON, so NaN and Infinity are not."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        try:
            json.loads(body, parse_constant=_refuse_constant)
        except ValueError as why:  # NaN and Infinity are the usual cause; say so
            raise HandlerContractError(f"the response is not JSON: {why}") from exc
        raise HandlerContractError(f"the response is not JSON: {exc}") from exc


def _refuse_constant(name: str) -> object:
    raise ValueError(
        f"it holds {name}, which the runtime writes bare and JSON does not allow"
        " (use null or a string)"
    )


def state_of(response: object, *, windowed: bool) -> State:
    """The state a windowed response carries (a response as ``unmarshal`` read it)."""
    if not windowed:
        return {}
    if not isinstance(response, Mapping) or "state" not in response:
        raise HandlerContractError(
            "with tumbling windows a handler must return a dict with a 'state' key; "
            + (
                f"got keys {sorted(map(str, response))[:5]}"
                if isinstance(response, Mapping)
                else f"got {type(response).__name__}"
            )
            + " (a handler without tumbling windows runs with TumblingWindowInSeconds off:"
            " --window-seconds 0)"
        )
    state = response["state"] or {}
    if not isinstance(state, dict):
        raise HandlerContractError(f"'state' must be a JSON object, got {type(state).__name__}")
    return state


def state_bytes(state: State) -> int:
    """The size of a state as JSON."""
    return len(msgspec.json.encode(state))


def failed_index(response: object, sequences: Sequence[str]) -> int | None:
    """Index of the lowest sequence number in ``batchItemFailures``; None for a full success.

    An empty or null list, or an empty or null response (``{}``, null, ``""``, ``[]``), is a
    complete success; a response that is no object (``"hello"``, ``[1, 2]``), an entry
    without ``itemIdentifier``, an empty or null one, or one that names no record of the
    batch fails the whole batch.
    """
    if not response:
        return None
    if not isinstance(response, Mapping):
        raise HandlerContractError(
            "a partial batch response must be an object with batchItemFailures,"
            f" got {type(response).__name__} {response!r:.60}"
        )
    failures = response.get("batchItemFailures")
    if not failures:
        return None
    if not isinstance(failures, list):
        raise HandlerContractError(f"batchItemFailures must be a list, got {failures!r:.80}")
    index = {sequence: i for i, sequence in enumerate(sequences)}
    found = [_item_index(item, index) for item in failures]
    return min(found)


def _item_index(item: object, index: Mapping[str, int]) -> int:
    if not isinstance(item, Mapping) or "itemIdentifier" not in item:
        raise HandlerContractError(f"batchItemFailures entry without itemIdentifier: {item!r:.80}")
    identifier = item["itemIdentifier"]
    if identifier is None or identifier == "":
        raise HandlerContractError("batchItemFailures has an empty or null itemIdentifier")
    position = index.get(str(identifier))
    if position is None:
        raise HandlerContractError(
            f"itemIdentifier {identifier!r:.80} is no sequence number of this batch"
        )
    return position
