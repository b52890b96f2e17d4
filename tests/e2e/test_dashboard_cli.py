"""`taxi-stream dashboard` and `run --dashboard`: where they listen, what they serve, their end."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
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
