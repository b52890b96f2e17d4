"""The parsing of ``replay``'s FILES, --start-at and --resume, and the flags it passes on."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from click.core import ParameterSource

from taxi_stream.core.timefmt import to_epoch_ms
from taxi_stream.sources.replay.layouts import NEW_YORK


def start_ms(text: str | None) -> int | None:
    """--start-at as epoch ms (an ISO-8601 time; without an offset, New York time)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"not an ISO-8601 time (such as 2024-01-01T00:00:00-05:00; without an offset,"
            f" New York local time, as in TLC files): {text!r}",
            param_hint="--start-at",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(NEW_YORK))
    return to_epoch_ms(moment)


def resume_point(text: str | None) -> tuple[str, int] | None:
    """--resume FILE:ROW as (file, row)."""
    if text is None:
        return None
    name, _, row = text.rpartition(":")
    if not name or not row.isdigit() or int(row) < 1:
        raise click.BadParameter(
            f"expected FILE:ROW (a file name and a row number from 1), got {text!r}",
            param_hint="--resume",
        )
    return name, int(row)


def check_files(files: tuple[Path, ...]) -> None:
    """A FILE that does not exist is a usage error, as click calls one that is a directory
    (checked here, after the flags, so a bad flag is still the error a command line gets); so
    is a pipe or a device, which replay cannot read twice (its layout, then its rows)."""
    for path in files:
        if not path.exists():
            raise click.BadParameter(f"File '{path}' does not exist.", param_hint="'FILES...'")
        if not path.is_file():
            raise click.BadParameter(
                f"'{path}' is a pipe or a device, not a file: replay reads a file's header"
                " before its rows, so save it to a file first",
                param_hint="'FILES...'",
            )


_PRODUCE_FLAGS = (  # what produce shares with replay: (flag, parameter)
    ("--data-dir", "data_dir"),
    ("--stream", "stream_url"),
    ("--shards", "shards"),
    ("--retention-hours", "retention_hours"),
    ("--endpoint-url", "endpoint_url"),
    ("--region", "region"),
)


def produce_flags() -> str:
    """The flags given on this command line that ``produce`` takes too, quoted for the shell."""
    ctx = click.get_current_context()
    given = [
        f"{flag} {shlex.quote(str(ctx.params[name]))}"
        for flag, name in _PRODUCE_FLAGS
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    return " ".join(given)


def resume_command(point: str) -> str | None:
    """This command line again as the shell takes it, with ``--resume POINT`` last (in place
    of any --resume given); None outside a command (no context to read it from)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    words = ctx.command_path.split()  # taxi-stream replay: two words, not one
    for param in ctx.command.params:
        name = param.name or ""
        if name == "resume" or ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        words += _words(param, ctx.params[name])
    return shlex.join([*words, "--resume", point])


def _words(param: click.Parameter, value: object) -> list[str]:
    """How ``param``'s ``value`` is spelled on a command line."""
    values = list(value) if param.multiple or param.nargs != 1 else [value]  # type: ignore[call-overload]
    if isinstance(param, click.Argument):  # replay's only one is FILES: "./-x" is "-x"
        return [f"./{one}" if str(one).startswith("-") else str(one) for one in values]
    if isinstance(param, click.Option) and param.is_flag:
        if value == param.flag_value or value is True:
            return [param.opts[0]]
        return [param.secondary_opts[0]] if param.secondary_opts else []
    return [word for one in values for word in (param.opts[0], str(one))]
