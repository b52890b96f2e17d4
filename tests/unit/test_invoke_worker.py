"""Invocations run one after another on a kept worker thread, never on the runner's own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taxi_stream.runner.invoke import LocalContext, Worker, call_with_deadline
from tests.support.harness import Harness

EVENT: Any = {"Records": []}


def recording() -> tuple[list[threading.Thread], Callable[[Any, Any], Any]]:
    """A handler that notes the thread each of its calls ran on, and the list it notes them in."""
    threads: list[threading.Thread] = []

    def handler(event: Any, context: Any) -> Any:
        threads.append(threading.current_thread())
        return {"state": {}}

    return threads, handler


def test_consecutive_invocations_share_one_worker_thread() -> None:
    """Three calls in a row: one worker thread makes them all, and it is not the caller's."""
    threads, handler = recording()
    worker = Worker()
    for n in range(3):
        call_with_deadline(handler, EVENT, LocalContext(f"r{n}"), worker)
    assert len(threads) == 3
    assert len({id(thread) for thread in threads}) == 1
    assert threads[0] is not threading.current_thread()


def test_without_a_worker_each_call_has_a_thread_of_its_own() -> None:
    """Without a worker each call has a thread of its own, as before workers were kept."""
    threads, handler = recording()
    for n in range(2):
        call_with_deadline(handler, EVENT, LocalContext(f"r{n}"))
    assert threads[0] is not threads[1]


def test_calls_made_at_once_from_two_threads_do_not_wait_for_each_other() -> None:
    """Two callers at once, each with no worker: the first call's handler sees the second's."""
    second_began = threading.Event()
    seen: list[bool] = []

    def first(event: Any, context: Any) -> Any:
        seen.append(second_began.wait(timeout=30))
        return {"state": {}}

    def second(event: Any, context: Any) -> Any:
        second_began.set()
        return {"state": {}}

    caller = threading.Thread(target=call_with_deadline, args=(first, EVENT, LocalContext("a")))
    caller.start()
    call_with_deadline(second, EVENT, LocalContext("b"))
    caller.join()
    assert seen == [True]


def test_a_mapping_runs_every_invocation_on_one_thread_of_its_own(tmp_path: Path) -> None:
    """Four batches of one record, then an ended shard: one worker thread made every call."""
    threads: list[threading.Thread] = []

    def handler(event: Any, context: Any) -> Any:
        threads.append(threading.current_thread())
        return {}

    harness = Harness(tmp_path)
    try:
        harness.put(4)
        mapping = harness.mapping(handler, batch_size=1, window_seconds=0)
        for _ in range(6):
            mapping.poll()
    finally:
        harness.close()
    assert len(threads) == 4
    assert len({id(thread) for thread in threads}) == 1
    assert threads[0] is not threading.current_thread()


def test_a_worker_dropped_unretired_ends_its_thread() -> None:
    """A worker nobody retires (its mapping dropped) ends its thread once it is collected."""
    served, handler = recording()
    worker = Worker()
    call_with_deadline(handler, EVENT, LocalContext("r0"), worker)
    del worker  # CPython frees it here: no cycle holds it
    served[0].join(timeout=10)
    assert not served[0].is_alive()


def test_a_retired_worker_starts_a_new_thread_on_its_next_call() -> None:
    """After retire the old thread ends, and the next call runs on a thread of its own."""
    served, handler = recording()
    worker = Worker()
    call_with_deadline(handler, EVENT, LocalContext("r0"), worker)
    worker.retire()
    served[0].join(timeout=10)
    call_with_deadline(handler, EVENT, LocalContext("r1"), worker)
    assert not served[0].is_alive()
    assert served[1] is not served[0]
    assert served[1].is_alive()
