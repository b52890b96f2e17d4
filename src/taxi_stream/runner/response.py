"""A handler's response as Lambda's Python runtime sends it and the Kinesis mapping reads it."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from taxi_stream.core.errors import FunctionResponseError, HandlerContractError
from taxi_stream.core.limits import MAX_PAYLOAD_BYTES
from taxi_stream.function.contract import State

_COMPACT: Final = msgspec.json.Encoder()


def delivered(response: object) -> object:
    """The response as the mapping reads it, once the runtime has sent it: a fresh copy.

    FunctionResponseError when the runtime cannot send it (``marshal``), HandlerContractError
    when what it sends is not JSON (``unmarshal``). Plain JSON data (str keys, no NaN) that is
    surely under the size limit goes the fast way, through msgspec, with the same result:
    what msgspec reads back equals the response only when the runtime would write the same
    values (a tuple, a set, a Decimal, a datetime or a NaN reads back as something else).
    """
    if not isinstance(response, bytes):
        try:
            compact = _COMPACT.encode(response)
            copy = msgspec.json.decode(compact)
            # The runtime's separators (", ", ": ") at most double the compact size.
            if 2 * len(compact) <= MAX_PAYLOAD_BYTES and copy == response:
                return copy
        except Exception:  # noqa: BLE001, S110 - anything odd goes the runtime's own way below
            pass
    return unmarshal(marshal(response))


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
