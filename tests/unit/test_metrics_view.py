"""The Prometheus collector: names by the conventions, values read from the sources at scrape."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from taxi_stream.app.tally import HandlerTally
from taxi_stream.function.stats import InvocationStats
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.cursor import ShardSnapshot, ShardStats
from taxi_stream.views.metrics import ProducedCounts, Sources, asgi_app, registry


def snapshot(shard_id: str, **stats: int) -> ShardSnapshot:
    """A shard snapshot with the given statistics."""
    return ShardSnapshot(shard_id, Checkpoint(), ShardStats(**stats), ready=True, reading=False,
                         busy=False, stuck=False, consecutive_failures=0, retries=None,
                         retry_at_ms=0)  # fmt: skip


def parsed(sources: Sources) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> labels -> value, as Prometheus's own parser reads the exposition."""
    text = generate_latest(registry(sources)).decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_every_name_has_the_prefix_and_counters_end_in_total() -> None:
    """taxi_stream_ prefix everywhere; counters _total; the two gauges carry their unit."""
    tally = HandlerTally()
    tally.add(InvocationStats(trips=1, newest_window_end_ms=0))
    sources = Sources(
        shards=lambda: [snapshot("s-1")],
        handler=tally,
        produced=lambda: ProducedCounts(1, 1),
        now_ms=lambda: 0,
    )
    names = set(parsed(sources))
    assert all(name.startswith("taxi_stream_") for name in names)
    gauges = {"taxi_stream_iterator_age_seconds", "taxi_stream_window_lag_seconds",
              "taxi_stream_shard_stuck"}  # fmt: skip
    assert gauges <= names
    assert all(name.endswith("_total") for name in names - gauges)


def test_shard_counters_are_the_snapshots_read_at_each_scrape() -> None:
    """Each scrape reads the snapshots anew: per shard records, errors, retries, age in seconds."""
    shards = [snapshot("s-1", records=5, function_errors=1, retries=2, iterator_age_ms=1500)]
    sources = Sources(shards=lambda: shards)
    first = parsed(sources)
    assert first["taxi_stream_records_total"] == {(("shard", "s-1"),): 5}
    assert first["taxi_stream_function_errors_total"] == {(("shard", "s-1"),): 1}
    assert first["taxi_stream_retries_total"] == {(("shard", "s-1"),): 2}
    assert first["taxi_stream_iterator_age_seconds"] == {(("shard", "s-1"),): 1.5}
    shards.append(snapshot("s-2", records=7))
    assert parsed(sources)["taxi_stream_records_total"][(("shard", "s-2"),)] == 7


def test_the_handler_tally_sums_invocations() -> None:
    """Trips, dead letters by reason, late trips and contributions add up over invocations."""
    tally = HandlerTally()
    tally.add(InvocationStats(trips=3, dead_letters=Counter({"not_json": 2}), late_trips=1))
    tally.add(InvocationStats(trips=4, dead_letters=Counter({"not_json": 1, "bad_vendor": 1}),
                              contributions_written=2, newest_window_end_ms=60_000))  # fmt: skip
    got = parsed(Sources(handler=tally, now_ms=lambda: 90_000))
    assert got["taxi_stream_trips_total"] == {(): 7}
    assert got["taxi_stream_dead_letters_total"] == {
        (("reason", "bad_vendor"),): 1,
        (("reason", "not_json"),): 3,
    }
    assert got["taxi_stream_late_trips_total"] == {(): 1}
    assert got["taxi_stream_contributions_written_total"] == {(): 2}
    assert got["taxi_stream_window_lag_seconds"] == {(): 30.0}  # 90 s now - 60 s window end


def test_no_window_lag_before_a_window_is_written() -> None:
    """Before any window is written there is no lag to report, rather than a made-up one."""
    tally = HandlerTally()
    tally.add(InvocationStats(trips=3))
    assert "taxi_stream_window_lag_seconds" not in parsed(Sources(handler=tally, now_ms=lambda: 0))


def test_the_asgi_app_serves_the_registry_for_a_dashboard_to_mount() -> None:
    """The ASGI app answers in the Prometheus text format with the registry's samples."""
    held = registry(Sources(produced=lambda: ProducedCounts(trips=12, records=3)))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi_app(held))
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            return await client.get("/")

    page = asyncio.run(get())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    samples = {s.name: s.value for f in text_string_to_metric_families(page.text)
               for s in f.samples}  # fmt: skip
    assert samples["taxi_stream_produced_trips_total"] == 12
    assert samples["taxi_stream_produced_records_total"] == 3
