"""``taxi-stream aws``: create the stream and the table on an endpoint (a local one, usually)."""

from __future__ import annotations

import click

from taxi_stream.app.wiring import create_aws_resources
from taxi_stream.cli import LazyGroup
from taxi_stream.cli.options import require_stdout
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.stores import DEFAULT_TABLE

DEFAULT_STREAM = "input-stream"


@click.group(cls=LazyGroup, lazy_path="aws")  # `local` is in COMMANDS, imported when asked for
def aws() -> None:
    """Work with Kinesis and DynamoDB (AWS, or a local implementation via --endpoint-url)."""


@aws.command("create-resources")
@click.option("--stream-name", default=DEFAULT_STREAM, show_default=True)
@click.option(
    "--table-name", default=DEFAULT_TABLE, show_default=True, envvar="TABLE_NAME", show_envvar=True
)
@click.option("--shards", type=click.IntRange(1, 500), default=1, show_default=True)
@click.option(
    "--endpoint-url",
    default=None,
    envvar="AWS_ENDPOINT_URL",
    show_envvar=True,
    help="The local endpoint (kinesalite, dynalite, moto).",
)
@click.option(
    "--kinesis-endpoint-url",
    default=None,
    envvar="AWS_ENDPOINT_URL_KINESIS",
    show_envvar=True,
    help="Kinesis endpoint, when it differs.",
)
@click.option(
    "--dynamodb-endpoint-url",
    default=None,
    envvar="AWS_ENDPOINT_URL_DYNAMODB",
    show_envvar=True,
    help="DynamoDB endpoint, when it differs.",
)
@click.option("--region", default=None, envvar="AWS_REGION", show_envvar=True)
def create_resources(
    *,
    stream_name: str,
    table_name: str,
    shards: int,
    endpoint_url: str | None,
    kinesis_endpoint_url: str | None,
    dynamodb_endpoint_url: str | None,
    region: str | None,
) -> None:
    """Create the stream and the table (existing ones are kept); for local endpoints.

    On AWS, deploy deploy/template.yaml instead: it also sets encryption, the function and alarms.
    """  # fmt: skip
    require_stdout()
    try:
        lines = ensure_resources(
            stream_name,
            table_name,
            shards,
            kinesis_url=kinesis_endpoint_url or endpoint_url,
            dynamodb_url=dynamodb_endpoint_url or endpoint_url,
            region=region,
        )
    except TaxiStreamError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


def ensure_resources(
    stream_name: str,
    table_name: str,
    shards: int,
    *,
    kinesis_url: str | None,
    dynamodb_url: str | None,
    region: str | None,
) -> list[str]:
    """Create the stream and the table unless they exist; a line for each: created or found."""
    stream_created, table_created = create_aws_resources(
        stream_name,
        table_name,
        shards,
        kinesis_url=kinesis_url,
        dynamodb_url=dynamodb_url,
        region=region,
    )
    return [
        f"stream {stream_name}: "
        + (f"created ({shards} shard(s))" if stream_created else "already there"),
        f"table {table_name}: {'created' if table_created else 'already there'}",
    ]
