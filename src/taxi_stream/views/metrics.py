"""Prometheus metrics of the local runner and producer: a collector, its registry, a server.

The collector reads, at each scrape, what the processes already keep: the runner's public
shard snapshots (``EventSourceMapping.snapshot()``), the tally of our handler's invocations
(``app/tally.py``) and the producer's counts. ``registry()`` holds it; ``asgi_app()`` serves
that registry from an ASGI server (the web dashboard mounts it at ``/metrics``), and
``MetricsServer`` serves it on its own, bound to 127.0.0.1 unless told otherwise. The metrics
are listed with their meanings in docs/local-runner.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from taxi_stream.app.tally import HandlerTally
from taxi_stream.core.errors import ConfigError
from taxi_stream.runner.cursor import ShardSnapshot

log = logging.getLogger(__name__)

PREFIX: Final = "taxi_stream_"
DEFAULT_HOST: Final = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ProducedCounts:
    """What a producer put into the stream so far: trips (entries) and stream records."""

    trips: int
    records: int


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the collector reads; a process gives the parts it has (None: it has none)."""

    shards: Callable[[], Sequence[ShardSnapshot]] | None = None
    handler: HandlerTally | None = None
    produced: Callable[[], ProducedCounts] | None = None
    now_ms: Callable[[], int] | None = None  # for the window lag; needed with ``handler``


class PipelineCollector(Collector):
    """The pipeline's metrics, read afresh from its sources at each scrape."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def collect(self) -> Iterable[Metric]:
        """Every family of the sources given: producer, per shard, then our handler's."""
        sources = self._sources
        if sources.produced is not None:
            yield from _produced(sources.produced())
        if sources.shards is not None:
            yield from _shards(sources.shards())
        if sources.handler is not None:
            yield from _handler(sources.handler, sources.now_ms)


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, labels=labels)


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=labels)


def _produced(counts: ProducedCounts) -> Iterable[Metric]:
    trips = _counter("produced_trips", "Trips (input entries) the stream accepted.")
    trips.add_metric([], counts.trips)
    records = _counter("produced_records", "Stream records put (fewer with KPL aggregation).")
    records.add_metric([], counts.records)
    return [trips, records]


SHARD_COUNTERS: Final = (  # ShardStats attribute (and metric name), meaning
    ("records", "Records the function processed (not those it failed)."),
    ("invocations", "Invocations of the function, retries included."),
    ("function_errors", "Invocations that raised, timed out or answered badly."),
    ("retries", "Failed attempts (function or service) tried again after a backoff."),
    ("discarded_records", "Records discarded: retries spent or too old."),
)


def _shards(shards: Sequence[ShardSnapshot]) -> Iterable[Metric]:
    labels = ["shard"]
    families: list[tuple[str, CounterMetricFamily]] = [
        (attr, _counter(attr, doc, labels)) for attr, doc in SHARD_COUNTERS
    ]
    age = _gauge(
        "iterator_age_seconds",
        "Age of the last record of the last batch processed, when it was processed.",
        labels,
    )
    stuck = _gauge(
        "shard_stuck", "1 while a failing window-closing invoke suspends the shard.", labels
    )
    for shard in shards:
        for attr, family in families:
            family.add_metric([shard.shard_id], getattr(shard.stats, attr))
        age.add_metric([shard.shard_id], max(shard.stats.iterator_age_ms, 0) / 1000)
        stuck.add_metric([shard.shard_id], int(shard.stuck))
    return [*(family for _, family in families), age, stuck]


def _handler(tally: HandlerTally, now_ms: Callable[[], int] | None) -> Iterable[Metric]:
    counts = tally.counts()
    trips = _counter("trips", "Trips our handler folded into window totals.")
    trips.add_metric([], counts.trips)
    dead = _counter(
        "dead_letters", "Records (or KPL members) dead-lettered, by reason.", ["reason"]
    )
    for reason, n in sorted(counts.dead_letters.items()):
        dead.add_metric([reason], n)
    late = _counter("late_trips", "Trips that came after their window's watermark (event time).")
    late.add_metric([], counts.late_trips)
    written = _counter("contributions_written", "Window contributions the store applied anew.")
    written.add_metric([], counts.contributions_written)
    families: list[Metric] = [trips, dead, late, written]
    if counts.newest_window_end_ms is not None and now_ms is not None:
        lag = _gauge("window_lag_seconds", "Now minus the end of the newest window written.")
        lag.add_metric([], (now_ms() - counts.newest_window_end_ms) / 1000)
        families.append(lag)
    return families


def registry(sources: Sources) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding the pipeline's collector."""
    held = CollectorRegistry(auto_describe=False)
    held.register(PipelineCollector(sources))
    return held


def asgi_app(held: CollectorRegistry) -> Any:
    """An ASGI app serving ``held`` in the Prometheus text format (to mount at /metrics)."""
    return make_asgi_app(held)


class MetricsServer:
    """The registry over HTTP on ``host:port`` (port 0: a free one), in a daemon thread.

    A context manager: leaving it stops the server and closes its socket.
    """

    def __init__(self, held: CollectorRegistry, *, port: int, host: str = DEFAULT_HOST) -> None:
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=held)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {why}") from None
        self.host = host
        self.port = int(self._server.server_port)

    @property
    def url(self) -> str:
        """Where to scrape it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
