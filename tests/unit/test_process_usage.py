"""`process` flags that cannot be used are usage errors: one `Error:` line, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli.process import process

USAGE = 2  # click's exit status for a usage error


def run(tmp_path: Path, *flags: str) -> tuple[int, str]:
    """Run `process --data-dir TMP --until-idle FLAGS`; its exit status and output."""
    argv = ["--data-dir", str(tmp_path / "data"), "--until-idle", *flags]
    result = CliRunner().invoke(process, argv)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("no_such_handler_module:fn", "'no_such_handler_module'"),
        ("tests.support.poison:no_such_function", "'no_such_function'"),
        ("tests.support.poison:base64", "'base64'"),
    ],
    ids=["no-module", "no-function", "not-callable"],
)
def test_a_handler_that_is_not_there_is_a_usage_error_naming_it(
    tmp_path: Path, spec: str, named: str
) -> None:
    """--handler names a module that is not there, or a function its module lacks: exit 2,
    the flag and the missing name in the error, nothing written."""
    code, output = run(tmp_path, "--handler", spec)
    assert code == USAGE, output
    assert "Invalid value for '--handler'" in output
    assert named in output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("flag", ["--function-timeout", "--idle-window-close", "--give-up-after"])
@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
def test_nan_seconds_are_a_usage_error(tmp_path: Path, flag: str, value: str) -> None:
    """nan is no number of seconds: exit 2 as for any value out of the flag's range."""
    code, output = run(tmp_path, flag, value)
    assert code == USAGE, output
    assert f"Invalid value for '{flag}'" in output
    assert "is not a number" in output


def test_infinite_seconds_of_timeout_are_a_usage_error_as_before(tmp_path: Path) -> None:
    """inf is out of --function-timeout's range (at most 900 s)."""
    code, output = run(tmp_path, "--function-timeout", "inf")
    assert code == USAGE, output
    assert "Invalid value for '--function-timeout'" in output
