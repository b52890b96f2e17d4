"""A data dir that cannot be written is named in the one error line, with the reason."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S

FULL_DEVICE = Path("/dev/full")  # the kernel's device whose every write is "no space left"


def _run(exe: Path, env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *map(str, args)], env=env, capture_output=True, text=True,
        timeout=CLI_TIMEOUT_S, check=False,
    )  # fmt: skip


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory this user cannot create files in: mode 0555, or /sys for root (whom file
    modes do not stop; sysfs takes no new files from anyone)."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_produce_into_a_dir_it_cannot_write_names_the_dir(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, unwritable: Path
) -> None:
    """Not SQLite's bare 'unable to open database file': the dir, and that it is not writable."""
    source = tmp_path / "one.jsonl"
    source.write_text('{"id":"t1","vendorId":1}\n')

    done = _run(taxi_stream_exe, cli_env, "produce", "--data-dir", unwritable, "--from", source)

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Error: cannot open {unwritable / 'stream.db'}: ")
    assert f"(the directory {unwritable} is not writable: " in line
    assert not (unwritable / "stream.db").exists()


@pytest.mark.skipif(not FULL_DEVICE.exists(), reason="no /dev/full on this system")
def test_process_on_a_full_disk_names_the_file_it_was_writing(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The consumer lock's pid cannot be written (its file is /dev/full): the line names the
    lock file, not only '[Errno 28] No space left on device'."""
    data_dir = tmp_path / "data"
    source = tmp_path / "one.jsonl"
    source.write_text('{"id":"t1","vendorId":1}\n')
    sent = _run(taxi_stream_exe, cli_env, "produce", "--data-dir", data_dir, "--from", source)
    assert sent.returncode == 0, sent.stderr
    (data_dir / "consumer.lock").symlink_to(FULL_DEVICE)

    done = _run(taxi_stream_exe, cli_env, "process", "--data-dir", data_dir, "--until-idle")

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "No space left on device" in line
    assert f"'{data_dir / 'consumer.lock'}'" in line
