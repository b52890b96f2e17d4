"""Every bench/bench_*.py module is a row source `make bench` can call: ``run(repeats)``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(BENCH.glob("bench_*.py"))


def test_the_bench_directory_has_row_modules() -> None:
    """bench/run.py finds its modules by the bench_*.py names: there are some."""
    assert {"bench_handler.py", "bench_peer.py"} <= {path.name for path in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_a_bench_module_defines_run_of_repeats(path: Path) -> None:
    """The module defines ``run`` taking ``repeats`` alone, as bench/run.py calls it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
    assert len(runs) == 1, f"{path.name} has no top-level run()"
    arguments = runs[0].args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
    required = len(names) - len(arguments.defaults)
    assert names[:1] == ["repeats"]
    assert required <= 1
    assert all(default is not None for default in arguments.kw_defaults)
