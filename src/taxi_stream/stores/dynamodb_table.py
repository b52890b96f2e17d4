"""Creating the DynamoDB store's table, for local endpoints and tests (on AWS the template does).

Standard library and boto3 only, like the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from taxi_stream.core.errors import StoreError
from taxi_stream.stores import DEFAULT_TABLE
from taxi_stream.stores.dynamodb_marks import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_table(
    client: DynamoDBClient, name: str = DEFAULT_TABLE, timeout_s: float = 30.0
) -> bool:
    """Create the table (on-demand) unless it exists, wait until ACTIVE; True if it was created.

    For local endpoints and tests; on AWS the SAM template owns the table.
    """
    created = True
    try:
        client.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": PK, "KeyType": "HASH"},
                {"AttributeName": SK, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": PK, "AttributeType": "S"},
                {"AttributeName": SK, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise StoreError(f"create table {name!r} failed: {exc}") from exc
        created = False
    except BotoCoreError as exc:
        raise StoreError(f"create table {name!r} failed: {exc}") from exc
    _wait_active(client, name, timeout_s)
    return created


def _wait_active(client: DynamoDBClient, name: str, timeout_s: float) -> None:
    """Poll DescribeTable (first at once, then every second) until the table is ACTIVE."""
    attempts = max(1, int(timeout_s))
    try:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": attempts}
        )
    except (WaiterError, ClientError, BotoCoreError) as exc:
        raise StoreError(f"table {name!r} not ACTIVE after {attempts} s: {exc}") from exc
