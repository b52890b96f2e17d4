"""--help says the ranges each command takes and how a time without an offset is read;
commands leave logging as they found it."""

from __future__ import annotations

import logging
import re

from click.testing import CliRunner

from taxi_stream.cli import main


def help_text(*command: str) -> str:
    """``taxi-stream COMMAND --help``, its lines joined so a wrapped phrase reads whole."""
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return re.sub(r"\s+", " ", result.output)


def test_run_offers_the_window_sizes_it_takes() -> None:
    """run's --window-seconds is 1..900 in --help, and 0 is refused there as a usage error."""
    assert "1<=x<=900" in help_text("run")
    refused = CliRunner().invoke(main, ["run", "--window-seconds", "0", "--trips", "1"])
    assert refused.exit_code == 2
    assert "0 is not in the range 1<=x<=900" in refused.output


def test_process_still_takes_windows_off() -> None:
    """process's --window-seconds is 0..900, 0 meaning windows off."""
    text = help_text("process")
    assert "0<=x<=900" in text
    assert "0: windows off" in text


def test_query_says_a_time_without_an_offset_is_utc() -> None:
    """query --since and --until say a time without an offset is read as UTC."""
    text = help_text("query")
    assert text.count("without an offset, UTC") == 2


def test_a_command_leaves_the_package_logging_as_it_found_it() -> None:
    """The stderr warning handler a command installs is gone once the command has ended."""
    package = logging.getLogger("taxi_stream")
    before = list(package.handlers)
    result = CliRunner().invoke(main, ["query", "--data-dir", "nowhere"])
    assert result.exit_code == 1
    assert package.handlers == before
