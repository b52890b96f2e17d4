"""The original workshop Lambda handler, as it behaved (DESIGN section 12), as a test fixture."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sum passengerCount per shard window; fail on the final invoke, as the original did.

    It takes ``state`` (``passengerCount`` 0 when empty); for every record it decodes the data
    and, when ``passengerCount`` is present, adds it and overwrites ``vendorId``. On the final
    invoke, before aggregating, it builds one DynamoDB item from state keys it never set, so the
    final invoke raises KeyError. It creates its boto3 resource on every call. (The records here
    are not KPL-aggregated, so the original's deaggregation step is left out.)
    """
    region = os.environ.get("AWS_REGION", "us-east-1")
    dynamodb = boto3.resource("dynamodb", region_name=region)
    table = dynamodb.Table(os.environ.get("dynamoDBTableName", "my-dynamodb-table"))  # noqa: SIM112 - the original name
    state = event["state"] or {"passengerCount": 0}
    if event["isFinalInvokeForWindow"]:
        table.put_item(
            Item={
                "vendorId": state["vendorId"],
                "googleDistance": state["googleDistance"],
                "pickupLongitude": state["pickupLongitude"],
                "pickupLatitude": state["pickupLatitude"],
                "passengerCount": state["passengerCount"],
            }
        )
    for record in event["Records"]:
        payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if "passengerCount" in payload:
            state["passengerCount"] += payload["passengerCount"]
            state["vendorId"] = payload["vendorId"]
    return {"state": state}
