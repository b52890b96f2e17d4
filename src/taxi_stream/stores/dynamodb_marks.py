"""The DynamoDB store's watermark items: one per stream and shard, under ``#watermark``.

Sort key ``STREAM|SHARD``; attributes ``watermarkMs``, ``partFirstSequence``,
``previousWatermarkMs`` (absent for a shard's first part) and ``lastArrivalMs`` in epoch ms.
Standard library and boto3 only: the Lambda handler imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from taxi_stream.core.errors import StoreError
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.watermarks import Watermark

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef

    Item = dict[str, AttributeValueTypeDef]

WATERMARK_KEY: Final = "#watermark"
PK: Final = "vendorId"
SK: Final = "windowStart"


def watermark_request(table: str, w: Watermark, now_ms: int) -> UpdateItemInputTypeDef:
    """One conditional UpdateItem that sets a shard's watermark unless the stored one is higher."""
    values: Item = {
        ":st": {"S": w.stream},
        ":sh": {"S": w.shard_id},
        ":w": {"N": str(w.watermark_ms)},
        ":part": {"S": w.part},
        ":a": {"N": str(w.last_arrival_ms)},
        ":u": {"S": iso_utc(now_ms)},
    }
    update = "SET #st = :st, #sh = :sh, #w = :w, #part = :part, #a = :a, #u = :u"
    if w.previous_ms is None:
        update += " REMOVE #prev"
    else:
        update = update.replace("#u = :u", "#u = :u, #prev = :prev")
        values[":prev"] = {"N": str(w.previous_ms)}
    return {
        "TableName": table,
        "Key": {PK: {"S": WATERMARK_KEY}, SK: {"S": f"{w.stream}|{w.shard_id}"}},
        "UpdateExpression": update,
        "ConditionExpression": "attribute_not_exists(#w) OR #w <= :w",
        "ExpressionAttributeNames": {
            "#st": "stream",
            "#sh": "shardId",
            "#w": "watermarkMs",
            "#part": "partFirstSequence",
            "#prev": "previousWatermarkMs",
            "#a": "lastArrivalMs",
            "#u": "updatedAt",
        },
        "ExpressionAttributeValues": values,
    }


def watermark_item(item: Item) -> Watermark:
    try:
        return Watermark(
            stream=item["stream"]["S"],
            shard_id=item["shardId"]["S"],
            watermark_ms=int(item["watermarkMs"]["N"]),
            part=item["partFirstSequence"]["S"],
            previous_ms=(
                int(item["previousWatermarkMs"]["N"]) if "previousWatermarkMs" in item else None
            ),
            last_arrival_ms=int(item["lastArrivalMs"]["N"]),
        )
    except (KeyError, ValueError) as exc:
        raise StoreError(f"not a watermark item: {item.get(SK)}: {exc!r}") from exc
