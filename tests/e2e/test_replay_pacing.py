"""The replay command in time: paced to schedule, stopped by Ctrl-C, resumed without repeats."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from taxi_stream.streams.local import LocalStream

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)
DATA = Path(__file__).parents[1] / "data"
SAMPLE = DATA / "yellow_tripdata_2024-11_first10k.csv"
NY = ZoneInfo("America/New_York")
SPEEDUP = 600


def arrivals(data_dir: Path) -> dict[str, int]:
    """Each record's id and its ApproximateArrivalTimestamp (ms), from every shard."""
    stream = LocalStream(data_dir / "stream.db")
    out: dict[str, int] = {}
    for shard in stream.list_shards():
        after = None
        while records := stream.read(shard.shard_id, after, 10_000).records:
            for record in records:
                trip_id = json.loads(record.data)["id"]
                assert trip_id not in out, f"{trip_id} was sent twice"
                out[trip_id] = record.arrival_ms
            after = records[-1].sequence_number
    stream.close()
    return out


def pickup_ms(text: str) -> int:
    """A TLC pickup (naive New York time) as epoch ms, by zoneinfo."""
    moment = datetime.fromisoformat(text).replace(tzinfo=NY)
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def test_each_record_arrives_within_200_ms_of_its_schedule(cli: Cli, tmp_path: Path) -> None:
    """At --speedup 600, row k arrives at t0 + (pickup_k - first pickup) / 600, give or take."""
    with SAMPLE.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = sorted(
            (r for r in reader if r[1] < "2024-11-01 00:30:00" and r[1] >= "2024-11-01"),
            key=lambda r: r[1],
        )  # half an hour of trips in pickup order: every row is on the clock
    path = tmp_path / "half_hour.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    cli("replay", path, "--data-dir", tmp_path / "data", "--speedup", SPEEDUP, "--quiet")
    arrived = arrivals(tmp_path / "data")
    assert len(arrived) == len(rows) > 1_000
    events = [pickup_ms(r[1]) for r in rows]
    t0 = arrived["half_hour.csv:1"]
    late_ms = sorted(
        arrived[f"half_hour.csv:{k}"] - t0 - (event - events[0]) / SPEEDUP
        for k, event in enumerate(events, start=1)
    )
    assert (events[-1] - events[0]) / SPEEDUP > 2_500  # a replay of about three seconds
    assert late_ms[0] >= -20  # never early (the first put's own latency aside)
    assert late_ms[int(len(late_ms) * 0.99)] <= 200
    assert late_ms[-1] <= 1_000  # slack for a loaded machine, still far below a burst


def test_ctrl_c_stops_after_the_batch_and_resume_sends_the_rest(
    taxi_stream_exe: Path, cli_env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """Interrupted while waiting, it exits 130 naming --resume; resumed, each row is sent once."""
    data = tmp_path / "data"
    argv = [str(taxi_stream_exe), "replay", str(SAMPLE), "--data-dir", str(data), "--speedup", "1"]
    with subprocess.Popen(
        argv, env=cli_env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: it is waiting for a row now
        assert "rows read" in first, first
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == 130, rest
    name = SAMPLE.name
    assert f"to go on: --resume {name}:" in rest
    resume = rest.split("--resume ")[-1].split()[0]
    assert "Traceback" not in rest
    before = arrivals(data)
    row = int(resume.rsplit(":", 1)[1])
    assert sorted(before) == sorted(f"{name}:{n}" for n in range(1, row))
    done = cli("replay", SAMPLE, "--data-dir", data, "--resume", resume, "--as-fast-as-possible")
    assert f"from row {row:,}" in done.stderr
    after = arrivals(data)
    assert sorted(after) == sorted(f"{name}:{n}" for n in range(1, 10_001))


def test_a_second_ctrl_c_still_names_the_resume_that_sends_the_rest(
    taxi_stream_exe: Path, cli_env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """Ctrl-C and SIGTERM at once (two signals of one kind would count as one) cut the drain
    short: it says so, still names --resume, and resumed, each row is sent once."""
    data = tmp_path / "data"
    argv = [str(taxi_stream_exe), "replay", str(SAMPLE), "--data-dir", str(data), "--speedup", "1"]
    with subprocess.Popen(
        argv, env=cli_env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: it is waiting for a row now
        assert "rows read" in first, first
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == 130, rest
    assert "Traceback" not in rest
    assert "drain cut short" in rest
    name = SAMPLE.name
    assert f"to go on from {name} row " in rest
    resume = rest.split("--resume ")[-1].split()[0]
    row = int(resume.rsplit(":", 1)[1])
    assert sorted(arrivals(data)) == sorted(f"{name}:{n}" for n in range(1, row))
    cli("process", "--data-dir", data, "--clock", "event", "--until-idle")
    done = cli("replay", SAMPLE, "--data-dir", data, "--resume", resume, "--as-fast-as-possible")
    assert "(balanced)" in done.stderr
    assert sorted(arrivals(data)) == sorted(f"{name}:{n}" for n in range(1, 10_001))
