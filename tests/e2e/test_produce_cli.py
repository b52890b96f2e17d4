"""produce: lines go in byte for byte, oversize lines end as dead letters, dead letters replay
exactly, an interrupted produce resumes where it stopped, and generate's seed is reproducible."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S, Cli

from taxi_stream.streams.local import LocalStream

MIB = 1024 * 1024


def stream_data(data_dir: Path) -> list[bytes]:
    """Every record's data in the embedded stream of ``data_dir``, read back shard by shard."""
    stream = LocalStream(data_dir / "stream.db")
    out: list[bytes] = []
    for shard in stream.list_shards():
        after = None
        while records := stream.read(shard.shard_id, after, 1_000).records:
            out.extend(record.data for record in records)
            after = records[-1].sequence_number
    stream.close()
    return out


def trip(number: int) -> bytes:
    """A clean wire trip whose id names its number."""
    record = {
        "id": f"t{number}",
        "vendorId": 1 + number % 2,
        "pickupDate": "2024-11-25T08:00:00+00:00",
        "passengerCount": 1,
        "gcDistance": 1.5,
        "tripDuration": 600,
    }
    return json.dumps(record).encode()


def test_blank_lines_are_counted_and_an_oversized_line_is_kept(cli: Cli, tmp_path: Path) -> None:
    """Blank lines (a lone \\r too) are reported skipped; a line over 1 MiB is sent as a marker."""
    lines = [b'{"vendorId": 1}', b"", b"   ", b"\r", b"x" * 1_100_000, b"not json"]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    done = cli("produce", "--data-dir", tmp_path / "data", "--from", source)
    assert "sent 3 records, failed 0, skipped 3 blank lines" in done.stderr
    assert "line 5: 1,100,000 bytes, over the 1 MiB (1,048,576-byte) record limit" in done.stderr
    sent = stream_data(tmp_path / "data")
    markers = [json.loads(d) for d in sent if d.startswith(b'{"taxiStreamOversize"')]
    assert Counter(d for d in sent if not d.startswith(b'{"taxiStreamOversize"')) == Counter(
        [lines[0], lines[5]]
    )
    assert [m["taxiStreamOversize"]["line"] for m in markers] == [5]


def test_crlf_lines_keep_their_carriage_return_and_still_count(cli: Cli, tmp_path: Path) -> None:
    """A CRLF file's records keep their \\r (only the \\n goes), and the consumer counts them."""
    trips = [trip(n) for n in range(6)]
    source = tmp_path / "crlf.jsonl"
    source.write_bytes(b"".join(t + b"\r\n" for t in trips[:5]) + trips[5])  # no final newline
    data = tmp_path / "data"
    cli("produce", "--data-dir", data, "--from", source)
    assert Counter(stream_data(data)) == Counter([t + b"\r" for t in trips[:5]] + [trips[5]])
    cli("process", "--data-dir", data, "--until-idle")
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    assert sum(w["tripCount"] for w in windows) == 6
    assert (
        json.loads(cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout)
        == []
    )


def test_an_oversize_line_ends_as_a_too_large_dead_letter_with_its_head(
    cli: Cli, tmp_path: Path
) -> None:
    """A 1.5 MiB line among good ones: dead-lettered too_large, by line, with its first bytes."""
    noise = bytes(b for b in range(256) if b != ord("\n"))  # not UTF-8, and one line
    big = b'{"vendorId": 1, "pad": "' + noise * (6 * 1040) + b'"}'
    assert len(big) > 1.5 * MIB
    good = [trip(n) for n in range(4)]
    source = tmp_path / "trips.jsonl"
    source.write_bytes(b"\n".join([*good[:2], big, *good[2:]]) + b"\n")
    data = tmp_path / "data"
    cli("produce", "--data-dir", data, "--from", source)
    cli("process", "--data-dir", data, "--until-idle")
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    assert sum(w["tripCount"] for w in windows) == 4
    assert [letter["reason"] for letter in letters] == ["too_large"]
    message = letters[0]["message"]
    assert message.startswith(f"line 3 of {source} is {len(big):,} bytes, over the 1 MiB")
    assert "first 4,096 bytes are kept" in message
    assert base64.b64decode(letters[0]["rawBase64"]) == big[:4096]


def test_dead_letters_replay_byte_exactly(cli: Cli, tmp_path: Path) -> None:
    """Non-UTF-8 bytes, embedded \\n and \\r\\n: query's export, replayed, is the same bytes."""
    poison = [
        b'{"vendorId": 1,\n "pickupDate": "\xff\xfe"}',
        b"not json\r\nat all\n",
        b"\x80\x81\n\r\n\x00",
        b'{"vendorId": 2,\r\n"pickupDate": "yesterday", "gcDistance": 1, "tripDuration": 5}',
        b"   ",
    ]
    first, second = tmp_path / "first", tmp_path / "second"
    stream = LocalStream(first / "stream.db", 2)
    assert stream.put_records([(str(i), raw) for i, raw in enumerate(poison)]).sent == 5
    stream.close()
    cli("process", "--data-dir", first, "--until-idle")
    export = tmp_path / "dead.json"
    out = cli("query", "--data-dir", first, "--dead-letters", "--format", "json").stdout
    export.write_text(out)
    assert len(json.loads(out)) == 5
    done = cli("produce", "--data-dir", second, "--from-dead-letters", export)
    assert "sent 5 records, failed 0" in done.stderr
    assert Counter(stream_data(second)) == Counter(poison)


def test_a_malformed_dead_letter_file_is_named_by_its_entry(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A bad entry stops the replay before anything is sent, with the entry and index named."""
    export = tmp_path / "dead.json"
    good = base64.b64encode(b"fine").decode()
    export.write_text(json.dumps([{"rawBase64": good}, {"rawBase64": good}, {"raw": "x"}]))
    argv = [taxi_stream_exe, "produce", "--data-dir", tmp_path / "d", "--from-dead-letters", export]
    done = subprocess.run(
        argv,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1
    assert f"{export}: entry 3 (index 2) has no rawBase64 string" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d" / "stream.db").exists() or stream_data(tmp_path / "d") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_produce_resumes_with_skip_lines(
    taxi_stream_exe: Path, cli_env: dict[str, str], cli: Cli, tmp_path: Path, signum: int
) -> None:
    """SIGTERM or Ctrl-C mid-input stops after the batch in flight; --skip-lines N sends the
    rest; the stream ends with every line exactly once."""
    lines = [trip(n) for n in range(1_000)]
    lines[600] = b""  # a blank line, handled by being skipped
    text = b"".join(line + b"\n" for line in lines)
    data = tmp_path / "data"
    argv = [str(taxi_stream_exe), "produce", "--data-dir", str(data), "--from", "-"]
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=cli_env, stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"".join(line + b"\n" for line in lines[:700]))
        process.stdin.flush()
        _wait_for_records(data, 500, process)  # the first batch is in; the pipe stays open
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        process.kill()
    report = stderr.decode()
    assert process.returncode == 130, report
    resume = int(report.rsplit("resume with --skip-lines ", 1)[1].split()[0])
    assert 500 <= resume <= 700
    first = stream_data(data)
    assert Counter(first) == Counter(line for line in lines[:resume] if line)

    source = tmp_path / "all.jsonl"
    source.write_bytes(text)
    done = cli("produce", "--data-dir", data, "--from", source, "--skip-lines", str(resume))
    assert f"sent {len([x for x in lines[resume:] if x]):,} records" in done.stderr
    assert Counter(stream_data(data)) == Counter(line for line in lines if line)


def _wait_for_records(data: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Wait (bounded) until the embedded stream holds ``count`` records."""
    deadline = time.monotonic() + CLI_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if (data / "stream.db").exists():
            stream = LocalStream(data / "stream.db")
            appended = stream.appended()
            stream.close()
            if appended >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the stream never held {count} records (exit {process.poll()})")


def test_skip_lines_keeps_the_input_line_numbers(cli: Cli, tmp_path: Path) -> None:
    """Lines skipped by --skip-lines are not sent; a failure still names its line in the file."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(trip(n) + b"\n" for n in range(5)))
    data = tmp_path / "data"
    done = cli("produce", "--data-dir", data, "--from", source, "--skip-lines", "3")
    assert "sent 2 records, failed 0" in done.stderr
    assert Counter(stream_data(data)) == Counter([trip(3), trip(4)])


def test_generate_with_a_seed_and_no_start_is_reproducible(cli: Cli, tmp_path: Path) -> None:
    """Two runs with the same seed and no --start write the same bytes, from 2024-11-01."""
    runs = [tmp_path / "first.jsonl", tmp_path / "second.jsonl"]
    for out in runs:
        cli("generate", "--trips", "300", "--seed", "9", "--malformed", "0.05", "--out", out)
    first, second = (out.read_bytes() for out in runs)
    assert first == second
    assert json.loads(first.splitlines()[0])["pickupDate"].startswith("2024-11-01T00:00:00")
