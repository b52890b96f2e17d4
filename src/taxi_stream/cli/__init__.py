"""The ``taxi-stream`` command line: thin, it parses, calls the app, formats."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click

from taxi_stream.cli.aws import aws
from taxi_stream.cli.awslocal import local
from taxi_stream.cli.dashboard import dashboard
from taxi_stream.cli.options import err
from taxi_stream.cli.pipeline import generate, run
from taxi_stream.cli.process import process
from taxi_stream.cli.produce import produce_cmd
from taxi_stream.cli.query import query
from taxi_stream.cli.replay import replay


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for command in (run, generate, produce_cmd, replay, process, query, dashboard, aws):
    main.add_command(command)
aws.add_command(local)
