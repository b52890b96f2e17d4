"""End-to-end fixtures: the installed ``taxi-stream`` command, run in a clean environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CLI_TIMEOUT_S = 120  # bound on any one command; a hang fails the test instead of the suite

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def taxi_stream_exe() -> Path:
    """The console script, as installed next to this interpreter (else the one on PATH)."""
    beside = Path(sys.executable).with_name("taxi-stream")
    if beside.exists():
        return beside
    found = shutil.which("taxi-stream")
    assert found, "the taxi-stream console script is not installed"
    return Path(found)


def clean_env() -> dict[str, str]:
    """The caller's environment without taxi-stream settings, terminal size or forced colour.

    Warnings are errors in the commands too, as in the test process.
    """
    drop = {"COLUMNS", "LINES", "FORCE_COLOR", "AWS_ENDPOINT_URL", "WINDOW_CLOCK", "EVENT_TIME",
            "MAX_OUT_OF_ORDERNESS_SECONDS", "ALLOWED_LATENESS_SECONDS", "LATE_TRIPS"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TAXI_")}
    env["PYTHONWARNINGS"] = "error"
    return env


@pytest.fixture
def cli_env() -> dict[str, str]:
    """The clean environment of ``clean_env``, for one test."""
    return clean_env()


@pytest.fixture(scope="session")
def session_cli_env() -> dict[str, str]:
    """The clean environment of ``clean_env``, for fixtures that outlive one test."""
    return clean_env()


@pytest.fixture
def cli(taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """Run ``taxi-stream ARGS...`` to completion in tmp_path; fail with its stderr if it fails."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        argv = [str(taxi_stream_exe), *map(str, args)]
        done = subprocess.run(
            argv,
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, (
            f"{' '.join(argv[1:])} exited {done.returncode}:\n{done.stderr}"
        )
        return done

    return run
