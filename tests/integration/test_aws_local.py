"""`taxi-stream aws local`: kinesalite and dynalite started, the pipeline run on them, stopped."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import reference_totals

from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.sources.simulator import Simulator, SimulatorConfig

CLI = [sys.executable, "-m", "taxi_stream.cli"]
START = "2024-11-25T08:00:00Z"
VENDOR_LINE = re.compile(
    r"vendor (\S+): ([\d,]+) trips, ([\d,.]+) miles, ([\d,]+) s, ([\d,]+) passengers"
)
PORT = re.compile(r"export AWS_ENDPOINT_URL_(?:KINESIS|DYNAMODB)=http://127\.0\.0\.1:(\d+)")


def _env() -> dict[str, str]:
    """The caller's environment without AWS settings: the command must bring its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _refused(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _expected(trips: int, seed: int, malformed: float, lines: list[bytes]) -> tuple[dict, int]:
    """Reference totals of the clean trips among ``lines``, and how many are malformed, by the
    simulator's own record of the faults it injected."""
    config = SimulatorConfig(seed=seed, start_ms=parse_iso_ms(START), malformed_fraction=malformed)
    faults = Simulator(config).batch(trips).malformed
    clean = [json.loads(line) for i, line in enumerate(lines) if i not in faults]
    return reference_totals(clean), len(faults)


@pytest.mark.aws
def test_the_demo_totals_equal_an_independent_sum_and_the_servers_stop(tmp_path: Path) -> None:
    """aws local ends with per-vendor totals equal to a sum of the trips it produced, every
    malformed record dead-lettered, and both servers stopped."""
    trips, seed, malformed = 3000, 7, 0.01
    args = ["--trips", str(trips), "--seed", str(seed), "--malformed", str(malformed)]
    done = subprocess.run(
        [*CLI, "aws", "local", *args, "--start", START, "--window-seconds", "5", "--no-wait",
         "--data-dir", str(tmp_path / "demo")],
        stdin=subprocess.DEVNULL, capture_output=True, env=_env(), timeout=240, check=False,
    )  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode() + out

    # The command prints how to make the same records; make them and sum them independently.
    generate = next(line for line in out.splitlines() if "taxi-stream generate --trips" in line)
    regenerate = shlex.split(generate.split("taxi-stream ", 1)[1])
    lines = subprocess.run(
        [*CLI, *regenerate], capture_output=True, check=True, env=_env(), timeout=60
    ).stdout.split(b"\n")[:-1]  # fmt: skip
    assert len(lines) == trips
    expected, dead = _expected(trips, seed, malformed, lines)
    assert dead > 0

    stored = {
        m[1]: (_number(m[2]), round(float(m[3].replace(",", "")) * 1000), _number(m[4]),
               _number(m[5]))
        for m in VENDOR_LINE.finditer(out)
    }  # fmt: skip
    assert stored == {vendor: cell[:4] for vendor, cell in expected.items()}  # printed: no money
    counted = sum(cell[0] for cell in expected.values())
    letters = "dead letter" if dead == 1 else "dead letters"
    assert f"produced {trips:,} = {counted:,} in windows + {dead:,} {letters} (balanced)" in out
    assert "stream input-stream: created (2 shard(s))" in out
    assert "table my-dynamodb-table: created" in out
    ports = [int(p) for p in PORT.findall(out)]
    assert len(ports) == 2
    assert all(_refused(port) for port in ports)


@pytest.mark.aws
def test_sigterm_while_the_servers_wait_stops_them(tmp_path: Path) -> None:
    """With --wait the servers stay up after the demo; SIGTERM then stops them and exits 0."""
    with subprocess.Popen(
        [*CLI, "aws", "local", "--trips", "200", "--malformed", "0", "--wait", "--data-dir",
         str(tmp_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        seen: list[str] = []
        try:
            for line in process.stdout:
                seen.append(line)
                if "stay up until Ctrl-C" in line:
                    break
            ports = [int(p) for p in PORT.findall("".join(seen))]
            assert len(ports) == 2, "".join(seen)
            assert not any(_refused(port) for port in ports)  # up while it waits
            process.send_signal(signal.SIGTERM)
            rest, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
    assert "kinesalite and dynalite stopped" in rest
    assert all(_refused(port) for port in ports)


def test_missing_packages_are_one_clear_line(tmp_path: Path) -> None:
    """A node_modules without kinesalite is refused in one line that says how to install it."""
    done = subprocess.run(
        [*CLI, "aws", "local", "--node-modules", str(tmp_path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(), timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: kinesalite is not installed in {tmp_path}: run `npm ci` in the repository"
        " (`make aws-local` installs them)"
    ]


def test_missing_node_is_one_clear_line() -> None:
    """Without node on PATH the command says so in one line, with no traceback."""
    env = {**_env(), "PATH": "/nonexistent"}
    done = subprocess.run(
        [*CLI, "aws", "local"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: node is not on PATH: kinesalite needs Node.js (and npm to install)"
    ]


@pytest.mark.aws
def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    """A fixed port that is taken is refused in one line naming the server and the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "aws", "local", "--kinesis-port", str(port), "--data-dir", str(tmp_path)],
            stdin=subprocess.DEVNULL,
            capture_output=True, text=True, env=_env(), timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: kinesalite did not start (exit code 1): kinesalite cannot")
    assert f"127.0.0.1:{port}" in lines[0]
    assert "EADDRINUSE" in lines[0]


def _run(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> CompletedBytes:
    """Run one taxi-stream command (args without the program name) with ``env``."""
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, env=env, timeout=180, check=False
    )


CompletedBytes = subprocess.CompletedProcess[bytes]


def _printed(out: str, start: str) -> list[list[str]]:
    """The printed example command that starts with ``taxi-stream START``, split at pipes."""
    line = next(text.strip() for text in out.splitlines() if text.strip().startswith(start))
    return [shlex.split(part.strip())[1:] for part in line.split("|")]


def _stored(env: dict[str, str]) -> dict[str, tuple[int, ...]]:
    """Per-vendor sums of the windows in my-dynamodb-table, as `query --format json` shows them
    (counts, distance, duration, passengers, cents of fare, tip and total amount)."""
    done = _run(["query", "--format", "json", "--store", "dynamodb://my-dynamodb-table"], env)
    assert done.returncode == 0, done.stderr.decode()
    cells: dict[str, list[int]] = {}
    for row in json.loads(done.stdout):
        cell = cells.setdefault(row["vendorId"], [0] * 7)
        cell[0] += row["tripCount"]
        cell[1] += round(row["totalDistanceMiles"] * 1000)
        cell[2] += row["totalDurationSeconds"]
        cell[3] += row["passengerCount"]
        cell[4] += row["totalFare"]
        cell[5] += row["totalTip"]
        cell[6] += row["totalAmount"]
    return {vendor: tuple(c) for vendor, c in cells.items()}


@pytest.mark.aws
def test_the_printed_commands_resume_the_demo_and_count_new_trips(tmp_path: Path) -> None:
    """With --wait, the printed exports reach the servers with plain boto3, a data dir other
    than the demo's is refused in one line (its re-read would skip new trips as duplicates),
    and the printed produce and process commands add the new trips to the demo's totals."""
    demo_dir = tmp_path / "demo"
    with subprocess.Popen(
        [*CLI, "aws", "local", "--trips", "100", "--seed", "4", "--malformed", "0", "--start",
         START, "--window-seconds", "900", "--wait", "--data-dir", str(demo_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        seen: list[str] = []
        try:
            for line in process.stdout:
                seen.append(line)
                if "stay up until Ctrl-C" in line:
                    break
            out = "".join(seen)
            exports = dict(re.findall(r"^\s*export (\w+)=(\S+)$", out, re.MULTILINE))
            env = {**_env(), **exports}

            probe = "import boto3; print(boto3.client('kinesis').list_streams()['StreamNames'])"
            listed = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, env=env, timeout=60,
                check=False,
            )  # fmt: skip
            assert listed.stdout.decode().strip() == "['input-stream']", listed.stderr.decode()

            same = next(text for text in out.splitlines() if "the same records:" in text)
            demo_lines = _run(shlex.split(same.split("taxi-stream ", 1)[1]), env).stdout
            demo_lines = demo_lines.splitlines()
            generate, produce = _printed(out, "taxi-stream generate --trips 1000")
            new_lines = _run(generate, env).stdout.splitlines()
            assert len(new_lines) == 1000
            produced = _run(produce, env, stdin=b"\n".join(new_lines) + b"\n")
            assert produced.returncode == 0, produced.stderr.decode()

            [printed] = _printed(out, "taxi-stream process")
            at = printed.index("--data-dir")
            assert printed[at + 1] == str(demo_dir)
            other = [*printed[:at], "--data-dir", str(tmp_path / "other"), *printed[at + 2 :]]
            refused = _run(other, env)
            assert refused.returncode == 1
            [why] = refused.stderr.decode().strip().splitlines()
            assert "input-stream" in why
            assert "my-dynamodb-table" in why
            assert f"--data-dir {demo_dir}" in why

            resumed = _run(printed, env)
            assert resumed.returncode == 0, resumed.stderr.decode()
            trips = [json.loads(line) for line in demo_lines + new_lines]
            assert len(trips) == 1100
            assert _stored(env) == reference_totals(trips)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


@pytest.mark.aws
def test_a_data_dir_holding_other_files_is_refused_and_kept(tmp_path: Path) -> None:
    """aws local empties its data dir, so one holding files no data dir has is refused in one
    line, and those files stay."""
    (tmp_path / "notes.txt").write_text("mine\n")
    done = subprocess.run(
        [*CLI, "aws", "local", "--trips", "10", "--no-wait", "--data-dir", str(tmp_path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(), timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = [text for text in done.stderr.splitlines() if text.startswith("Error:")]
    assert line.startswith(f"Error: --data-dir {tmp_path} holds other files")
    assert "notes.txt" in line
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
