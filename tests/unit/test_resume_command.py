"""The command a stopped replay prints to go on: parsed by the command's own parser, it gives
the options this one was given, whatever their kind, plus the --resume point."""

from __future__ import annotations

import shlex
from typing import Any

import click
import pytest

from taxi_stream.cli.replay import replay
from taxi_stream.cli.replay_flags import resume_command

POINT = "trips.csv:42"


@click.command("tool")
@click.argument("files", nargs=-1)
@click.option("--tag", multiple=True)
@click.option("--pair", nargs=2, multiple=True)
@click.option("--span", nargs=2, type=int)
@click.option("--color/--no-color", default=True)
@click.option("--shout/--no-shout", default=False)
@click.option("--quiet", is_flag=True)
@click.option("-v", "--verbose", count=True)
@click.option("--level", type=float)
@click.option("--resume")
def tool(**params: Any) -> None:
    """A command with options of every kind resume_command may meet."""


def reparsed(command: click.Command, args: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the params ``args`` give, those of the resume command printed under them)."""
    with command.make_context(command.name, list(args)) as ctx:
        printed = resume_command(POINT)
        given = dict(ctx.params)
    assert printed is not None
    words = shlex.split(printed)
    assert words[0] == command.name
    with command.make_context(command.name, words[1:]) as again:
        return given, dict(again.params)


@pytest.mark.parametrize(
    "args",
    [
        ["a.csv", "--tag", "x", "--tag", "y z", "--tag", "x"],
        ["--pair", "k", "v", "--pair", "k2", "v 2", "a.csv"],
        ["--span", "3", "4"],
        ["--no-color", "--shout"],
        ["--color", "--no-shout"],
        ["--no-color", "--no-color"],
        ["-vvv", "--quiet"],
        ["--level", "2.5", "--resume", "old.csv:7"],
        ["--", "-odd.csv", "b.csv", "--tag", "--not-a-flag"],
    ],
    ids=" ".join,
)
def test_the_resume_command_gives_back_the_options_given(args: list[str]) -> None:
    """Repeated, two-valued, --no- and counted options, and FILES that look like flags."""
    given, again = reparsed(tool, args)
    assert again.pop("resume") == POINT
    given.pop("resume")
    assert again == given


def test_replays_own_flags_survive_the_resume_command() -> None:
    """replay's flags, a FILE that starts with a dash and one with a space, round trip."""
    args = [
        "--data-dir",
        "my data",
        "--speedup",
        "2.5",
        "--produce-only",
        "--start-at",
        "2024-11-01T00:00",
        "--format",
        "yellow",
        "--",
        "-odd.csv",
        "my trips.csv",
    ]
    given, again = reparsed(replay, args)
    assert again.pop("resume") == POINT
    given.pop("resume")
    assert again == given
