"""Every module of the package stays within STYLE's 400 lines (a larger one is split by role)."""

from __future__ import annotations

from pathlib import Path

import taxi_stream

MAX_LINES = 400
PACKAGE = Path(taxi_stream.__file__).parent


def test_no_module_of_the_package_is_over_400_lines() -> None:
    """Counted as ``wc -l`` counts: newline characters."""
    sizes = {path: path.read_bytes().count(b"\n") for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50  # the package itself, not an empty folder
    over = {str(path.relative_to(PACKAGE)): n for path, n in sizes.items() if n > MAX_LINES}
    assert over == {}
