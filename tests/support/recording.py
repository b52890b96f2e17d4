"""A recording Lambda handler: keeps every event it receives and fails on command."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]
Action = Callable[[Event], Any]


def always(_event: Event) -> bool:
    """Every invocation."""
    return True


def is_final(event: Event) -> bool:
    """A window's final invoke."""
    return bool(event.get("isFinalInvokeForWindow"))


def has_records(event: Event) -> bool:
    """An invocation that carries records."""
    return bool(event.get("Records"))


def sequences(event: Event) -> list[str]:
    """The sequence numbers of an event's records, in order."""
    return [record["kinesis"]["sequenceNumber"] for record in event.get("Records") or []]


def carries(sequence: str) -> Callable[[Event], bool]:
    """Invocations whose batch holds the record with this sequence number."""
    return lambda event: sequence in sequences(event)


def counting_response(event: Event) -> dict[str, Any]:
    """The default answer: the state counts the records seen in the window so far."""
    state = dict(event.get("state") or {})
    state["records"] = state.get("records", 0) + len(sequences(event))
    return {"state": state, "batchItemFailures": []}


@dataclass
class Rule:
    """Do ``action`` for the next ``times`` invocations matching ``when`` (None: forever)."""

    when: Callable[[Event], bool]
    action: Action
    times: int | None


class RecordingHandler:
    """Keeps a deep copy of every event; answers with a counting state unless told otherwise."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.contexts: list[Any] = []
        self._rules: list[Rule] = []

    def __call__(self, event: Event, context: Any) -> Any:
        """Record the event, then apply the first matching rule (else the counting answer)."""
        self.events.append(copy.deepcopy(event))
        self.contexts.append(context)
        for rule in self._rules:
            if rule.times != 0 and rule.when(event):
                if rule.times is not None:
                    rule.times -= 1
                return rule.action(event)
        return counting_response(event)

    def on(
        self, action: Action, *, when: Callable[[Event], bool] = always, times: int | None = 1
    ) -> None:
        """From now on, answer matching invocations with ``action``."""
        self._rules.append(Rule(when, action, times))

    def fail(
        self,
        *,
        when: Callable[[Event], bool] = always,
        times: int | None = 1,
        error: Exception | None = None,
    ) -> None:
        """Raise on the next ``times`` matching invocations."""
        problem = error or RuntimeError("failing on command")

        def raise_(_event: Event) -> Any:
            raise problem

        self.on(raise_, when=when, times=times)

    def respond(
        self, response: Any, *, when: Callable[[Event], bool] = always, times: int | None = 1
    ) -> None:
        """Return ``response`` as it is on the next ``times`` matching invocations."""
        self.on(lambda _event: copy.deepcopy(response), when=when, times=times)

    def fail_items(
        self, *failed: str, when: Callable[[Event], bool] = always, times: int | None = 1
    ) -> None:
        """Report these sequence numbers in ``batchItemFailures``."""

        def partial(event: Event) -> Any:
            response = counting_response(event)
            response["batchItemFailures"] = [{"itemIdentifier": s} for s in failed]
            return response

        self.on(partial, when=when, times=times)

    @property
    def record_events(self) -> list[Event]:
        """The invocations that carried records."""
        return [event for event in self.events if has_records(event)]

    @property
    def finals(self) -> list[Event]:
        """The final invokes."""
        return [event for event in self.events if is_final(event)]
