"""`taxi-stream dashboard` and `run --dashboard`: where they listen, what they serve, their end."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.support.dashboard import serving

from taxi_stream.stores.sqlite import SQLiteStore

LISTEN = "0A"  # the TCP state /proc/net/tcp calls LISTEN
CLI_TIMEOUT_S = 120


def listening_addresses(port: int) -> list[str]:
    """The local addresses with a socket listening on ``port``, as /proc/net/tcp{,6} lists them
    (IPv4 as four little-endian bytes in hex: 127.0.0.1 is 0100007F, every address 00000000)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == LISTEN and int(hex_port, 16) == port:
                found.append(address)
    return found


def empty_store(data: Path) -> Path:
    """A data dir holding an empty store."""
    SQLiteStore(data / "store.db").close()
    return data


def test_the_dashboard_listens_on_127_0_0_1_only_by_default(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Without --host the one listening socket is 127.0.0.1's; SIGTERM ends it with status 0."""
    data = empty_store(tmp_path / "data")
    argv = [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert listening_addresses(served.port) == ["0100007F"]
        assert httpx.get(f"{served.url}api/health", timeout=10).json()["counted"] == 0
    assert served.returncode == 0, served.lines


def test_the_dashboard_prints_its_url_on_stderr_and_nothing_on_stdout(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """dashboard's URL line is a status line, on stderr as run's is: its stdout stays empty."""
    data = empty_store(tmp_path / "data")
    argv = [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env, url_on="stderr") as served:
        assert httpx.get(f"{served.url}api/health", timeout=10).status_code == 200
    assert served.returncode == 0, served.lines
    assert served.stdout == []
    assert any(line.startswith(f"dashboard: {served.url}") for line in served.lines)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_dashboard_stops_on_a_signal_when_started_with_sigint_ignored(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, stop: signal.Signals
) -> None:
    """Started as a shell script's background job (SIGINT ignored), SIGINT and SIGTERM stop the
    dashboard all the same: status 0, its socket closed."""
    data = empty_store(tmp_path / "data")
    ignoring = ["sh", "-c", 'trap "" INT; exec "$0" "$@"']  # what `&` in a script does
    argv = [*ignoring, taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env) as served:
        assert listening_addresses(served.port) == ["0100007F"]
        served.process.send_signal(stop)
        try:
            served.process.wait(timeout=CLI_TIMEOUT_S / 4)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the dashboard ignored {stop.name}")
        assert listening_addresses(served.port) == []
    assert served.returncode == 0, served.lines


def test_run_serves_the_dashboard_beside_the_pipeline_until_it_ends(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """run --dashboard serves the runner's shards and its /metrics on 127.0.0.1, until it ends."""
    argv = [taxi_stream_exe, "run", "--data-dir", tmp_path / "data", "--duration", "4"]
    argv += ["--rate", "300", "--window-seconds", "1", "--quiet", "--dashboard"]
    argv += ["--dashboard-port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env, url_on="stderr") as served:
        assert listening_addresses(served.port) == ["0100007F"]
        with httpx.Client(base_url=served.url, timeout=10) as http:
            health = http.get("/api/health").json()
            while not health["shards"] and served.process.poll() is None:
                health = http.get("/api/health").json()  # until the runner's first tick
        assert health["source"] == "pipeline"
        assert [shard["shard"] for shard in health["shards"]] == [f"shard-000{n}" for n in range(4)]
        assert {"iteratorAge", "retries", "lastError"} <= set(health["shards"][0])
        scraped = httpx.get(f"{served.url}metrics", timeout=10)
        families = {f.name for f in text_string_to_metric_families(scraped.text)}
        assert {"taxi_stream_invocations", "taxi_stream_iterator_age_seconds"} <= families
        served.process.wait(timeout=CLI_TIMEOUT_S)
        assert listening_addresses(served.port) == []
    assert served.returncode == 0, served.lines
    assert any("(balanced)" in line for line in served.lines)


def test_a_data_dir_without_a_store_is_one_line(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A wrong --data-dir is refused before anything is served: one line, status 1."""
    done = subprocess.run(
        [taxi_stream_exe, "dashboard", "--data-dir", tmp_path / "typo", "--port", "0"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: no store in {tmp_path / 'typo'} (is --data-dir right?)"
    ]
    assert not (tmp_path / "typo").exists()


def test_a_port_in_use_is_one_line(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A port another program holds is refused in one line naming the address, status 1."""
    data = empty_store(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", str(port)],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot serve the dashboard on 127.0.0.1:{port}: Address already in use"
    ]


SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"


@pytest.mark.parametrize("command", ["run", "replay"])
def test_a_dashboard_port_in_use_creates_nothing(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, command: str
) -> None:
    """run/replay --dashboard on a port in use exit 1 in one line before any stream or store."""
    data = tmp_path / "data"
    what = ["run", "--trips", "10"] if command == "run" else ["replay", str(SAMPLE)]
    what += ["--data-dir", str(data), "--dashboard", "--quiet"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [taxi_stream_exe, *what, "--dashboard-port", str(port)],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot serve the dashboard on 127.0.0.1:{port}: Address already in use"
    ]
    assert not data.exists() or sorted(p.name for p in data.iterdir()) == []


TOTALS = ("vendorId", "windowStart", "tripCount", "totalDistanceMiles", "totalAmount", "final")


def totals(windows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """Each window's key and totals, in the order of the rows."""
    return [tuple(w[key] for key in TOTALS) for w in windows]


def trips_in(windows: list[dict[str, object]]) -> int:
    """The trips counted over the windows."""
    return sum(int(str(w["tripCount"])) for w in windows)


def query_json(exe: Path, data: Path, env: dict[str, str]) -> list[dict[str, object]]:
    """``taxi-stream query --format json`` of ``data``."""
    done = subprocess.run(
        [exe, "query", "--data-dir", data, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=True,
    )
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def test_replay_serves_the_dashboard_beside_its_processing(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """replay --dashboard serves the runner's shards and the windows query reads, while it runs.

    The file: the sample's first 1,000 rows (their pickups within 988 s of the first), then its
    last row, 5,010 s after the first: at --speedup 400 the replay waits about 10 s for it, and
    the page and query are read in that pause, once the 1 s arrival windows of the first 1,000
    closed.
    """
    lines = SAMPLE.read_text().splitlines()
    path = tmp_path / "paced.csv"
    path.write_text("\n".join([*lines[:1001], lines[-1]]) + "\n")
    data = tmp_path / "data"
    argv = [taxi_stream_exe, "replay", path, "--data-dir", data, "--speedup", "400"]
    argv += ["--clock", "arrival", "--window-seconds", "1", "--quiet"]
    argv += ["--dashboard", "--dashboard-port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env, url_on="stderr") as served:
        assert listening_addresses(served.port) == ["0100007F"]
        with httpx.Client(base_url=served.url, timeout=10) as http:
            health = http.get("/api/health").json()
            while not health["shards"] and served.process.poll() is None:
                health = http.get("/api/health").json()  # until the runner's first tick
            assert health["source"] == "pipeline"
            assert [s["shard"] for s in health["shards"]] == [f"shard-000{n}" for n in range(4)]
            served_windows = http.get("/api/windows").json()["windows"]
            while trips_in(served_windows) < 1000 and served.process.poll() is None:
                served_windows = http.get("/api/windows").json()["windows"]
        paused = query_json(taxi_stream_exe, data, cli_env)
        assert trips_in(served_windows) == 1000
        assert totals(served_windows) == totals(paused)
        served.process.wait(timeout=CLI_TIMEOUT_S)
        assert listening_addresses(served.port) == []
    assert served.returncode == 0, served.lines
    assert any("rows read 1,001 = 1,001 trips in windows" in line for line in served.lines)
    assert trips_in(query_json(taxi_stream_exe, data, cli_env)) == 1001


def test_replay_refuses_the_dashboard_with_produce_only(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """--dashboard with --produce-only (nothing processed to show) is one line, status 1."""
    done = subprocess.run(
        [taxi_stream_exe, "replay", SAMPLE, "--data-dir", tmp_path / "data", "--produce-only",
         "--dashboard", "--dashboard-port", "0"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: --dashboard shows the processing, and --produce-only processes nothing: drop one"
    ]
    assert not (tmp_path / "data").exists()
