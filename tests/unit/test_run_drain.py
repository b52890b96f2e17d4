"""A second Ctrl-C during `run`'s drain: one line naming the command that counts the rest, 130."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from taxi_stream.app.accounting import Accounting
from taxi_stream.app.process import EventSettings, ProcessOptions
from taxi_stream.app.wiring import Settings
from taxi_stream.cli.catchup import catch_up_command
from taxi_stream.cli.pipeline import drain, interrupted_line
from taxi_stream.cli.process import process


class Mapping:
    """The mapping's window size, all the drain's hint reads of it."""

    def __init__(self, window_seconds: int) -> None:
        self.window_seconds = window_seconds


class InterruptedProcessor:
    """A processor whose loop asks ``stop`` once, then is interrupted by Ctrl-C, as a second
    one during the drain interrupts it."""

    def __init__(self, window_seconds: int, clock: str = "arrival") -> None:
        self.mapping = Mapping(window_seconds)
        self.options = ProcessOptions(clock=clock)

    def loop(
        self, *, stop: Callable[[], bool], tick: Callable[[], None], give_up_after_s: float
    ) -> None:
        stop()
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("window_seconds", "store", "clock", "finish"),
    [
        (60, "local", "arrival", "taxi-stream process --data-dir d --until-idle"),
        (
            30,
            "sqlite:///s.db",
            "arrival",
            "taxi-stream process --data-dir d --store sqlite:///s.db --window-seconds 30"
            " --until-idle",
        ),
        (60, "local", "event", "taxi-stream process --data-dir d --clock event --until-idle"),
    ],
)
def test_a_cut_short_drain_says_how_to_finish_it_and_exits_130(
    capsys: pytest.CaptureFixture[str], window_seconds: int, store: str, clock: str, finish: str
) -> None:
    """A drain cut short exits 130, its one line ending in the process command that finishes it,
    on the clock it counted with."""
    settings = Settings(Path("d"), store_url=store)
    with pytest.raises(SystemExit) as ended:
        drain(InterruptedProcessor(window_seconds, clock), lambda: None, settings)  # type: ignore[arg-type]
    assert ended.value.code == 130
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("drain cut short")
    assert line.endswith(f"count it with {finish}")


def test_a_cut_short_drain_names_a_data_dir_with_brackets_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A data dir such as ``runs [1]`` or ``a[/b]`` is no terminal markup: the command that
    counts the rest names that very dir, pasted as it is printed."""
    for data in (Path("runs [1]/[x]"), Path("a[/b]")):
        with pytest.raises(SystemExit):
            drain(InterruptedProcessor(60), lambda: None, Settings(data))  # type: ignore[arg-type]
        (line,) = capsys.readouterr().err.splitlines()
        words = shlex.split(line.split("count it with ", 1)[1])
        assert words[words.index("--data-dir") + 1] == str(data)


def test_a_ctrl_c_while_the_producer_stops_is_a_cut_short_drain_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second Ctrl-C that lands while the producer is being stopped also ends with 130."""

    def stopping() -> bool:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as ended:
        drain(InterruptedProcessor(60), lambda: None, Settings(Path("d")), stop=stopping)  # type: ignore[arg-type]
    assert ended.value.code == 130
    assert capsys.readouterr().err.startswith("drain cut short")


def test_a_cut_short_drain_says_how_many_trips_had_been_produced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The cut-short line gives the trips produced by then, before the command that counts them."""
    with pytest.raises(SystemExit):
        drain(InterruptedProcessor(60), lambda: None, Settings(Path("d")), produced=lambda: 12_345)  # type: ignore[arg-type]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("drain cut short (12,345 trips produced by then): ")


@pytest.mark.parametrize(
    ("counted", "dead", "says"),
    [
        (7, 3, "drained: each is in a window or a dead letter"),
        (5, 3, "the drain left 2 records in flight"),
        (9, 3, "the store holds 2 records more than produced"),  # another writer's records
    ],
)
def test_the_interrupted_line_says_what_the_drain_left(counted: int, dead: int, says: str) -> None:
    """After a signal: drained, records left in flight, or more in the store than produced
    (never a negative count in flight)."""
    line = interrupted_line(Accounting(produced=10, counted=counted, dead_letters=dead), "SIGINT")
    assert line == f"interrupted by SIGINT after 10 trips produced; {says}"


def test_the_catch_up_command_counts_as_the_run_did_and_process_takes_it() -> None:
    """After a cut-short event-clock drain, the command carries the run's event-time rules
    (the ones not at their defaults), and `process` parses every flag of it."""
    event = EventSettings(
        event_time="dropoff", max_out_of_orderness_s=3780, allowed_lateness_s=30, late="dead-letter"
    )
    options = ProcessOptions(clock="event", naive_timezone="America/New_York", event=event)
    command = catch_up_command(Settings(Path("d")), 60, options)
    assert command == (
        "taxi-stream process --data-dir d --clock event --event-time dropoff"
        " --max-out-of-orderness 3780 --allowed-lateness 30 --late dead-letter"
        " --naive-timezone America/New_York --until-idle"
    )
    context = process.make_context("process", shlex.split(command)[2:])
    assert context.params["max_out_of_orderness"] == 3780
    assert context.params["late"] == "dead-letter"
    default = catch_up_command(Settings(Path("d")), 60, ProcessOptions(clock="event"))
    assert default == "taxi-stream process --data-dir d --clock event --until-idle"
    spaced = catch_up_command(Settings(Path("my data")), 60, ProcessOptions())
    assert shlex.split(spaced)[2:4] == ["--data-dir", "my data"]
