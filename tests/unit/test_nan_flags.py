"""Every flag that takes a number of seconds, a rate or a share refuses nan: a usage error.

click's FloatRange compares nan false with both bounds, so ``--rate nan`` passed its range and
failed later with exit status 1; each of these flags is now checked as it is parsed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli import main

USAGE = 2  # click's exit status for a usage error


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--rate", "nan"],
        ["run", "--duration", "nan"],
        ["run", "--malformed", "nan"],
        ["generate", "--trips", "10", "--malformed", "nan"],
        ["replay", "--speedup", "nan", "{file}"],
        ["aws", "local", "--malformed", "nan"],
        ["dashboard", "--refresh-seconds", "nan"],
    ],
    ids=lambda argv: "-".join(word for word in argv if word.startswith("--")),
)
def test_nan_is_a_usage_error_naming_the_flag(tmp_path: Path, argv: list[str]) -> None:
    """nan is no number for any of them: exit 2, the flag named, nothing run or written."""
    trips = tmp_path / "trips.jsonl"
    trips.write_text('{"vendorId": 1}\n')
    data = tmp_path / "data"
    words = [str(trips) if word == "{file}" else word for word in argv]
    with_dir = [*words, "--data-dir", str(data)] if argv[0] not in ("generate",) else words
    result = CliRunner().invoke(main, with_dir)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == USAGE, result.output
    flag = next(word for word in argv if word.startswith("--") and word != "--trips")
    assert f"'{flag}'" in result.output, result.output
    assert "not a number" in result.output, result.output
    assert not data.exists()
