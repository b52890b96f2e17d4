"""`/metrics` of running commands, scraped over HTTP: it parses, and its counters add up."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import CLI_TIMEOUT_S, Cli

POLL_S = 0.1  # how often a test scrapes while it waits; no assertion depends on it
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of the page, keyed by (sample name, sorted labels), parsed by prometheus."""
    with urllib.request.urlopen(url, timeout=10) as page:
        text = page.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str) -> float:
    """The sum of a sample over all its labels (shards, reasons)."""
    return sum(value for (n, _), value in samples.items() if n == name)


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """A sample's values keyed by one label's value."""
    return {dict(labels)[label]: v for (n, labels), v in samples.items() if n == name}


def listening_addresses(port: int) -> set[str]:
    """The IPv4 and IPv6 addresses on which a TCP socket listens on ``port`` (from /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@contextmanager
def running(argv: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A command running in the background; killed if the test leaves it running."""
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            yield process
        finally:
            process.kill()


def metrics_url(stderr: IO[str] | None) -> str:
    """The address the command says it serves its metrics at (its first line on stderr)."""
    assert stderr is not None
    line = stderr.readline()
    match = re.fullmatch(r"metrics: (http://127\.0\.0\.1:(\d+)/metrics)\n", line)
    assert match, f"no metrics line: {line!r}"
    return match.group(1)


def port_of(url: str) -> int:
    """The port of a metrics URL."""
    return int(url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])


def query_json(cli: Cli, *args: str) -> list[dict[str, object]]:
    """What ``query --format json`` says of the data dir ``d``."""
    return list(json.loads(cli("query", "--data-dir", "d", "--format", "json", *args).stdout))


def test_process_metrics_equal_the_store_and_its_summary(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Trips, dead letters by reason and records per shard equal what the store holds."""
    produced = 600
    cli("generate", "--trips", str(produced), "--malformed", "0.05", "--seed", "11",
        "--out", "trips.jsonl")  # fmt: skip
    cli("produce", "--data-dir", "d", "--from", "trips.jsonl")
    argv = [str(taxi_stream_exe), "process", "--data-dir", "d", "--window-seconds", "1",
            "--idle-window-close", "0", "--quiet", "--metrics-port", "0"]  # fmt: skip
    with running(argv, tmp_path, cli_env) as process:
        url = metrics_url(process.stderr)
        assert listening_addresses(port_of(url)) == {"0100007F"}  # 127.0.0.1, nothing else
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while True:  # until every record is in a window written, or dead-lettered, and counted
            samples = scrape(url)
            in_windows = sum(int(str(row["tripCount"])) for row in query_json(cli))
            dead = total(samples, "taxi_stream_dead_letters_total")
            counted = samples[("taxi_stream_trips_total", ())]
            records = total(samples, "taxi_stream_records_total")  # the runner's, after each call
            # The store commits a window part before its invocation's tally counts it written.
            written = samples[("taxi_stream_contributions_written_total", ())]
            settled = counted == in_windows and counted + dead == produced
            if settled and records == produced and written >= 1:
                break
            assert process.poll() is None, "process ended by itself"
            assert time.monotonic() < deadline, f"never settled: {samples}"
            time.sleep(POLL_S)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    letters = query_json(cli, "--dead-letters")
    reasons = Counter(str(letter["reason"]) for letter in letters)
    assert by_label(samples, "taxi_stream_dead_letters_total", "reason") == reasons
    assert stderr.splitlines()[-1].startswith("interrupted;")
    assert total(samples, "taxi_stream_records_total") == produced
    assert set(by_label(samples, "taxi_stream_records_total", "shard")) == {
        f"shardId-{i:012d}" for i in range(4)
    }  # the embedded stream's default four shards
    assert total(samples, "taxi_stream_invocations_total") >= 4
    assert total(samples, "taxi_stream_function_errors_total") == 0
    assert samples[("taxi_stream_late_trips_total", ())] == 0  # the arrival clock has none
    assert samples[("taxi_stream_contributions_written_total", ())] >= 1
    assert ("taxi_stream_window_lag_seconds", ()) in samples


def test_produce_metrics_count_the_batches_sent(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """While stdin stays open, the full PutRecords batches (500 each) are counted as sent."""
    cli("generate", "--trips", "1200", "--seed", "5", "--out", "trips.jsonl")
    lines = (tmp_path / "trips.jsonl").read_text()
    argv = [str(taxi_stream_exe), "produce", "--data-dir", "d", "--from", "-",
            "--metrics-port", "0"]  # fmt: skip
    with running(argv, tmp_path, cli_env) as process:
        url = metrics_url(process.stderr)
        assert process.stdin is not None
        process.stdin.write(lines)
        process.stdin.flush()
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while scrape(url)[("taxi_stream_produced_trips_total", ())] < 1000:
            assert time.monotonic() < deadline, "the batches were never counted"
            time.sleep(POLL_S)
        samples = scrape(url)
        _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)  # closes stdin: the last 200 go
    assert samples[("taxi_stream_produced_trips_total", ())] == 2 * 500
    assert samples[("taxi_stream_produced_records_total", ())] == 2 * 500
    assert "sent 1,200 records, failed 0" in stderr
    assert process.returncode == 0


def test_run_serves_metrics_on_loopback_while_it_runs(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`run` serves producer, shard and handler metrics; none exceeds what it produced."""
    argv = [str(taxi_stream_exe), "run", "--data-dir", "d", "--trips", "400", "--rate", "100",
            "--window-seconds", "1", "--quiet", "--metrics-port", "0", "--seed", "2"]  # fmt: skip
    with running(argv, tmp_path, cli_env) as process:
        url = metrics_url(process.stderr)
        assert listening_addresses(port_of(url)) == {"0100007F"}
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while True:  # until the producer has sent something and the handler counted some
            samples = scrape(url)
            if samples[("taxi_stream_trips_total", ())] > 0:
                break
            assert time.monotonic() < deadline, f"nothing counted: {samples}"
            time.sleep(POLL_S)
        process.communicate(timeout=CLI_TIMEOUT_S)
    sent = samples[("taxi_stream_produced_trips_total", ())]
    seen = samples[("taxi_stream_trips_total", ())] + total(
        samples, "taxi_stream_dead_letters_total"
    )
    # The handler's tally moves before the runner's record counter (updated once a call
    # returns), so mid-run each is bounded by what was sent, not one by the other.
    assert 0 < seen <= sent <= 400
    assert total(samples, "taxi_stream_records_total") <= sent
    assert process.returncode == 0


def test_replay_metrics_count_what_it_sent(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A paced replay serves the records it sent so far; stopped, its report says no fewer."""
    sample = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
    argv = [str(taxi_stream_exe), "replay", str(sample), "--data-dir", "d", "--speedup", "60",
            "--quiet", "--metrics-port", "0"]  # fmt: skip
    with running(argv, tmp_path, cli_env) as process:
        url = metrics_url(process.stderr)
        assert listening_addresses(port_of(url)) == {"0100007F"}
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while (seen := scrape(url))[("taxi_stream_produced_trips_total", ())] == 0:
            assert process.poll() is None, "the replay ended before it was scraped"
            assert time.monotonic() < deadline, "nothing was counted as sent"
            time.sleep(POLL_S)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    assert process.returncode == 130
    sent = int(re.findall(r"sent ([\d,]+) records", stderr)[-1].replace(",", ""))
    assert 0 < seen[("taxi_stream_produced_trips_total", ())] <= sent
    assert (
        seen[("taxi_stream_produced_records_total", ())]
        == seen[("taxi_stream_produced_trips_total", ())]
    )


def test_a_metrics_port_in_use_is_one_line_naming_the_address(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`produce --metrics-port P` on a port another program holds: one line naming it, status 1."""
    (tmp_path / "one.jsonl").write_text("{}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                taxi_stream_exe,
                "produce",
                "--data-dir",
                "d",
                "--from",
                "one.jsonl",
                "--metrics-port",
                str(port),
            ],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    ]
