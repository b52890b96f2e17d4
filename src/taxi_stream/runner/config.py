"""Event source mapping settings, named after their AWS counterparts, each checked on creation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.limits import MAX_BATCH_SIZE, MAX_WINDOW_S

MAX_BATCHING_WINDOW_S: Final = 300  # MaximumBatchingWindowInSeconds maximum
MAX_RETRY_ATTEMPTS: Final = 10_000  # MaximumRetryAttempts maximum (-1: infinite)
MIN_RECORD_AGE_S: Final = 60  # MaximumRecordAgeInSeconds: -1 (infinite) or 60..604,800
MAX_RECORD_AGE_S: Final = 604_800
MAX_PARALLELIZATION: Final = 10  # ParallelizationFactor maximum
MAX_TIMEOUT_S: Final = 900.0  # a Lambda function's longest timeout
MAX_IDLE_CLOSE_S: Final = (
    120.0  # "Lambda waits for up to 2 minutes before assuming the window is over"
)
STARTING_POSITIONS: Final = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
DESTINATION_SCHEMES: Final = ("file://", "sqs://")


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """Event source mapping settings, named after their AWS counterparts; checks its values.

    ``idle_close_s`` is how long after its end an idle window is closed (AWS waits up to two
    minutes); ``function_timeout_s`` is the function's timeout; ``on_failure`` is the on-failure
    destination as ``file://PATH`` or ``sqs://QUEUE_URL_OR_NAME``.
    """

    batch_size: int = MAX_BATCH_SIZE  # BatchSize
    window_seconds: int = 60  # TumblingWindowInSeconds (0: windows off)
    idle_close_s: float = 1.0
    consumer: str = "taxi-stream"
    maximum_batching_window_s: int = 0  # MaximumBatchingWindowInSeconds
    starting_position: str = "TRIM_HORIZON"  # StartingPosition
    starting_position_timestamp_ms: int | None = None  # StartingPositionTimestamp
    maximum_retry_attempts: int = -1  # MaximumRetryAttempts (-1: until the record expires)
    maximum_record_age_s: int = -1  # MaximumRecordAgeInSeconds (-1: never discard by age)
    bisect_batch_on_function_error: bool = False  # BisectBatchOnFunctionError
    report_batch_item_failures: bool = False  # FunctionResponseTypes: ReportBatchItemFailures
    parallelization_factor: int = 1  # ParallelizationFactor
    function_timeout_s: float = 60.0  # the function's Timeout
    on_failure: str | None = None  # DestinationConfig.OnFailure

    def __post_init__(self) -> None:
        _whole_in("batch size (BatchSize)", self.batch_size, 1, MAX_BATCH_SIZE)
        if not 0 <= self.window_seconds <= MAX_WINDOW_S:
            raise ConfigError(
                f"tumbling window must be 0 (off) or 1..{MAX_WINDOW_S} s, got {self.window_seconds}"
            )
        if not 0 <= self.idle_close_s <= MAX_IDLE_CLOSE_S:
            raise ConfigError(f"idle close wait must be 0..120 s, got {self.idle_close_s}")
        _whole_in(
            "MaximumBatchingWindowInSeconds",
            self.maximum_batching_window_s,
            0,
            MAX_BATCHING_WINDOW_S,
        )
        self._check_position()
        _whole_in("MaximumRetryAttempts", self.maximum_retry_attempts, -1, MAX_RETRY_ATTEMPTS)
        self._check_record_age()
        self._check_parallelization()
        if not 0 < self.function_timeout_s <= MAX_TIMEOUT_S:
            raise ConfigError(
                f"function timeout must be > 0 and <= 900 s: {self.function_timeout_s}"
            )
        if self.on_failure is not None:
            check_destination(self.on_failure)

    def _check_position(self) -> None:
        if self.starting_position not in STARTING_POSITIONS:
            raise ConfigError(
                f"StartingPosition must be one of {', '.join(STARTING_POSITIONS)}, "
                f"got {self.starting_position!r}"
            )
        at_timestamp = self.starting_position == "AT_TIMESTAMP"
        if at_timestamp != (self.starting_position_timestamp_ms is not None):
            raise ConfigError(
                "StartingPositionTimestamp is required with AT_TIMESTAMP and only valid with it"
            )

    def _check_record_age(self) -> None:
        age = self.maximum_record_age_s
        if age != -1:
            _whole_in("MaximumRecordAgeInSeconds (or -1)", age, MIN_RECORD_AGE_S, MAX_RECORD_AGE_S)

    def _check_parallelization(self) -> None:
        factor = self.parallelization_factor
        _whole_in("ParallelizationFactor", factor, 1, MAX_PARALLELIZATION)
        if factor > 1 and self.window_seconds:
            raise ConfigError(
                f"ParallelizationFactor {factor} cannot be used with tumbling windows: window "
                "state is kept per shard (at most 1 MB per shard), so batches of one shard "
                "cannot run concurrently; use ParallelizationFactor 1, or turn windows off "
                "(--window-seconds 0)"
            )

    @property
    def windowed(self) -> bool:
        """True when tumbling windows are on."""
        return self.window_seconds > 0


def check_destination(url: str) -> str:
    """Return ``url`` if it names an on-failure destination this runner can write to."""
    scheme = next((s for s in DESTINATION_SCHEMES if url.startswith(s)), None)
    if scheme is None or not url[len(scheme) :].strip():
        raise ConfigError(
            f"on-failure destination must be file://PATH or sqs://QUEUE_URL_OR_NAME, got {url!r}"
        )
    return url


def _whole_in(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number in {low}..{high}, got {value!r}")
