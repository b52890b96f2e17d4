"""The ``taxi-stream`` command line: thin, it parses, calls the app, formats."""

from __future__ import annotations

import click

from taxi_stream.cli.aws import aws
from taxi_stream.cli.awslocal import local
from taxi_stream.cli.pipeline import generate, run
from taxi_stream.cli.process import process
from taxi_stream.cli.produce import produce_cmd
from taxi_stream.cli.query import query
from taxi_stream.cli.replay import replay


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="taxi-stream")
def main() -> None:
    """Real-time NYC taxi-trip analytics: per-vendor tumbling-window totals, stored exactly once."""


for command in (run, generate, produce_cmd, replay, process, query, aws):
    main.add_command(command)
aws.add_command(local)
