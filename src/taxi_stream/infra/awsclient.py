"""boto3 clients built one way: region from the flag or AWS_REGION, errors as ConfigError.

Standard library and boto3 only: the Lambda handler imports it. botocore reads
``AWS_DEFAULT_REGION`` but not ``AWS_REGION`` (which Lambda and most tools set), so both count.
"""

from __future__ import annotations

import os
from typing import Any

from boto3.session import Session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, NoRegionError

from taxi_stream.core.errors import ConfigError


def make_client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    config: Config | None = None,
) -> Any:
    """A boto3 client for ``service``; the endpoint falls back to AWS_ENDPOINT_URL_<SERVICE>."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        return Session().client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=endpoint_url,
            config=config,
        )
    except NoRegionError as exc:
        raise ConfigError(f"no AWS region for {service}: set AWS_REGION or pass --region") from exc
    except (BotoCoreError, ValueError) as exc:
        raise ConfigError(f"cannot build a {service} client: {exc}") from exc
