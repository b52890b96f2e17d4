"""How the Kinesis client retries: which errors are worth another attempt, and how long to wait.

Throttling and 5xx answers are retried, and so are calls that got no answer at all; anything
else (no such stream, access denied, a bad request) is final. Waits grow exponentially, with
full jitter, for a bounded number of attempts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from taxi_stream.core.errors import ConfigError

RETRYABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
TRANSIENT: Final = (ConnectionError, HTTPClientError)  # no answer: retry the whole call


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: wait n is uniform(0, min(cap, base * 2**n))."""

    max_attempts: int = 8
    base_delay_s: float = 0.05
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.base_delay_s <= self.max_delay_s:
            raise ConfigError(
                f"need 0 <= base_delay_s <= max_delay_s, got {self.base_delay_s}, "
                f"{self.max_delay_s}"
            )

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (0-based)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2.0**retry))


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def is_retryable(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in RETRYABLE_CODES or status >= 500
