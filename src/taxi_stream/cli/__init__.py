"""The ``taxi-stream`` command line: thin, it parses, calls the app, formats."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any, Final

import click

from taxi_stream.cli.options import err

# Command path -> (module, attribute): a command's module is imported when it runs. A path of
# two names is a command of a group ("aws local" in the group "aws", itself a LazyGroup).
COMMANDS: Final = {
    "run": ("taxi_stream.cli.pipeline", "run"),
    "generate": ("taxi_stream.cli.pipeline", "generate"),
    "produce": ("taxi_stream.cli.produce", "produce_cmd"),
    "replay": ("taxi_stream.cli.replay", "replay"),
    "process": ("taxi_stream.cli.process", "process"),
    "query": ("taxi_stream.cli.query", "query"),
    "dashboard": ("taxi_stream.cli.dashboard", "dashboard"),
    "aws": ("taxi_stream.cli.aws", "aws"),
    "aws local": ("taxi_stream.cli.awslocal", "local"),  # boto3 loads only when it runs
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, so one command does not pay for the
    imports of all (the simulator's numpy, the AWS tooling): `taxi-stream process` starts
    faster. ``--help`` still lists every command, importing them then. ``lazy_path`` is the
    group's own path in ``COMMANDS`` ("" for ``taxi-stream`` itself, "aws" for ``aws``)."""

    def __init__(self, *args: Any, lazy_path: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefix = f"{lazy_path} " if lazy_path else ""
        self._lazy = {
            path.removeprefix(prefix): target
            for path, target in COMMANDS.items()
            if path.startswith(prefix) and " " not in path.removeprefix(prefix)
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, sorted as click sorts them."""
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, imported (and kept) the first time it is asked for."""
        if cmd_name in self._lazy and cmd_name not in self.commands:
            module, attribute = self._lazy[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a Ctrl-C that no command handles is one line and exit status 130
        (the shell's 128 + SIGINT), where click would print ``Aborted!`` and exit 1."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if ctx.parent is not None:  # a nested group: the top one says it
                raise
            from taxi_stream.views.console import EXIT_INTERRUPTED  # noqa: PLC0415 - rarely needed

            err.print("interrupted", markup=False, highlight=False)
            raise SystemExit(EXIT_INTERRUPTED) from None


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="taxi-stream")
def main() -> None:
    """Real-time NYC taxi-trip analytics: per-vendor tumbling-window totals, stored exactly once."""
    click.get_current_context().call_on_close(show_warnings())


class WarningLine(logging.Handler):
    """A warning of the package as one line on stderr: ``warning: MESSAGE`` (no trace)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Print the record's message on one line, through the console a live view shares."""
        try:
            text = " ".join(record.getMessage().split())
        except Exception:  # noqa: BLE001 - a bad log call must not end the command
            self.handleError(record)
            return
        err.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)


def show_warnings() -> Callable[[], None]:
    """Send the package's warnings (and worse) to stderr; the call that stops it.

    The command removes it when it ends, so a command run inside another program (a test, say)
    leaves that program's logging as it was.
    """
    package, handler = logging.getLogger("taxi_stream"), WarningLine(logging.WARNING)
    package.addHandler(handler)
    return lambda: package.removeHandler(handler)
