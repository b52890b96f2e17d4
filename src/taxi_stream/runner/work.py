"""The unit of work an invocation runs in, and the in-process handler that joins it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from taxi_stream.ports import CheckpointStore, UnitOfWork
from taxi_stream.runner.invoke import Handler, WorkHandler

W = TypeVar("W", bound=UnitOfWork)

Invocation = Callable[[], AbstractContextManager[tuple[Handler, UnitOfWork]]]


@dataclass(frozen=True, slots=True)
class InProcess(Generic[W]):
    """A handler that writes through the runner's unit of work, built anew on each one.

    ``bind(work)`` is the handler for one invocation: what it writes through ``work`` commits
    with the shard's checkpoint, or rolls back with it when the invocation fails or times out.
    ``record_view``: the handler reads its ``Records`` as a ``KinesisRecords`` view (the same
    records, built on access, the stream's bytes beside them) instead of the plain list.
    ``committed``: called with the bound handler once its unit of work has committed (never
    when the invocation failed or the commit did), so what it counts counts once.
    """

    bind: Callable[[W], Handler]
    record_view: bool = False
    committed: Callable[[Handler], None] | None = None


def invocations(checkpoints: CheckpointStore[W], handler: Handler | InProcess[W]) -> Invocation:
    """Open a unit of work on ``checkpoints``, with the handler to call inside it.

    An InProcess handler is bound to the unit; any other handler is called as it is (what it
    writes elsewhere is its own, and the checkpoint commits alone).
    """

    @contextmanager
    def invocation() -> Iterator[tuple[Handler, UnitOfWork]]:
        with checkpoints.unit_of_work() as work:
            if not isinstance(handler, InProcess):
                yield handler, work
                return
            bound = handler.bind(work)
            yield WorkHandler(bound), work
        if handler.committed is not None:
            handler.committed(bound)  # only now: a failed commit retries, and counts then

    return invocation
