"""One consumer per data dir: a second is refused clearly, a killed one frees the dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taxi_stream.app.process import consumer_lock
from taxi_stream.core.errors import ConfigError

HOLD = (
    "import pathlib, sys, time; from taxi_stream.app.process import consumer_lock; "
    "fd = consumer_lock(pathlib.Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
)


def test_a_second_consumer_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    """While one process consumes a data dir, another gets one clear error naming it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"pid {holder.pid}"):
            consumer_lock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    os.close(consumer_lock(tmp_path))  # a killed holder leaves the data dir free
